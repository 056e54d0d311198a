//go:build e2e

package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Registry versions the suite runs against.
const (
	Registry28  = "2.8" // Debian's docker-registry package
	Registry3   = "3"   // distribution v3.1.2 from go install
	RegistryZot = "zot" // zot, built by .ci/test.sh from the source beside the repository
)

// RegistryOptions configure a registry using token authentication.
type RegistryOptions struct {
	Version  string // Registry28, Registry3 or RegistryZot
	Realm    string
	Service  string
	Issuer   string
	RootCert string // auth.token.rootcertbundle
	Delete   bool   // storage.delete.enabled
	// Socket, when set, is a unix socket to serve on instead of a loopback
	// port, as the shipped front-end files expect the registry. It is made
	// world-writable, because the front end's workers (www-data) connect.
	Socket string
	// JWKS is distribution 3.x's auth.token.jwks; RootCert may then be
	// empty, for a registry that trusts the JWKS only.
	JWKS string
	// Addr, when set, is the 127.0.0.1:PORT to listen on (to restart a
	// registry where it was); Storage its storage directory, which
	// replicas share; ConfigPath where its configuration goes. Empty: a
	// free port, and RegistryConfig's files in dir.
	Addr, Storage, ConfigPath string
	// DrainTimeout lets distribution finish the requests in flight when it
	// is stopped (http.draintimeout).
	DrainTimeout time.Duration
}

// RegistryConfig is where StartRegistry writes the configuration of the
// registry version it starts in dir.
func RegistryConfig(dir, version string) string {
	if version == RegistryZot {
		return filepath.Join(dir, "zot.json")
	}
	return filepath.Join(dir, "registry-"+version+".yml")
}

// StartRegistry starts a registry and returns its address once it accepts
// connections: 127.0.0.1:PORT on a free loopback port, or o.Socket.
func StartRegistry(t testing.TB, dir string, o RegistryOptions) (*Process, string) {
	t.Helper()
	if o.Version == RegistryZot {
		return startZot(t, dir, o)
	}
	bin := Tool(t, map[string]string{Registry28: "docker-registry", Registry3: "registry"}[o.Version])
	if bin == "" {
		t.Fatalf("unknown registry version %q", o.Version)
	}
	network, addr, listen := "tcp", o.Addr, ""
	if addr == "" {
		addr = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	}
	if o.Socket != "" {
		network, addr, listen = "unix", o.Socket, "\n  net: unix"
	}
	if o.DrainTimeout > 0 {
		listen += fmt.Sprintf("\n  draintimeout: %s", o.DrainTimeout)
	}
	storage := o.Storage
	if storage == "" {
		storage = filepath.Join(dir, "registry-data-"+strings.ReplaceAll(o.Version, ".", ""))
	}
	os.MkdirAll(storage, 0o755)
	trust := ""
	if o.RootCert != "" {
		trust += "\n    rootcertbundle: " + o.RootCert
	}
	if o.JWKS != "" {
		trust += "\n    jwks: " + o.JWKS
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: %t
http:%s
  addr: %s
  secret: regtoken-test-secret
auth:
  token:
    realm: %q
    service: %q
    issuer: %q%s
`, storage, o.Delete, listen, addr, o.Realm, o.Service, o.Issuer, trust)
	cfgPath := o.ConfigPath
	if cfgPath == "" {
		cfgPath = RegistryConfig(dir, o.Version)
	}
	WriteFile(t, cfgPath, cfg, 0o644)
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true")
	p := Start(t, "registry "+o.Version, cmd)
	p.WaitDial(t, network, addr, 20*time.Second)
	if o.Socket != "" {
		if err := os.Chmod(o.Socket, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	return p, addr
}
