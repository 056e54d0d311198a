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
	Registry28 = "2.8" // Debian's docker-registry package
	Registry3  = "3"   // distribution v3.1.2 from go install
)

// RegistryOptions configure a registry using token authentication.
type RegistryOptions struct {
	Version  string // Registry28 or Registry3
	Realm    string
	Service  string
	Issuer   string
	RootCert string // auth.token.rootcertbundle
	Delete   bool   // storage.delete.enabled
}

// StartRegistry starts a registry on a free loopback port and returns its
// address (127.0.0.1:PORT) once it accepts connections.
func StartRegistry(t testing.TB, dir string, o RegistryOptions) (*Process, string) {
	t.Helper()
	bin := Tool(t, map[string]string{Registry28: "docker-registry", Registry3: "registry"}[o.Version])
	if bin == "" {
		t.Fatalf("unknown registry version %q", o.Version)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	storage := filepath.Join(dir, "registry-data-"+strings.ReplaceAll(o.Version, ".", ""))
	os.MkdirAll(storage, 0o755)
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
http:
  addr: %s
  secret: regtoken-test-secret
auth:
  token:
    realm: %q
    service: %q
    issuer: %q
    rootcertbundle: %s
`, storage, o.Delete, addr, o.Realm, o.Service, o.Issuer, o.RootCert)
	cfgPath := filepath.Join(dir, "registry-"+o.Version+".yml")
	WriteFile(t, cfgPath, cfg, 0o644)
	args := []string{"serve", cfgPath}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true")
	p := Start(t, "registry "+o.Version, cmd)
	p.WaitDial(t, "tcp", addr, 20*time.Second)
	return p, addr
}
