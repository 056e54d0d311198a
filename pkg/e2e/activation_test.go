//go:build e2e

package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// TestSocketActivation runs the real regtoken the way the shipped systemd
// units do, with systemd-socket-activate standing in for PID 1: one socket
// per shipped socket unit, named by its FileDescriptorName= and given its
// group and mode, NOTIFY_SOCKET passed with -E, and deploy/systemd/regtoken.toml
// (which has no [[listen]] table) with only the key path changed. Each
// shipped nginx site then gets a token through its activated socket.
func TestSocketActivation(t *testing.T) {
	t.Parallel()
	activate := harness.Tool(t, "systemd-socket-activate")
	dir := harness.ShortDir(t)
	_, wwwGID := harness.WWWData(t)

	units := harness.SocketUnits(t)
	args := []string{}
	var names []string
	for _, u := range units {
		args = append(args, "-l", activatedPath(dir, u))
		names = append(names, u.Name)
	}
	if len(units) < 4 {
		t.Fatalf("want a socket unit per protocol, found %d", len(units))
	}
	cfg := writeSystemdConfig(t, dir)
	notify := harness.ListenNotify(t, filepath.Join(dir, "notify.sock"))

	args = append(args, "--fdname="+strings.Join(names, ":"), "-E", "NOTIFY_SOCKET",
		harness.Binary(t), "serve", "-config", cfg)
	cmd := exec.Command(activate, args...)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notify.LocalAddr().String())
	p := harness.Start(t, "systemd-socket-activate regtoken", cmd)

	for _, u := range units {
		path := activatedPath(dir, u)
		harness.WaitSocketFile(t, p, path)
		// What SocketGroup= and SocketMode= do; systemd-socket-activate
		// creates the socket 0755 root:root.
		if err := os.Chown(path, -1, wwwGID); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, u.Mode); err != nil {
			t.Fatal(err)
		}
	}

	// systemd-socket-activate starts regtoken on the first connection.
	for i, u := range units {
		base := startActivatedFront(t, dir, u)
		req := newRequest(t, "GET", base+"/v2/token?service=Authentication&scope=repository:some-image:pull,push", nil)
		req.SetBasicAuth("bar", "bar")
		a := fetch(t, req)
		if a.status != 200 {
			t.Fatalf("%s (%s): token request through the activated socket: %d %s", u.Unit, u.Name, a.status, a.body)
		}
		if c := jwtClaims(t, a.body); c.Subject != "bar" || len(c.Access) != 1 || len(c.Access[0].Actions) != 2 {
			t.Errorf("%s: token sub %q access %+v", u.Unit, c.Subject, c.Access)
		}
		if i == 0 {
			harness.ExpectNotify(t, notify, "READY=1")
		}
	}
	for _, u := range units {
		if want := u.Protocol + "=systemd:" + u.Name; !strings.Contains(p.Output(), want) {
			t.Errorf("regtoken's start-up line does not list %s", want)
		}
	}

	p.Cmd.Process.Signal(syscall.SIGTERM)
	harness.ExpectNotify(t, notify, "STOPPING=1")
	if err := p.Wait(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
	for _, u := range units {
		if fi, err := os.Lstat(activatedPath(dir, u)); err != nil || fi.Mode().Type() != fs.ModeSocket {
			t.Errorf("%s: regtoken removed the socket systemd owns: %v", u.Unit, err)
		}
	}
}

// activatedPath is where the test puts a unit's socket: its file name in dir.
func activatedPath(dir string, u harness.SocketUnit) string {
	return filepath.Join(dir, filepath.Base(u.Path))
}

// writeSystemdConfig renders the shipped deploy/systemd/regtoken.toml into
// dir, next to the rule files and certificate it names relative to itself.
// Only the key path changes: under systemd it is LoadCredential='s copy.
func writeSystemdConfig(t *testing.T, dir string) string {
	t.Helper()
	key, cert := harness.KeyPair(t, dir)
	harness.CopyFile(t, cert, filepath.Join(dir, "RootCA.crt"))
	for _, name := range []string{"users.json", "repositories.json"} {
		harness.CopyFile(t, harness.Testdata("demo", name), filepath.Join(dir, name))
	}
	cfg := filepath.Join(dir, "regtoken.toml")
	harness.WriteFile(t, cfg, harness.Render(t, harness.DeployFile("systemd", "regtoken.toml"),
		"/run/credentials/regtoken.service/signing-key", key), 0o644)
	return cfg
}

// startActivatedFront runs the shipped nginx site for u's protocol with its
// socket path pointing at the activated socket, and returns its base URL.
func startActivatedFront(t *testing.T, dir string, u harness.SocketUnit) string {
	t.Helper()
	port := harness.FreePort(t)
	prefix := harness.NginxPrefix(t, filepath.Join(dir, u.Name))
	tlsKey, tlsCert := harness.KeyPair(t, prefix)
	site := harness.Render(t, harness.DeployFile("nginx", u.Protocol+".conf"),
		"listen 443 ssl http2;", fmt.Sprintf("listen 127.0.0.1:%d;", port),
		"listen [::]:443 ssl http2;", "",
		"/etc/ssl/registry/fullchain.pem", tlsCert,
		"/etc/ssl/registry/privkey.pem", tlsKey,
		u.Path, activatedPath(dir, u))
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	harness.StartNginxConf(t, prefix, harness.NginxConf(prefix, 1, site), addr)
	return "http://" + addr
}
