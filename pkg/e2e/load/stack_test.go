//go:build e2e

package load

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
	"github.com/regtoken/regtoken/pkg/listen"
)

// What every row asks for. The scope is granted to anonymous callers and to
// every user, so each answer carries a token with one access entry.
const (
	service    = "registry"
	scope      = "repository:some-image:pull"
	password   = "load-test-password"
	cachedUser = "cached"
	floodUser  = "flood"
	// freshUsers share one hash but not a cache key (the key includes the
	// user), so each of them costs one bcrypt check on first use.
	freshUsers = 1000
)

// transport is one way nginx reaches a backend.
type transport struct {
	name     string // as printed in the table
	protocol string // the listener protocol
	keep     bool   // nginx keeps upstream connections open
}

var transports = []transport{
	{"scgi", listen.SCGI, false},
	{"uwsgi", listen.UWSGI, false},
	{"fastcgi", listen.FastCGI, false},
	{"fastcgi+keep_conn", listen.FastCGI, true},
	{"http", listen.HTTP, false},
	{"http+keepalive", listen.HTTP, true},
}

func transportNamed(name string) transport {
	for _, t := range transports {
		if t.name == name {
			return t
		}
	}
	panic("load: no transport " + name)
}

// slug is the transport's name as it appears in nginx locations and
// upstream names.
func (t transport) slug() string {
	if t.keep {
		return t.protocol + "_keep"
	}
	return t.protocol
}

// backend is a set of unix sockets, one per protocol, and its nginx paths.
type backend struct {
	prefix  string // "rt" or "trivial"
	sockets map[string]string
}

func newBackend(dir, prefix string) backend {
	b := backend{prefix: prefix, sockets: map[string]string{}}
	for _, p := range []string{listen.SCGI, listen.UWSGI, listen.FastCGI, listen.HTTP} {
		b.sockets[p] = filepath.Join(dir, prefix+"-"+p+".sock")
	}
	return b
}

// listenAddresses are the backend's sockets as regtoken's configuration
// names them.
func (b backend) listenAddresses() []string {
	var addrs []string
	for _, sock := range b.sockets {
		addrs = append(addrs, "unix:"+sock)
	}
	return addrs
}

// path is where nginx serves the backend over t.
func (b backend) path(t transport) string { return "/" + b.prefix + "/" + t.slug() + "/v2/token" }

// upstreams are the upstream blocks for the keep-alive transports.
func (b backend) upstreams() string {
	var s strings.Builder
	for _, t := range transports {
		if t.keep {
			fmt.Fprintf(&s, "upstream %s_%s { server unix:%s; keepalive 32; }\n    ",
				b.prefix, t.slug(), b.sockets[t.protocol])
		}
	}
	return s.String()
}

// locations are the nginx locations for every transport of the backend.
func (b backend) locations() string {
	var s strings.Builder
	for _, t := range transports {
		sock, up := b.sockets[t.protocol], b.prefix+"_"+t.slug()
		var body string
		switch {
		case t.protocol == listen.SCGI:
			body = "include /etc/nginx/scgi_params;\n            scgi_pass unix:" + sock + ";"
		case t.protocol == listen.UWSGI:
			body = "include /etc/nginx/uwsgi_params;\n            uwsgi_pass unix:" + sock + ";"
		case t.protocol == listen.FastCGI && !t.keep:
			body = "include /etc/nginx/fastcgi_params;\n            fastcgi_pass unix:" + sock + ";"
		case t.protocol == listen.FastCGI:
			body = "include /etc/nginx/fastcgi_params;\n            fastcgi_keep_conn on;\n            fastcgi_pass " + up + ";"
		case !t.keep:
			body = "proxy_pass http://unix:" + sock + ":;\n            " + harness.ProxyHeaders
		default:
			body = "proxy_pass http://" + up + ";\n            proxy_http_version 1.1;\n            proxy_set_header Connection \"\";\n            " + harness.ProxyHeaders
		}
		fmt.Fprintf(&s, "location = %s {\n            %s\n        }\n        ", b.path(t), body)
	}
	return s.String()
}

// instance is one regtoken process serving a backend's sockets.
type instance struct {
	backend
	config   string // extra TOML
	operator string // operator socket, for /metrics
	proc     *harness.Process
}

// stack is everything a load run talks to.
type stack struct {
	dir string
	// rt runs the default configuration; open has the failed-login
	// throttle off, which is what guesses from many addresses see; quiet
	// has the audit log off, to measure what the log costs; noTarpit
	// answers throttled guesses at once, to measure what the tarpit saves;
	// ldap logs users in from a slapd (ldap_test.go).
	rt, open, quiet, noTarpit, ldap *instance
	trivial                         backend
	// body is a real anonymous answer; the trivial responders and nginx's
	// fixed location send the same bytes, so every row moves as much data.
	body  []byte
	nginx map[int]int // listening port by worker count
	hash  []byte      // bcrypt hash of password
	cost  int         // its cost: 12 in full runs, the minimum in smoke runs

	keyPath, certPath string
}

// startStack starts regtoken (the default instance), the trivial responders
// and nginx. Passwords are hashed at cost 12 in full runs, and at the
// minimum cost in smoke runs, so that those stay quick on a busy machine.
func startStack(t *testing.T, full bool) *stack {
	t.Helper()
	harness.Tool(t, "nginx")
	wrkPath = harness.Tool(t, "wrk")
	dir := harness.ShortDir(t)
	s := &stack{dir: dir, trivial: newBackend(dir, "trivial"), nginx: map[int]int{}}
	s.rt = &instance{backend: newBackend(dir, "rt"), operator: filepath.Join(dir, "rt-operator.sock")}
	s.open = &instance{backend: newBackend(dir, "open"), operator: filepath.Join(dir, "open-operator.sock"),
		config: "[throttle]\nenabled = false\n"}
	s.quiet = &instance{backend: newBackend(dir, "quiet"), operator: filepath.Join(dir, "quiet-operator.sock"),
		config: "[log]\naudit = false\n"}
	s.noTarpit = &instance{backend: newBackend(dir, "notarpit"), operator: filepath.Join(dir, "notarpit-operator.sock"),
		config: "[throttle]\ntarpit_slots = -1\n"}
	s.ldap = &instance{backend: newBackend(dir, "ldap"), operator: filepath.Join(dir, "ldap-operator.sock")}
	s.cost = bcrypt.MinCost
	if full {
		s.cost = 12
	}
	var err error
	if s.hash, err = bcrypt.GenerateFromPassword([]byte(password), s.cost); err != nil {
		t.Fatal(err)
	}
	s.keyPath, s.certPath = harness.KeyPair(t, dir)
	s.writeRules(t)
	s.start(t, s.rt)
	s.body = s.answerBody(t)
	s.startTrivial(t)
	return s
}

// instances are every regtoken instance, started or not.
func (s *stack) instances() []*instance {
	return []*instance{s.rt, s.open, s.quiet, s.noTarpit, s.ldap}
}

// all joins f's text for every instance.
func (s *stack) all(f func(backend) string) string {
	var out strings.Builder
	for _, in := range s.instances() {
		out.WriteString(f(in.backend))
	}
	return out.String()
}

// start starts an instance unless it runs already.
func (s *stack) start(t *testing.T, in *instance) {
	if in.proc == nil {
		in.proc = harness.StartBusyRegtoken(t, s.writeConfig(t, in), in.listenAddresses()...)
	}
}

// writeRules writes users.json (every user may pull some-image) and
// repositories.json (so may anonymous callers).
func (s *stack) writeRules(t *testing.T) {
	users := map[string]any{}
	entry := map[string]any{"pass_hash": string(s.hash), "repositories": map[string][]string{"some-image": {"pull"}}}
	users[cachedUser], users[floodUser] = entry, entry
	for i := range freshUsers {
		users[freshName(i)] = entry
	}
	b, err := json.Marshal(users)
	if err != nil {
		t.Fatal(err)
	}
	harness.WriteFile(t, filepath.Join(s.dir, "users.json"), string(b), 0o644)
	harness.WriteFile(t, filepath.Join(s.dir, "repositories.json"),
		`{"backlist": false, "repositories": ["some-image"]}`, 0o644)
}

func freshName(i int) string { return fmt.Sprintf("fresh%04d", i) }

// writeConfig writes the instance's configuration: the defaults (audit
// log on, 5 minute tokens) plus refresh tokens, an operator socket, one
// listener per protocol, and the instance's extra TOML.
func (s *stack) writeConfig(t *testing.T, in *instance) string {
	var listeners strings.Builder
	for _, p := range []string{listen.SCGI, listen.UWSGI, listen.FastCGI, listen.HTTP} {
		fmt.Fprintf(&listeners, "[[listen]]\nprotocol = %q\naddress = \"unix:%s\"\nmode = \"0666\"\n\n", p, in.sockets[p])
	}
	path := filepath.Join(s.dir, in.prefix+".toml")
	harness.WriteFile(t, path, fmt.Sprintf(`[token]
issuer = "loadtest"
services = [%q]
key = %q
certificate = %q

[acl]
users = "users.json"
repositories = "repositories.json"

[refresh]
enabled = true

[operator]
listen = "unix:%s"

%s
%s`, service, s.keyPath, s.certPath, in.operator, in.config, listeners.String()), 0o644)
	return path
}

// answerBody fetches one anonymous answer straight from regtoken's HTTP
// socket.
func (s *stack) answerBody(t *testing.T) []byte {
	c := harness.UnixHTTPClient(s.rt.sockets[listen.HTTP])
	resp, err := c.Get("http://regtoken/v2/token?service=" + service + "&scope=" + scope)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("anonymous token from regtoken: %d %v %s", resp.StatusCode, err, b)
	}
	return b
}

// startTrivial serves a fixed answer on every protocol, through package
// listen with regtoken's default limits, as regtoken itself does.
func (s *stack) startTrivial(t *testing.T) {
	var specs []listen.Spec
	for _, p := range []string{listen.SCGI, listen.UWSGI, listen.FastCGI, listen.HTTP} {
		specs = append(specs, listen.Spec{Protocol: p, Address: "unix:" + s.trivial.sockets[p], Mode: 0o666})
	}
	body := s.body
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Type", "application/json")
		hd.Set("Cache-Control", "no-store")
		hd.Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body)
	})
	harness.Serve(t, h, specs...)
}

// startNginx runs nginx with the given number of workers in front of both
// backends and returns its port.
func (s *stack) startNginx(t *testing.T, workers int) int {
	if port, ok := s.nginx[workers]; ok {
		return port
	}
	port := harness.FreePort(t)
	prefix := harness.NginxPrefix(t, filepath.Join(s.dir, fmt.Sprintf("w%d", workers)))
	conf := harness.NginxConf(prefix, workers, fmt.Sprintf(`    %[2]s%[3]s
    server {
        listen 127.0.0.1:%[1]d;
        server_name localhost;
        location = /fixed {
            default_type application/json;
            add_header Cache-Control no-store;
            return 200 '%[4]s';
        }
        %[5]s%[6]s
    }`, port, s.all(backend.upstreams), s.trivial.upstreams(),
		strings.TrimSuffix(string(s.body), "\n")+"\n",
		s.all(backend.locations), s.trivial.locations()))
	harness.StartNginxConf(t, prefix, conf, fmt.Sprintf("127.0.0.1:%d", port))
	s.nginx[workers] = port
	return port
}
