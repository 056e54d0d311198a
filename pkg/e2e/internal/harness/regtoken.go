//go:build e2e

package harness

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// RepoRoot is the directory of this repository's go.mod, four levels above
// this file (pkg/e2e/internal/harness).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", "..", ".."))
}

// Testdata returns the path of a file under the repository's testdata/.
func Testdata(parts ...string) string {
	return filepath.Join(append([]string{RepoRoot(), "testdata"}, parts...)...)
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
	buildOut  []byte
)

// Binary builds cmd/regtoken once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "regtoken-bin")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "regtoken")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/regtoken")
		cmd.Dir = RepoRoot()
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/regtoken: %v\n%s", buildErr, buildOut)
	}
	return buildPath
}

// StartRegtoken runs `regtoken serve -config config` with the binary built
// from this tree until the test ends, and returns once it accepts
// connections on every address in listen, each written as in regtoken's
// configuration: "unix:/path" or "tcp:host:port".
func StartRegtoken(t testing.TB, config string, listen ...string) *Process {
	t.Helper()
	p := Start(t, "regtoken", regtokenServe(t, config))
	waitListening(t, p, listen)
	return p
}

// StartBusyRegtoken is StartRegtoken for load runs, in which regtoken writes
// an audit line for every answer: it keeps only the last 64 KiB of the rest
// of what regtoken prints, instead of all of it in the test's memory.
func StartBusyRegtoken(t testing.TB, config string, listen ...string) *Process {
	t.Helper()
	p := start(t, "regtoken", regtokenServe(t, config), &auditTail{max: 64 << 10})
	waitListening(t, p, listen)
	return p
}

func regtokenServe(t testing.TB, config string) *exec.Cmd {
	t.Helper()
	return exec.Command(Binary(t), "serve", "-config", config)
}

// waitListening waits until p accepts connections on every address of
// listen ("unix:/path" or "tcp:host:port").
func waitListening(t testing.TB, p *Process, listen []string) {
	t.Helper()
	for _, addr := range listen {
		network, address, _ := strings.Cut(addr, ":")
		if network != "unix" && network != "tcp" {
			t.Fatalf("listen address %q: want unix:/path or tcp:host:port", addr)
		}
		p.WaitDial(t, network, address, 20*time.Second)
	}
}

// UnixHTTPClient talks HTTP to the unix socket sock, whatever the URL's
// host, such as regtoken's HTTP listener or its operator socket. It opens a
// connection per request: an idle kept-alive connection would hold a
// goroutine and a file descriptor in regtoken, which the soak test counts.
func UnixHTTPClient(sock string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
		DisableKeepAlives: true,
	}}
}

// KeyPair writes a fresh P-256 key (mode 0600) and a self-signed certificate
// into dir and returns their paths.
func KeyPair(t testing.TB, dir string) (keyPath, certPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "regtoken test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	keyPath, certPath = filepath.Join(dir, "signing.key"), filepath.Join(dir, "signing.crt")
	WriteFile(t, keyPath, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})), 0o600)
	WriteFile(t, certPath, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), 0o644)
	return keyPath, certPath
}

// WriteFile writes a file or fails the test.
func WriteFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// CopyFile copies src to dst or fails the test.
func CopyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	WriteFile(t, dst, string(b), 0o644)
}
