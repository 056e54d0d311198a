//go:build e2e

package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Token locations in nginx, one per protocol regtoken speaks. %s is the
// regtoken socket path. The uwsgi block is the original service's, unchanged.
var tokenLocations = map[string]string{
	"scgi": `location = /v2/token {
            include /etc/nginx/scgi_params;
            scgi_pass unix:%s;
        }`,
	"uwsgi": `location /v2/token {
            uwsgi_pass unix://%s;
            include /etc/nginx/uwsgi_params;
        }`,
	"fastcgi": `location = /v2/token {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:%s;
        }`,
	"http": `location = /v2/token {
            proxy_pass http://unix:%s:;
            ` + ProxyHeaders + `
        }`,
}

// ProxyHeaders are what a proxy_pass location in front of regtoken sets, as
// the README's deployment does: the client's host and address, which
// regtoken reads from them when its listener trusts proxy headers.
const ProxyHeaders = `proxy_set_header Host $http_host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`

// StackOptions describe one nginx + regtoken + registry set-up.
type StackOptions struct {
	Registry string // Registry28 (default) or Registry3
	Protocol string // scgi (default), uwsgi, fastcgi, http
	// Rule files; default: the original service's example files in testdata/demo.
	Users, Repositories, Groups string
	// Extra TOML appended to regtoken's configuration.
	ExtraConfig string
	// ExtraACL is added to the [acl] table (e.g. "anonymous_catalog = true").
	ExtraACL string
	Delete   bool
}

// Stack is a running nginx in front of regtoken and a registry, like the
// original README's deployment. Clients talk to Host (localhost:PORT).
type Stack struct {
	Host       string // localhost:PORT, the registry as clients see it
	Realm      string
	Service    string
	Issuer     string
	Dir        string
	ConfigPath string
	Socket     string
	CertPath   string
	Regtoken   *Process
	Registry   *Process
	// RegistryConfig is the registry's own configuration file.
	RegistryConfig string
	Nginx          *Process
}

// StartStack starts regtoken, a registry and nginx, and returns when all three
// accept connections.
func StartStack(t testing.TB, o StackOptions) *Stack {
	t.Helper()
	if o.Registry == "" {
		o.Registry = Registry28
	}
	if o.Protocol == "" {
		o.Protocol = "scgi"
	}
	if o.Users == "" {
		o.Users = Testdata("demo", "users.json")
	}
	if o.Repositories == "" {
		o.Repositories = Testdata("demo", "repositories.json")
	}
	dir := ShortDir(t)
	port := FreePort(t)
	s := &Stack{
		Host:    fmt.Sprintf("localhost:%d", port),
		Service: "Authentication",
		Issuer:  "example issuer",
		Dir:     dir,
		Socket:  filepath.Join(dir, "regtoken.sock"),
	}
	s.Realm = "http://" + s.Host + "/v2/token"
	keyPath, certPath := KeyPair(t, dir)
	s.CertPath = certPath
	s.ConfigPath = filepath.Join(dir, "regtoken.toml")
	groups := ""
	if o.Groups != "" {
		groups = fmt.Sprintf("groups = %q\n", o.Groups)
	}
	WriteFile(t, s.ConfigPath, fmt.Sprintf(`[token]
issuer = %q
services = [%q]
key = %q
certificate = %q
lifetime = "5m"

[acl]
users = %q
repositories = %q
%s%s

[[listen]]
protocol = %q
address = "unix:%s"
mode = "0666"
%s
`, s.Issuer, s.Service, keyPath, certPath, o.Users, o.Repositories, groups, o.ExtraACL, o.Protocol, s.Socket, o.ExtraConfig), 0o644)

	s.Regtoken = StartRegtoken(t, s.ConfigPath, "unix:"+s.Socket)

	var regAddr string
	s.Registry, regAddr = StartRegistry(t, dir, RegistryOptions{
		Version: o.Registry, Realm: s.Realm, Service: s.Service, Issuer: s.Issuer, RootCert: certPath, Delete: o.Delete,
	})
	s.RegistryConfig = RegistryConfig(dir, o.Registry)
	server := fmt.Sprintf(`client_max_body_size 0;
        chunked_transfer_encoding on;
        location /v2/ {
            proxy_pass http://%s;
            proxy_set_header Host $http_host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 900;
        }
        `, regAddr) + fmt.Sprintf(tokenLocations[o.Protocol], s.Socket)
	s.Nginx = StartNginx(t, dir, port, "", server)
	return s
}

// Reconfigure rewrites a rule file in place (as an operator would).
func (s *Stack) Reconfigure(t testing.TB, path, content string) {
	t.Helper()
	WriteFile(t, path, content, 0o644)
}

// Env returns environment variables that keep client tools' state (docker
// config, containers auth) inside the stack's directory.
func (s *Stack) Env() []string {
	home := filepath.Join(s.Dir, "home")
	os.MkdirAll(home, 0o700)
	return append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"),
		"REGISTRY_AUTH_FILE="+filepath.Join(home, "auth.json"), "XDG_RUNTIME_DIR="+home)
}
