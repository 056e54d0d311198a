//go:build e2e

package e2e

// The FastCGI byte streams pkg/fastcgi's golden tests replay
// (pkg/fastcgi/testdata/*.fcgi) are what real front ends send. This test
// records them again, through a tap that copies every byte a front end
// writes to regtoken's FastCGI responder, and checks that each still has the
// shape of its committed file: the same records, flags, request IDs,
// parameter names in the same order, and body. Values such as ports and
// paths differ from host to host, so they are not compared.
//
// REGTOKEN_UPDATE_CAPTURES=1 writes the recordings into pkg/fastcgi/testdata.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
	"github.com/regtoken/regtoken/pkg/fastcgi"
)

// fcgiTap relays connections from its socket to a FastCGI responder and
// keeps what each connection sent.
type fcgiTap struct {
	mu    sync.Mutex
	conns []*bytes.Buffer
}

// startFCGITap serves socket: each connection is relayed to a fastcgi.Server
// of the test's own, which answers every request with a small JSON body.
func startFCGITap(t *testing.T, socket string) *fcgiTap {
	t.Helper()
	backend := socket + ".real"
	bl, err := net.Listen("unix", backend)
	if err != nil {
		t.Fatal(err)
	}
	srv := &fastcgi.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"token":"captured"}`)
	})}
	go srv.Serve(bl)
	t.Cleanup(func() { srv.Close() })

	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(socket, 0o666) // nginx's and Apache's workers are www-data
	t.Cleanup(func() { l.Close() })
	tap := &fcgiTap{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go tap.relay(t, c, backend)
		}
	}()
	return tap
}

func (tap *fcgiTap) relay(t *testing.T, c net.Conn, backend string) {
	defer c.Close()
	b, err := net.Dial("unix", backend)
	if err != nil {
		t.Errorf("tap: %v", err)
		return
	}
	defer b.Close()
	rec := &lockedBytes{}
	tap.mu.Lock()
	tap.conns = append(tap.conns, &rec.buf)
	tap.mu.Unlock()
	go func() {
		io.Copy(c, b)
		c.Close() // the responder closed: so does the front end's side
	}()
	io.Copy(b, io.TeeReader(c, rec))
}

type lockedBytes struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBytes) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// last returns a copy of what the latest connection sent so far.
func (tap *fcgiTap) last(t *testing.T) []byte {
	t.Helper()
	time.Sleep(100 * time.Millisecond) // the relay copies the last bytes
	tap.mu.Lock()
	defer tap.mu.Unlock()
	if len(tap.conns) == 0 {
		t.Fatal("tap: no connection recorded")
	}
	return bytes.Clone(tap.conns[len(tap.conns)-1].Bytes())
}

// count is how many connections the tap has relayed.
func (tap *fcgiTap) count() int {
	tap.mu.Lock()
	defer tap.mu.Unlock()
	return len(tap.conns)
}

// captureRequests are the requests recorded through every front end.
var (
	captureGet = func(t *testing.T, base string) *http.Request {
		q := url.Values{"service": {"Authentication"}, "scope": {"repository:some-image:pull"}}
		req := newRequest(t, "GET", base+"/v2/token?"+q.Encode(), nil)
		req.SetBasicAuth("alice", "secret")
		req.Header.Add("X-Dup", "a")
		req.Header.Add("X-Dup", "b")
		req.Header.Add("Cookie", "a=1")
		req.Header.Add("Cookie", "b=2")
		return req
	}
	capturePost = func(t *testing.T, base string, chunked bool) *http.Request {
		form := "grant_type=password&username=alice&x=1234"
		req := newRequest(t, "POST", base+"/v2/token", strings.NewReader(form))
		if chunked {
			req.ContentLength = -1
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	}
)

func captureDo(t *testing.T, req *http.Request) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"token":"captured"}` {
		t.Fatalf("%s %s: %d %q", req.Method, req.URL, resp.StatusCode, body)
	}
}

// TestFastCGICaptures records what nginx (fastcgi_keep_conn off and on),
// Apache mod_proxy_fcgi and Caddy send over FastCGI, and compares it with
// the committed captures.
func TestFastCGICaptures(t *testing.T) {
	t.Run("nginx", func(t *testing.T) {
		t.Parallel()
		base, plain, kept := startCaptureNginx(t)
		captureDo(t, captureGet(t, base))
		checkCapture(t, "nginx-1.22-get.fcgi", plain.last(t))
		captureDo(t, capturePost(t, base, true))
		checkCapture(t, "nginx-1.22-chunked-post.fcgi", plain.last(t))
		captureDo(t, captureGet(t, base+"/keep"))
		captureDo(t, capturePost(t, base+"/keep", false))
		if kept.count() != 1 {
			t.Errorf("fastcgi_keep_conn on: %d connections for two requests, want 1", kept.count())
		}
		checkCapture(t, "nginx-1.22-keep-conn.fcgi", kept.last(t))
	})
	t.Run("apache", func(t *testing.T) {
		t.Parallel()
		base, tap := startCaptureApache(t)
		captureDo(t, captureGet(t, base))
		checkCapture(t, "apache-2.4-get.fcgi", tap.last(t))
		captureDo(t, capturePost(t, base, false))
		checkCapture(t, "apache-2.4-post.fcgi", tap.last(t))
	})
	t.Run("caddy", func(t *testing.T) {
		t.Parallel()
		base, tap := startCaptureCaddy(t)
		captureDo(t, captureGet(t, base))
		checkCapture(t, "caddy-2.6-get.fcgi", tap.last(t))
		captureDo(t, capturePost(t, base, true))
		checkCapture(t, "caddy-2.6-chunked-post.fcgi", tap.last(t))
	})
}

// startCaptureNginx runs nginx with Debian's fastcgi_params in front of two
// taps: /v2/token without keep-alive, /keep/v2/token with an upstream
// keepalive pool and fastcgi_keep_conn on.
func startCaptureNginx(t *testing.T) (base string, plain, kept *fcgiTap) {
	dir := harness.ShortDir(t)
	plainSock, keptSock := filepath.Join(dir, "plain.sock"), filepath.Join(dir, "kept.sock")
	plain, kept = startFCGITap(t, plainSock), startFCGITap(t, keptSock)
	port := harness.FreePort(t)
	prefix := harness.NginxPrefix(t, dir)
	conf := harness.NginxConf(prefix, 1, fmt.Sprintf(`
    upstream kept { server unix:%[2]s; keepalive 4; }
    server {
        listen 127.0.0.1:%[1]d;
        server_name reg.example;
        location = /v2/token {
            include fastcgi_params;
            fastcgi_pass unix:%[3]s;
        }
        location = /keep/v2/token {
            include fastcgi_params;
            fastcgi_keep_conn on;
            fastcgi_pass kept;
        }
    }`, port, keptSock, plainSock))
	harness.StartNginxConf(t, prefix, conf, fmt.Sprintf("127.0.0.1:%d", port))
	return fmt.Sprintf("http://127.0.0.1:%d", port), plain, kept
}

// captureTap makes a directory with a tap on its fcgi.sock.
func captureTap(t *testing.T) (dir, sock string, tap *fcgiTap) {
	dir = harness.ShortDir(t)
	sock = filepath.Join(dir, "fcgi.sock")
	return dir, sock, startFCGITap(t, sock)
}

// startCaptureApache runs Apache with the shipped FastCGI route and
// CGIPassAuth On in front of a tap.
func startCaptureApache(t *testing.T) (string, *fcgiTap) {
	bin := harness.Tool(t, "apache2")
	dir, sock, tap := captureTap(t)
	port := fmt.Sprint(harness.FreePort(t))
	site := fmt.Sprintf(`<LocationMatch "^/v2/token$">
    CGIPassAuth On
</LocationMatch>
ProxyPassMatch "^/v2/token$" "unix:%s|fcgi://localhost/"
`, sock)
	conf := filepath.Join(dir, "httpd.conf")
	harness.WriteFile(t, conf, apacheMainConf(t, dir, port, []string{"proxy", "proxy_fcgi"}, site), 0o644)
	p := harness.Start(t, "apache2", exec.Command(bin, "-f", conf, "-D", "FOREGROUND"))
	p.WaitDial(t, "tcp", "127.0.0.1:"+port, 10*time.Second)
	return "http://127.0.0.1:" + port, tap
}

// startCaptureCaddy runs Caddy's FastCGI transport in front of a tap.
func startCaptureCaddy(t *testing.T) (string, *fcgiTap) {
	bin := harness.Tool(t, "caddy")
	dir, sock, tap := captureTap(t)
	port := harness.FreePort(t)
	path := filepath.Join(dir, "Caddyfile")
	harness.WriteFile(t, path, fmt.Sprintf("{\n\tadmin off\n}\n\nhttp://127.0.0.1:%d {\n\treverse_proxy unix/%s {\n\t\ttransport fastcgi\n\t}\n}\n", port, sock), 0o644)
	cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Env = caddyEnv(dir)
	p := harness.Start(t, "caddy", cmd)
	p.WaitDial(t, "tcp", fmt.Sprintf("127.0.0.1:%d", port), 15*time.Second)
	return fmt.Sprintf("http://127.0.0.1:%d", port), tap
}

// checkCapture compares a recording with the committed capture, or writes
// it there with REGTOKEN_UPDATE_CAPTURES=1.
func checkCapture(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(harness.RepoRoot(), "pkg", "fastcgi", "testdata", name)
	if os.Getenv("REGTOKEN_UPDATE_CAPTURES") == "1" {
		harness.WriteFile(t, path, string(got), 0o644)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (record it with REGTOKEN_UPDATE_CAPTURES=1)", err)
	}
	// Caddy sends its parameters from a Go map: in a new order each time.
	sorted := strings.HasPrefix(name, "caddy-")
	if g, w := streamShape(t, got, sorted), streamShape(t, want, sorted); g != w {
		t.Errorf("%s: the front end now sends\n%s\nthe committed capture has\n%s", name, g, w)
	}
}

// streamShape describes a FastCGI request stream without its values: one
// line per record run, PARAMS and STDIN streams joined, parameter names in
// wire order or sorted.
func streamShape(t *testing.T, b []byte, sorted bool) string {
	t.Helper()
	var out []string
	streams := map[[2]int][]byte{}
	for len(b) > 0 {
		if len(b) < 8 || b[0] != 1 {
			t.Fatalf("not a FastCGI stream at %q", b[:min(len(b), 16)])
		}
		typ, id := int(b[1]), int(binary.BigEndian.Uint16(b[2:4]))
		n, pad := int(binary.BigEndian.Uint16(b[4:6])), int(b[6])
		content := b[8 : 8+n]
		b = b[8+n+pad:]
		key := [2]int{typ, id}
		switch {
		case typ == 1:
			out = append(out, fmt.Sprintf("BEGIN_REQUEST id=%d role=%d flags=%d", id, int(content[0])<<8|int(content[1]), content[2]))
		case (typ == 4 || typ == 5) && n > 0:
			streams[key] = append(streams[key], content...)
		case typ == 4:
			out = append(out, fmt.Sprintf("PARAMS id=%d %s", id, paramNames(streams[key], sorted)))
			delete(streams, key)
		case typ == 5:
			out = append(out, fmt.Sprintf("STDIN id=%d %q", id, streams[key]))
			delete(streams, key)
		default:
			out = append(out, fmt.Sprintf("type %d id=%d %d bytes", typ, id, n))
		}
	}
	return strings.Join(out, "\n")
}

func paramNames(b []byte, sorted bool) string {
	var names []string
	size := func() int {
		if b[0] < 0x80 {
			n := int(b[0])
			b = b[1:]
			return n
		}
		n := int(binary.BigEndian.Uint32(b) &^ (1 << 31))
		b = b[4:]
		return n
	}
	for len(b) > 0 {
		nl := size()
		vl := size()
		names = append(names, string(b[:nl]))
		b = b[nl+vl:]
	}
	if sorted {
		slices.Sort(names)
	}
	return strings.Join(names, " ")
}
