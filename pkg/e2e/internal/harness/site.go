//go:build e2e

package harness

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// SocketUnit is what one shipped systemd socket unit (deploy/systemd/*.socket)
// says about its socket.
type SocketUnit struct {
	Unit     string // file name, e.g. regtoken-uwsgi.socket
	Name     string // FileDescriptorName=: scgi, uwsgi, fcgi or http
	Protocol string // regtoken's name for it: scgi, uwsgi, fastcgi or http
	Path     string // ListenStream=, e.g. /run/regtoken/uwsgi.sock
	Group    string // SocketGroup=
	Mode     os.FileMode
}

// SocketUnits reads the shipped socket units, in file-name order.
func SocketUnits(t testing.TB) []SocketUnit {
	t.Helper()
	paths, _ := filepath.Glob(DeployFile("systemd", "*.socket"))
	if len(paths) == 0 {
		t.Fatal("no socket units in deploy/systemd")
	}
	slices.Sort(paths)
	var units []SocketUnit
	for _, p := range paths {
		keys := unitKeys(t, p)
		u := SocketUnit{Unit: filepath.Base(p), Name: keys["FileDescriptorName"], Path: keys["ListenStream"], Group: keys["SocketGroup"]}
		u.Protocol = u.Name
		if u.Name == "fcgi" {
			u.Protocol = "fastcgi"
		}
		mode, err := strconv.ParseUint(keys["SocketMode"], 8, 32)
		if err != nil || u.Name == "" || !strings.HasPrefix(u.Path, "/") {
			t.Fatalf("%s: want FileDescriptorName=, ListenStream=/path and SocketMode=; got %v", p, keys)
		}
		u.Mode = os.FileMode(mode)
		units = append(units, u)
	}
	return units
}

// SocketUnitFor returns the shipped socket unit serving protocol.
func SocketUnitFor(t testing.TB, protocol string) SocketUnit {
	t.Helper()
	for _, u := range SocketUnits(t) {
		if u.Protocol == protocol {
			return u
		}
	}
	t.Fatalf("no socket unit in deploy/systemd serves %s", protocol)
	return SocketUnit{}
}

// unitKeys returns the Key=value lines of a unit file (the last one wins).
func unitKeys(t testing.TB, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			keys[k] = v
		}
	}
	return keys
}

// NoRegistry in SiteOptions.Registry starts no registry; the site's /v2/
// location then answers 502.
const NoRegistry = "none"

// SiteOptions describe a site built from the shipped files: regtoken serving
// one protocol on the socket path its socket unit names, and nginx running
// deploy/nginx/<Protocol>.conf.
type SiteOptions struct {
	Protocol string // scgi (default), uwsgi, fastcgi, http
	Registry string // Registry28 (default), Registry3 or NoRegistry
	// Users and Repositories are rule files; default the original service's
	// examples in testdata/demo.
	Users, Repositories string
	ExtraConfig         string // TOML appended to regtoken's configuration
}

// Site is a running shipped nginx site. Besides the socket nginx uses,
// regtoken also serves plain HTTP on Direct, so tests can compare what a
// client gets through nginx with what regtoken itself answers.
type Site struct {
	*Stack
	Direct string // http://127.0.0.1:PORT/v2/token
	Unit   SocketUnit
}

// StartSite starts regtoken, a registry and nginx with the shipped site file
// for o.Protocol. The file is changed only where it names host paths: the
// socket directory /run/regtoken, the registry's socket, the TLS files, and
// the listen lines (the test serves plain HTTP on a loopback port, because
// crane speaks plain HTTP to localhost registries; nginx -t checks the TLS
// lines in TestShippedNginxConfigs). regtoken's socket is created as the
// socket unit would: group www-data, the unit's mode.
func StartSite(t testing.TB, o SiteOptions) *Site {
	t.Helper()
	if o.Protocol == "" {
		o.Protocol = "scgi"
	}
	if o.Registry == "" {
		o.Registry = Registry28
	}
	if o.Users == "" {
		o.Users = Testdata("demo", "users.json")
	}
	if o.Repositories == "" {
		o.Repositories = Testdata("demo", "repositories.json")
	}
	unit := SocketUnitFor(t, o.Protocol)
	dir := ShortDir(t)
	port, directPort := FreePort(t), FreePort(t)
	s := &Site{Stack: &Stack{
		Host:    fmt.Sprintf("localhost:%d", port),
		Service: "Authentication",
		Issuer:  "example issuer",
		Dir:     dir,
		Socket:  filepath.Join(dir, filepath.Base(unit.Path)),
	}, Unit: unit}
	s.Realm = "http://" + s.Host + "/v2/token"
	s.Direct = fmt.Sprintf("http://127.0.0.1:%d/v2/token", directPort)

	s.Regtoken = startSiteRegtoken(t, s, o, directPort)
	registryAddr := "unix:/nonexistent/registry.sock"
	if o.Registry != NoRegistry {
		s.Registry, registryAddr = StartRegistry(t, dir, RegistryOptions{
			Version: o.Registry, Realm: s.Realm, Service: s.Service, Issuer: s.Issuer, RootCert: s.CertPath,
		})
	}

	prefix := NginxPrefix(t, dir)
	tlsKey, tlsCert := KeyPair(t, prefix)
	site := Render(t, DeployFile("nginx", o.Protocol+".conf"),
		"listen 443 ssl http2;", fmt.Sprintf("listen 127.0.0.1:%d;", port),
		"listen [::]:443 ssl http2;", "",
		"/etc/ssl/registry/fullchain.pem", tlsCert,
		"/etc/ssl/registry/privkey.pem", tlsKey,
		"unix:/var/www/upstream-sockets/docker-registry.sock", registryAddr,
		filepath.Dir(unit.Path)+"/", dir+"/")
	s.Nginx = StartNginxConf(t, prefix, NginxConf(prefix, 1, site), fmt.Sprintf("127.0.0.1:%d", port))
	return s
}

func startSiteRegtoken(t testing.TB, s *Site, o SiteOptions, directPort int) *Process {
	t.Helper()
	u := StartUnitRegtoken(t, UnitRegtoken{Dir: s.Dir, Protocol: o.Protocol, Socket: s.Socket, Unit: s.Unit,
		DirectPort: directPort, Users: o.Users, Repositories: o.Repositories, ExtraConfig: o.ExtraConfig})
	s.CertPath, s.ConfigPath = u.CertPath, u.ConfigPath
	return u.Process
}

// UnitRegtoken says how to start regtoken as a front end's shipped file
// expects it: one protocol on a unix socket with the group and mode of the
// matching systemd socket unit, plus plain HTTP on a loopback port so tests
// can compare what a client gets through the front end with regtoken's own
// answer. Issuer and service are those of the demo ("example issuer",
// "Authentication").
type UnitRegtoken struct {
	Dir, Protocol, Socket string
	Unit                  SocketUnit
	DirectPort            int
	Users, Repositories   string
	ExtraConfig           string // TOML appended to the file
}

// RunningRegtoken is a regtoken StartUnitRegtoken started, with its files.
type RunningRegtoken struct {
	*Process
	ConfigPath, CertPath string
}

// StartUnitRegtoken writes a key pair and a configuration into o.Dir, starts
// regtoken and waits for its socket.
func StartUnitRegtoken(t testing.TB, o UnitRegtoken) RunningRegtoken {
	t.Helper()
	keyPath, certPath := KeyPair(t, o.Dir)
	config := filepath.Join(o.Dir, "regtoken.toml")
	trust := ""
	if o.Protocol == "http" {
		// The front end adds X-Real-IP / X-Forwarded-For.
		trust = "trust_proxy_headers = true"
	}
	WriteFile(t, config, fmt.Sprintf(`[token]
issuer = "example issuer"
services = ["Authentication"]
key = %q
certificate = %q

[acl]
users = %q
repositories = %q

[[listen]]
protocol = %q
address = "unix:%s"
group = %q
mode = "%04o"
%s

[[listen]]
protocol = "http"
address = "tcp:127.0.0.1:%d"
%s
`, keyPath, certPath, o.Users, o.Repositories,
		o.Protocol, o.Socket, o.Unit.Group, o.Unit.Mode, trust, o.DirectPort, o.ExtraConfig), 0o644)
	p := StartRegtoken(t, config, "unix:"+o.Socket, fmt.Sprintf("tcp:127.0.0.1:%d", o.DirectPort))
	return RunningRegtoken{Process: p, ConfigPath: config, CertPath: certPath}
}
