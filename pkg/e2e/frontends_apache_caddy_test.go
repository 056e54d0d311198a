//go:build e2e

package e2e

// Apache httpd and Caddy in front of regtoken, run from the shipped
// deploy/apache/regtoken.conf and deploy/caddy/Caddyfile.
//
// Each test reads the shipped file and changes only what names this host:
// the socket directory /run/regtoken, the registry's socket, the server name
// and port, and TLS. TLS becomes plain HTTP on a loopback port, because crane
// speaks plain HTTP to a localhost registry: the Apache file loses its SSL*
// lines and its X-Forwarded-Proto "https" becomes "http" (with "https" the
// registry would send crane https:// upload URLs for a plain-HTTP port); the
// Caddy site address registry.example.org becomes http://localhost:PORT.
// The TLS lines themselves are checked by apache2 -t and caddy adapt
// --validate on the file as shipped. Everything else (the modules the
// comments name, ProxyPass order, CGIPassAuth, transports, timeouts) runs as
// it ships, so a change to a shipped file is what these tests test.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// frontShipped reads deploy/<dir>/<name>, the text the tests start from.
func frontShipped(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(harness.DeployFile(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// frontVariant is one way a shipped front-end file reaches regtoken's token
// endpoint: the active one, or a commented alternative.
type frontVariant struct {
	Name     string // the front end's word for it: scgi, uwsgi, fcgi, fastcgi, http
	Protocol string // regtoken's listener protocol
	Socket   string // socket path as the shipped file writes it
	Active   bool   // uncommented in the shipped file
}

// frontOptions describe one test site behind Apache or Caddy.
type frontOptions struct {
	Variant  frontVariant
	Registry string // registry version; "" for none (/v2/ then answers 502/503)
	// Edit changes the rendered configuration before the front end starts,
	// to show what a line is for by removing it.
	Edit func(conf string) string
	// Recorder, if set, serves the token socket instead of regtoken (http
	// variants only), to see the request exactly as the front end sends it.
	Recorder *frontRecorder
}

// frontEnd is a running Apache or Caddy in front of regtoken. Direct is
// regtoken's own plain-HTTP listener, for comparing answers.
type frontEnd struct {
	Name   string // "apache scgi", "caddy fastcgi", ...
	Host   string // localhost:PORT
	Realm  string // http://localhost:PORT/v2/token
	Direct string // http://127.0.0.1:PORT/v2/token
	Dir    string
}

// newFrontEnd prepares a directory and a port, and starts what sits behind
// the front end: regtoken (or the recorder) and the registry if asked for.
// It returns the registry's socket path.
func newFrontEnd(t *testing.T, kind string, o frontOptions) (*frontEnd, string) {
	t.Helper()
	dir := harness.ShortDir(t)
	port := harness.FreePort(t)
	f := &frontEnd{Name: kind + " " + o.Variant.Name, Host: fmt.Sprintf("localhost:%d", port), Dir: dir}
	f.Realm = "http://" + f.Host + "/v2/token"
	socket := filepath.Join(dir, filepath.Base(o.Variant.Socket))
	if o.Recorder != nil {
		o.Recorder.serve(t, socket)
		return f, filepath.Join(dir, "no-registry.sock")
	}
	cert := startFrontRegtoken(t, f, o.Variant, socket)
	if o.Registry == "" {
		return f, filepath.Join(dir, "no-registry.sock")
	}
	_, sock := harness.StartRegistry(t, dir, harness.RegistryOptions{Version: o.Registry, Realm: f.Realm,
		Service: "Authentication", Issuer: "example issuer", RootCert: cert,
		Socket: filepath.Join(dir, "docker-registry.sock")})
	return f, sock
}

// port is the front end's port.
func (f *frontEnd) port() string { return strings.TrimPrefix(f.Host, "localhost:") }

// ---------------------------------------------------------------- Apache

// apacheModuleDir is where Debian's apache2 package keeps its modules.
const apacheModuleDir = "/usr/lib/apache2/modules"

// apacheTokenLine matches the token endpoint's ProxyPassMatch lines, active
// or commented: `ProxyPassMatch "^/v2/token$" "unix:PATH|SCHEME://..."`.
var apacheTokenLine = regexp.MustCompile(`^(\s*)(#\s*)?(ProxyPassMatch "\^/v2/token\$" "unix:([^|"]+)\|(\w+)://[^"]*")\s*$`)

// apacheProtocols maps a ProxyPassMatch scheme to regtoken's protocol.
var apacheProtocols = map[string]string{"scgi": "scgi", "uwsgi": "uwsgi", "fcgi": "fastcgi", "http": "http"}

// apacheVariants lists the token ProxyPassMatch lines of the shipped file.
func apacheVariants(t *testing.T, text string) []frontVariant {
	t.Helper()
	var vs []frontVariant
	for _, line := range strings.Split(text, "\n") {
		m := apacheTokenLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		proto, ok := apacheProtocols[m[5]]
		if !ok {
			t.Fatalf("deploy/apache/regtoken.conf: token route with unknown scheme %q: %s", m[5], line)
		}
		vs = append(vs, frontVariant{Name: m[5], Protocol: proto, Socket: m[4], Active: m[2] == ""})
	}
	return vs
}

// apacheSelect makes v the only active token ProxyPassMatch line.
func apacheSelect(text string, v frontVariant) string {
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if m := apacheTokenLine.FindStringSubmatch(line); m != nil {
			if m[5] == v.Name {
				lines[i] = m[1] + m[3]
			} else {
				lines[i] = m[1] + "# " + m[3]
			}
		}
	}
	return strings.Join(lines, "\n")
}

// apacheModules returns the modules the shipped file's comment tells the
// operator to enable (its a2enmod line), plus the one it names for v.
// Loading only these shows the comment is complete.
func apacheModules(t *testing.T, text string, v frontVariant) []string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^#\s*a2enmod ([a-z_ ]+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("deploy/apache/regtoken.conf: no `# a2enmod ...` line naming the modules")
	}
	mods := strings.Fields(m[1])
	if extra := map[string]string{"uwsgi": "proxy_uwsgi", "fcgi": "proxy_fcgi"}[v.Name]; extra != "" && !slices.Contains(mods, extra) {
		if !strings.Contains(text, extra) {
			t.Fatalf("deploy/apache/regtoken.conf offers %s but its comments never name module %s", v.Name, extra)
		}
		mods = append(mods, extra)
	}
	return mods
}

// apacheSite renders the shipped virtual host: variant v active, sockets
// under dir, plain HTTP on port. A non-nil tls (key, certificate) keeps the
// SSL lines instead, for apache2 -t only.
func apacheSite(t *testing.T, v frontVariant, dir, registrySock, port string, tls *[2]string) string {
	t.Helper()
	name := "deploy/apache/regtoken.conf"
	text := harness.Replace(t, name, apacheSelect(frontShipped(t, "apache", "regtoken.conf"), v),
		"<VirtualHost *:443>", "<VirtualHost 127.0.0.1:"+port+">",
		"ServerName registry.example.org", "ServerName localhost",
		"unix:/var/www/upstream-sockets/docker-registry.sock|", "unix:"+registrySock+"|",
		"/run/regtoken/", dir+"/")
	if tls != nil {
		return harness.Replace(t, name, text,
			"/etc/ssl/registry/fullchain.pem", tls[1],
			"/etc/ssl/registry/privkey.pem", tls[0])
	}
	text = harness.Replace(t, name, text, `RequestHeader set X-Forwarded-Proto "https"`, `RequestHeader set X-Forwarded-Proto "http"`)
	lines := strings.Split(text, "\n")
	dropped := 0
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "SSL") {
			lines[i] = "# (test: plain HTTP) " + strings.TrimSpace(line)
			dropped++
		}
	}
	if dropped == 0 {
		t.Fatalf("%s has no SSL lines any more: update the test with the file", name)
	}
	return strings.Join(lines, "\n")
}

// apacheMainConf is the httpd.conf around a site: a private ServerRoot,
// pid file and error log, one small event-MPM child, and the listed
// modules. Apache refuses to serve as root, so when the tests run as root
// its children run as www-data, as Debian's apache2.conf has them; regtoken's
// socket is root:www-data 0660 as the socket units make it, so that
// permission path is tested too. Otherwise they run as the current user.
func apacheMainConf(t *testing.T, root, port string, modules []string, site string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "ServerRoot %q\nPidFile %q\nDefaultRuntimeDir %q\nErrorLog %q\nLogLevel warn\n",
		root, filepath.Join(root, "httpd.pid"), root, filepath.Join(root, "error.log"))
	fmt.Fprintf(&b, "Listen 127.0.0.1:%s\nServerName localhost\n", port)
	if os.Geteuid() == 0 {
		b.WriteString("User www-data\nGroup www-data\n")
	}
	b.WriteString("StartServers 1\nServerLimit 1\nThreadsPerChild 16\nMaxRequestWorkers 16\nMinSpareThreads 1\nMaxSpareThreads 16\n")
	// Debian enables mpm_event and authz_core by default; the shipped file's
	// a2enmod line names everything else.
	for _, m := range append([]string{"mpm_event", "authz_core"}, modules...) {
		so := filepath.Join(apacheModuleDir, "mod_"+m+".so")
		if _, err := os.Stat(so); err != nil {
			t.Fatalf("Apache module %s is missing (%v); install it with: apt-get install apache2 libapache2-mod-proxy-uwsgi", so, err)
		}
		fmt.Fprintf(&b, "LoadModule %s_module %s\n", m, so)
	}
	b.WriteString(site)
	return b.String()
}

// apacheConfigTest runs apache2 -t on the configuration file conf.
func apacheConfigTest(t *testing.T, conf string) (string, error) {
	t.Helper()
	out, err := exec.Command(harness.Tool(t, "apache2"), "-t", "-f", conf).CombinedOutput()
	return string(out), err
}

// startApacheSite starts what the site needs and Apache in the foreground
// with the shipped virtual host, until the test ends. A failing test shows
// Apache's error log.
func startApacheSite(t *testing.T, o frontOptions) *frontEnd {
	t.Helper()
	bin := harness.Tool(t, "apache2")
	f, registrySock := newFrontEnd(t, "apache", o)
	site := apacheSite(t, o.Variant, f.Dir, registrySock, f.port(), nil)
	if o.Edit != nil {
		site = o.Edit(site)
	}
	root := filepath.Join(f.Dir, "apache")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(root, "httpd.conf")
	modules := apacheModules(t, frontShipped(t, "apache", "regtoken.conf"), o.Variant)
	harness.WriteFile(t, conf, apacheMainConf(t, root, f.port(), modules, site), 0o644)
	if out, err := apacheConfigTest(t, conf); err != nil {
		t.Fatalf("apache2 -t rejected the test configuration: %v\n%s\n%s", err, out, site)
	}
	p := harness.Start(t, "apache2", exec.Command(bin, "-f", conf, "-D", "FOREGROUND"))
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(root, "error.log"))
			t.Logf("--- apache error.log:\n%s", b)
		}
	})
	p.WaitDial(t, "tcp", "127.0.0.1:"+f.port(), 10*time.Second)
	return f
}

// TestApacheShippedSite runs deploy/apache/regtoken.conf in a real Apache
// httpd: every token route it offers (the active SCGI line and the commented
// uwsgi, FastCGI and HTTP ones), what CGIPassAuth is for, and crane push and
// pull through its /v2/ proxy to registry 2.8 and 3.
func TestApacheShippedSite(t *testing.T) {
	harness.Tool(t, "apache2")
	text := frontShipped(t, "apache", "regtoken.conf")
	variants := apacheVariants(t, text)
	frontCheckVariants(t, "deploy/apache/regtoken.conf", variants, "scgi", []string{"scgi", "uwsgi", "fcgi", "http"})
	byName := map[string]frontVariant{}
	for _, v := range variants {
		byName[v.Name] = v
	}

	t.Run("apache2 -t with TLS", func(t *testing.T) {
		t.Parallel()
		dir := harness.ShortDir(t)
		key, cert := harness.KeyPair(t, dir)
		port := fmt.Sprint(harness.FreePort(t))
		site := apacheSite(t, byName["scgi"], dir, filepath.Join(dir, "registry.sock"), port, &[2]string{key, cert})
		conf := filepath.Join(dir, "httpd.conf")
		harness.WriteFile(t, conf, apacheMainConf(t, dir, port, apacheModules(t, text, byName["scgi"]), site), 0o644)
		if out, err := apacheConfigTest(t, conf); err != nil {
			t.Fatalf("apache2 -t rejects the shipped file with its TLS lines: %v\n%s", err, out)
		}
	})
	for _, v := range variants {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			f := startApacheSite(t, frontOptions{Variant: v})
			frontTokenChecks(t, f)
			// The shipped comment: scgi and uwsgi answer 411 to chunked bodies.
			frontChunkedPost(t, f, map[string]int{"scgi": 411, "uwsgi": 411}[v.Name])
		})
	}
	t.Run("http route path", func(t *testing.T) {
		t.Parallel()
		rec := &frontRecorder{}
		f := startApacheSite(t, frontOptions{Variant: byName["http"], Recorder: rec})
		rec.checkPath(t, f)
	})
	// Without CGIPassAuth, mod_proxy_scgi and mod_proxy_fcgi drop the
	// Authorization header; mod_proxy_uwsgi passes it anyway.
	for _, c := range []struct {
		name       string
		authArrive bool
	}{{"scgi", false}, {"fcgi", false}, {"uwsgi", true}} {
		t.Run(c.name+" without CGIPassAuth", func(t *testing.T) {
			t.Parallel()
			f := startApacheSite(t, frontOptions{Variant: byName[c.name], Edit: func(site string) string {
				return harness.Replace(t, "deploy/apache/regtoken.conf", site, "CGIPassAuth On", "")
			}})
			apacheWithoutCGIPassAuth(t, f, c.authArrive)
		})
	}
	for _, version := range []string{harness.Registry28, harness.Registry3} {
		t.Run("crane via registry "+version, func(t *testing.T) {
			t.Parallel()
			frontCraneFlow(t, startApacheSite(t, frontOptions{Variant: byName["scgi"], Registry: version}))
		})
	}
}

// apacheWithoutCGIPassAuth checks what a login does when Apache may drop
// the Authorization header. Without the header regtoken sees no
// credentials, and it refuses a login (offline_token=true, what docker
// login sends) without credentials with a 401 that names the likely cause,
// so docker login fails instead of reporting success for any password. A
// token request without offline_token is anonymous.
func apacheWithoutCGIPassAuth(t *testing.T, f *frontEnd, authArrives bool) {
	t.Helper()
	q := url.Values{"service": {"Authentication"}, "account": {"foo"}, "client_id": {"docker"}, "offline_token": {"true"}}
	req := newRequest(t, "GET", f.Realm+"?"+q.Encode(), nil)
	req.SetBasicAuth("foo", "foo")
	login := frontFetch(t, req)
	a := frontToken(t, f.Realm, "foo", "foo", "repository:some-image:pull,push")
	if a.status != 200 {
		t.Fatalf("%s: foo/foo token: %d %s", f.Name, a.status, a.body)
	}
	sub := jwtClaims(t, a.body).Subject
	if authArrives {
		if login.status != 200 || !strings.Contains(string(login.body), `"refresh_token"`) || sub != "foo" {
			t.Errorf("%s: Authorization must arrive without CGIPassAuth: login %d, token subject %q", f.Name, login.status, sub)
		}
		return
	}
	if login.status != 401 || !strings.Contains(string(login.body), "Authorization header") {
		t.Errorf("%s: a docker login whose Authorization Apache dropped must fail with 401 naming the cause: %d %s", f.Name, login.status, login.body)
	}
	if sub != "" {
		t.Errorf("%s: without CGIPassAuth Authorization should not arrive, yet the token subject is %q: is CGIPassAuth still needed?", f.Name, sub)
	}
}

// ---------------------------------------------------------------- Caddy

// caddyProxyLine matches a reverse_proxy block to a socket, active or
// commented.
var caddyProxyLine = regexp.MustCompile(`^\s*(#\s*)?reverse_proxy unix/(/\S+)\s*\{\s*$`)

// caddyUncomment removes the first "#" after a line's indentation, and one
// space after it.
func caddyUncomment(line string) string {
	trimmed := strings.TrimLeft(line, " \t")
	if !strings.HasPrefix(trimmed, "#") {
		return line
	}
	return line[:len(line)-len(trimmed)] + strings.TrimPrefix(strings.TrimPrefix(trimmed, "#"), " ")
}

// caddyBlockEnd returns the line that closes the brace block opening on
// line i, reading commented lines as if they were not.
func caddyBlockEnd(lines []string, i int) int {
	depth := 0
	for j := i; j < len(lines); j++ {
		body := caddyUncomment(lines[j])
		depth += strings.Count(body, "{") - strings.Count(body, "}")
		if depth == 0 {
			return j
		}
	}
	return len(lines) - 1
}

// caddyTokenBlocks finds the reverse_proxy blocks to regtoken's sockets
// (under /run/regtoken/): their first and last lines and which variant each
// one is.
func caddyTokenBlocks(lines []string) (blocks [][2]int, vs []frontVariant) {
	for i, line := range lines {
		m := caddyProxyLine.FindStringSubmatch(line)
		if m == nil || !strings.HasPrefix(m[2], "/run/regtoken/") {
			continue
		}
		end := caddyBlockEnd(lines, i)
		v := frontVariant{Name: "http", Protocol: "http", Socket: m[2], Active: m[1] == ""}
		for _, l := range lines[i : end+1] {
			if strings.Contains(caddyUncomment(l), "transport fastcgi") {
				v.Name, v.Protocol = "fastcgi", "fastcgi"
			}
		}
		blocks = append(blocks, [2]int{i, end})
		vs = append(vs, v)
	}
	return blocks, vs
}

// caddySelect makes v's block the only active token reverse_proxy.
func caddySelect(text string, v frontVariant) string {
	lines := strings.Split(text, "\n")
	blocks, vs := caddyTokenBlocks(lines)
	for k, b := range blocks {
		for j := b[0]; j <= b[1]; j++ {
			bare := caddyUncomment(lines[j])
			if vs[k].Name != v.Name {
				body := strings.TrimLeft(bare, " \t")
				bare = bare[:len(bare)-len(body)] + "# " + body
			}
			lines[j] = bare
		}
	}
	return strings.Join(lines, "\n")
}

// caddySite renders the shipped Caddyfile: variant v active, sockets under
// dir, plain HTTP on port, admin endpoint off.
func caddySite(t *testing.T, v frontVariant, dir, registrySock, port string) string {
	t.Helper()
	// Select first: caddyTokenBlocks knows regtoken's blocks by their
	// /run/regtoken/ sockets.
	text := harness.Replace(t, "deploy/caddy/Caddyfile", caddySelect(frontShipped(t, "caddy", "Caddyfile"), v),
		"registry.example.org {", "http://localhost:"+port+" {",
		"unix//var/www/upstream-sockets/docker-registry.sock", "unix/"+registrySock,
		"unix//run/regtoken/", "unix/"+dir+"/")
	// A first block without an address is Caddy's global options.
	return "{\n\tadmin off\n}\n\n" + text
}

// caddyEnv keeps Caddy's storage and autosaved config inside dir.
func caddyEnv(dir string) []string {
	home := filepath.Join(dir, "caddy-home")
	os.MkdirAll(home, 0o700)
	return append(os.Environ(), "HOME="+home, "XDG_DATA_HOME="+filepath.Join(home, "data"), "XDG_CONFIG_HOME="+filepath.Join(home, "config"))
}

// startCaddySite starts what the site needs and `caddy run` with the
// shipped Caddyfile, until the test ends. Caddy logs to stderr, which a
// failing test shows.
func startCaddySite(t *testing.T, o frontOptions) *frontEnd {
	t.Helper()
	bin := harness.Tool(t, "caddy")
	f, registrySock := newFrontEnd(t, "caddy", o)
	site := caddySite(t, o.Variant, f.Dir, registrySock, f.port())
	if o.Edit != nil {
		site = o.Edit(site)
	}
	path := filepath.Join(f.Dir, "Caddyfile")
	harness.WriteFile(t, path, site, 0o644)
	cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = caddyEnv(f.Dir)
	p := harness.Start(t, "caddy", cmd)
	p.WaitDial(t, "tcp", "127.0.0.1:"+f.port(), 15*time.Second)
	return f
}

// TestCaddyShippedSite runs deploy/caddy/Caddyfile in a real Caddy: the
// FastCGI block it ships active and the commented plain-HTTP one, and crane
// push and pull through its registry proxy to registry 2.8 and 3.
func TestCaddyShippedSite(t *testing.T) {
	harness.Tool(t, "caddy")
	variants := func() []frontVariant {
		_, vs := caddyTokenBlocks(strings.Split(frontShipped(t, "caddy", "Caddyfile"), "\n"))
		return vs
	}()
	frontCheckVariants(t, "deploy/caddy/Caddyfile", variants, "fastcgi", []string{"fastcgi", "http"})
	byName := map[string]frontVariant{}
	for _, v := range variants {
		byName[v.Name] = v
	}

	t.Run("caddy adapt --validate as shipped", func(t *testing.T) {
		t.Parallel()
		cmd := exec.Command(harness.Tool(t, "caddy"), "adapt", "--config", harness.DeployFile("caddy", "Caddyfile"), "--adapter", "caddyfile", "--validate")
		cmd.Env = caddyEnv(harness.ShortDir(t))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("caddy rejects the shipped Caddyfile: %v\n%s", err, out)
		}
	})
	for _, v := range variants {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			f := startCaddySite(t, frontOptions{Variant: v})
			frontTokenChecks(t, f)
			frontChunkedPost(t, f, 0)
		})
	}
	t.Run("http route path", func(t *testing.T) {
		t.Parallel()
		rec := &frontRecorder{}
		f := startCaddySite(t, frontOptions{Variant: byName["http"], Recorder: rec})
		rec.checkPath(t, f)
		if got := rec.last().Header.Get("X-Real-Ip"); got != "127.0.0.1" {
			t.Errorf("caddy http: X-Real-IP %q, want the client's 127.0.0.1", got)
		}
	})
	for _, version := range []string{harness.Registry28, harness.Registry3} {
		t.Run("crane via registry "+version, func(t *testing.T) {
			t.Parallel()
			frontCraneFlow(t, startCaddySite(t, frontOptions{Variant: byName["fastcgi"], Registry: version}))
		})
	}
}

// ---------------------------------------------------------------- shared

// frontCheckVariants insists that a shipped file offers exactly the token routes
// the tests expect, with active the uncommented one, and that each route's
// socket is the one the matching systemd socket unit creates.
func frontCheckVariants(t *testing.T, file string, vs []frontVariant, active string, want []string) {
	t.Helper()
	var names []string
	for _, v := range vs {
		names = append(names, v.Name)
		if v.Active != (v.Name == active) {
			t.Errorf("%s: %s route active=%v; want only %s active", file, v.Name, v.Active, active)
		}
		if u := harness.SocketUnitFor(t, v.Protocol); u.Path != v.Socket {
			t.Errorf("%s: %s route uses %s, but %s creates %s", file, v.Name, v.Socket, u.Unit, u.Path)
		}
	}
	if !slices.Equal(names, want) {
		t.Fatalf("%s offers token routes %v; the test expects %v: update the test with the file", file, names, want)
	}
}

// startFrontRegtoken starts regtoken for f: the variant's protocol on
// socket, with the group and mode of the matching socket unit, plus plain
// HTTP on a loopback port for comparing answers. It returns the token
// signing certificate.
func startFrontRegtoken(t *testing.T, f *frontEnd, v frontVariant, socket string) string {
	t.Helper()
	directPort := harness.FreePort(t)
	f.Direct = fmt.Sprintf("http://127.0.0.1:%d/v2/token", directPort)
	u := harness.StartUnitRegtoken(t, harness.UnitRegtoken{Dir: f.Dir, Protocol: v.Protocol, Socket: socket,
		Unit: harness.SocketUnitFor(t, v.Protocol), DirectPort: directPort,
		Users: harness.Testdata("demo", "users.json"), Repositories: harness.Testdata("demo", "repositories.json")})
	return u.CertPath
}

// frontRecorder stands in for regtoken's HTTP socket and keeps every
// request as the front end sent it.
type frontRecorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (rec *frontRecorder) serve(t *testing.T, socket string) {
	t.Helper()
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(socket, 0o666) // Apache's children are www-data
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, r)
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"recorded":true}`)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

func (rec *frontRecorder) last() *http.Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) == 0 {
		return &http.Request{Header: http.Header{}, URL: &url.URL{}}
	}
	return rec.reqs[len(rec.reqs)-1]
}

// checkPath sends a token request through f and checks that the HTTP
// route passes method, path, query and Authorization on unchanged.
func (rec *frontRecorder) checkPath(t *testing.T, f *frontEnd) {
	t.Helper()
	a := frontToken(t, f.Realm, "foo", "foo", "repository:some-image:pull")
	if a.status != 200 {
		t.Fatalf("%s: request to the recorder: %d %s", f.Name, a.status, a.body)
	}
	r := rec.last()
	if r.Method != "GET" || r.URL.Path != "/v2/token" || r.URL.Query().Get("scope") != "repository:some-image:pull" {
		t.Errorf("%s: regtoken would get %s %s; want GET /v2/token?...scope=repository:some-image:pull", f.Name, r.Method, r.URL.RequestURI())
	}
	if u, p, ok := r.BasicAuth(); !ok || u != "foo" || p != "foo" {
		t.Errorf("%s: Authorization did not arrive intact", f.Name)
	}
}

// frontFetch does req and checks that no CGI Status header leaks to the
// client. Unlike nginx, Apache may answer chunked where regtoken sent a
// Content-Length (mod_proxy_fcgi always, mod_proxy_scgi when the answer is
// slow); that is valid HTTP/1.1, so it is not checked here.
func frontFetch(t *testing.T, req *http.Request) answer {
	t.Helper()
	a, _ := fetchPlain(t, req)
	noStatusHeader(t, req, a)
	return a
}

// frontToken asks for a token at realm with Basic auth (none if user is
// empty).
func frontToken(t *testing.T, realm, user, pass string, scopes ...string) answer {
	t.Helper()
	q := url.Values{"service": {"Authentication"}, "scope": scopes}
	req := newRequest(t, "GET", realm+"?"+q.Encode(), nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	return frontFetch(t, req)
}

// frontGrants lists a token's non-empty grants as "name:action,action".
func frontGrants(as []access) []string {
	var out []string
	for _, a := range as {
		if len(a.Actions) > 0 {
			out = append(out, a.Name+":"+strings.Join(a.Actions, ","))
		}
	}
	return out
}

// frontTokenChecks is the token flow through a front end: a login gets a
// token with foo's access (so Authorization arrived), a wrong password gets
// 401 with WWW-Authenticate, anonymous requests get what repositories.json
// whitelists. Each answer must equal what regtoken's own HTTP listener
// gives to the same request.
func frontTokenChecks(t *testing.T, f *frontEnd) {
	t.Helper()
	cases := []struct {
		name, user, pass string
		scopes           []string
		status           int
		sub              string
		grants           []string
	}{
		{"foo login", "foo", "foo", []string{"repository:some-image:pull,push", "repository:private/app:pull"}, 200, "foo", []string{"some-image:pull"}},
		{"wrong password", "foo", "wrong", []string{"repository:some-image:pull"}, 401, "", nil},
		{"anonymous whitelisted", "", "", []string{"repository:some-image:pull"}, 200, "", []string{"some-image:pull"}},
		{"anonymous private", "", "", []string{"repository:private/app:pull"}, 200, "", nil},
	}
	for _, c := range cases {
		got := frontToken(t, f.Realm, c.user, c.pass, c.scopes...)
		want := frontToken(t, f.Direct, c.user, c.pass, c.scopes...)
		if got.status != c.status || want.status != c.status {
			t.Errorf("%s: %s: status %d, direct %d, want %d: %s", f.Name, c.name, got.status, want.status, c.status, got.body)
			continue
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "WWW-Authenticate"} {
			if g, w := got.header.Values(h), want.header.Values(h); !slices.Equal(g, w) {
				t.Errorf("%s: %s: header %s %q, direct %q", f.Name, c.name, h, g, w)
			}
		}
		if c.status != 200 {
			if got.header.Get("WWW-Authenticate") == "" || string(got.body) != string(want.body) {
				t.Errorf("%s: %s: WWW-Authenticate %q, body %q; direct body %q", f.Name, c.name, got.header.Get("WWW-Authenticate"), got.body, want.body)
			}
			continue
		}
		cl, wcl := jwtClaims(t, got.body), jwtClaims(t, want.body)
		if cl.Subject != c.sub || cl.Audience != "Authentication" || !slices.Equal(frontGrants(cl.Access), c.grants) {
			t.Errorf("%s: %s: sub %q aud %q grants %q; want sub %q grants %q", f.Name, c.name, cl.Subject, cl.Audience, frontGrants(cl.Access), c.sub, c.grants)
		}
		if !slices.Equal(frontGrants(cl.Access), frontGrants(wcl.Access)) {
			t.Errorf("%s: %s: grants %q, direct %q", f.Name, c.name, frontGrants(cl.Access), frontGrants(wcl.Access))
		}
	}
}

// frontChunkedPost sends the OAuth2 password form chunked. wantStatus 0
// means it must work (200 and foo's token); otherwise the front end is
// known to refuse chunked bodies with that status.
func frontChunkedPost(t *testing.T, f *frontEnd, wantStatus int) {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "service": {"Authentication"}, "client_id": {"e2e"},
		"scope": {"repository:some-image:pull"}, "username": {"foo"}, "password": {"foo"}}
	req := newRequest(t, "POST", f.Realm, strings.NewReader(form.Encode()))
	req.ContentLength = -1 // unknown length: sent chunked
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	a := frontFetch(t, req)
	switch {
	case wantStatus == 0 && a.status != http.StatusOK:
		t.Errorf("%s: chunked POST: %d, want 200: %s", f.Name, a.status, a.body)
	case wantStatus == 0:
		if cl := jwtClaims(t, a.body); cl.Subject != "foo" {
			t.Errorf("%s: chunked POST: token for %q", f.Name, cl.Subject)
		}
	case a.status != wantStatus:
		t.Errorf("%s: chunked POST: %d; the shipped comment says %d", f.Name, a.status, wantStatus)
	}
}

// frontCraneFlow is crane through the front end to a real registry whose
// realm is the front end: bar pushes and pulls, anonymous pulls the
// whitelisted image and nothing else.
func frontCraneFlow(t *testing.T, f *frontEnd) {
	t.Helper()
	s := &harness.Stack{Host: f.Host, Dir: f.Dir}
	craneLogin(t, s, "bar", "bar")
	for _, ref := range []string{"some-image:latest", "private/app:v1"} {
		if out, ok := cranePush(t, s, ref); !ok {
			t.Fatalf("%s: bar push %s: %s", f.Name, ref, out)
		}
	}
	if out, ok := crane(t, s, "pull", f.Host+"/private/app:v1", filepath.Join(f.Dir, "bar.tar")); !ok {
		t.Fatalf("%s: bar pull private/app: %s", f.Name, out)
	}
	craneLogout(t, s)
	if out, ok := crane(t, s, "pull", f.Host+"/some-image:latest", filepath.Join(f.Dir, "anon.tar")); !ok {
		t.Fatalf("%s: anonymous pull of whitelisted some-image: %s", f.Name, out)
	}
	if out, ok := crane(t, s, "pull", f.Host+"/private/app:v1", filepath.Join(f.Dir, "anon2.tar")); ok || !refused(out) {
		t.Fatalf("%s: anonymous pull of private/app must be refused; ok=%v: %s", f.Name, ok, out)
	}
}
