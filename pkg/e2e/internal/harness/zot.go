//go:build e2e

package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// zotInstallHint says how to get zot: its module path is not on the Go module
// proxy, so .ci/test.sh builds it from the source kept beside the repository.
const zotInstallHint = "bash .ci/test.sh builds it from ../shared/thirdparty/zot-*-src.tar.gz into $(go env GOPATH)/bin " +
	"(tar -xzf the archive, then CGO_ENABLED=0 GOEXPERIMENT=jsonv2 go build -o $(go env GOPATH)/bin/zot ./cmd/zot)"

// Zot returns the path of the zot binary, or why there is none. Like
// DockerEngine it does not fail the test by itself, so that a machine
// without zot's source still runs the rest and reports the zot columns as
// not run; where zot is expected (REGTOKEN_REQUIRE_ZOT is set, as bash
// .ci/test.sh does when the source or a binary is there) a missing one fails
// the test.
func Zot(t testing.TB) (path, whyNot string) {
	t.Helper()
	path = findTool("zot")
	if path == "" {
		whyNot = "no zot binary (" + zotInstallHint + ")"
		if os.Getenv("REGTOKEN_REQUIRE_ZOT") != "" {
			t.Errorf("REGTOKEN_REQUIRE_ZOT is set but there is %s", whyNot)
		}
	}
	return path, whyNot
}

// zotConfig is the part of zot's configuration the harness writes: storage,
// a loopback listener, and bearer authentication against regtoken.
type zotConfig struct {
	DistSpecVersion string `json:"distSpecVersion"`
	Storage         struct {
		RootDirectory string `json:"rootDirectory"`
		Dedupe        bool   `json:"dedupe"`
		GC            bool   `json:"gc"`
	} `json:"storage"`
	HTTP struct {
		Address string   `json:"address"`
		Port    string   `json:"port"`
		Compat  []string `json:"compat"`
		Auth    struct {
			Bearer struct {
				Realm   string `json:"realm"`
				Service string `json:"service"`
				Cert    string `json:"cert"`
			} `json:"bearer"`
		} `json:"auth"`
	} `json:"http"`
	Log struct {
		Level string `json:"level"`
	} `json:"log"`
}

// startZot starts zot with bearer authentication on a loopback port. zot
// has no unix-socket listener and no delete switch (a token with the delete
// action is what allows a delete), so o.Socket is refused and o.Delete is
// moot. Docker schema 2 manifests, which crane, skopeo and docker push,
// need compat "docker2s2". Dedupe is off: with it on, zot answers a HEAD for
// a blob stored in any repository with 200 (and copies it), so clients never
// ask to mount, and the mount rows would test nothing of the token.
func startZot(t testing.TB, dir string, o RegistryOptions) (*Process, string) {
	t.Helper()
	if o.Socket != "" {
		t.Fatalf("zot cannot serve on a unix socket (%s)", o.Socket)
	}
	bin, why := Zot(t)
	if bin == "" {
		t.Fatalf("cannot start zot: %s", why)
	}
	port := FreePort(t)
	if o.Addr != "" {
		if _, p, ok := strings.Cut(o.Addr, ":"); ok {
			port, _ = strconv.Atoi(p)
		}
	}
	var cfg zotConfig
	cfg.DistSpecVersion = "1.1.1"
	cfg.Storage.RootDirectory = filepath.Join(dir, "registry-data-zot")
	cfg.HTTP.Address, cfg.HTTP.Port = "127.0.0.1", strconv.Itoa(port)
	cfg.HTTP.Compat = []string{"docker2s2"}
	cfg.HTTP.Auth.Bearer.Realm, cfg.HTTP.Auth.Bearer.Service, cfg.HTTP.Auth.Bearer.Cert = o.Realm, o.Service, o.RootCert
	cfg.Log.Level = "warn"
	b, err := json.MarshalIndent(&cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := RegistryConfig(dir, RegistryZot)
	WriteFile(t, cfgPath, string(b), 0o644)
	if out, err := exec.Command(bin, "verify", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("zot verify %s: %v\n%s", cfgPath, err, out)
	}
	p := Start(t, "zot", exec.Command(bin, "serve", cfgPath))
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p.WaitDial(t, "tcp", addr, 30*time.Second)
	return p, addr
}
