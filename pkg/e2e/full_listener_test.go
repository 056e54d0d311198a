//go:build e2e

package e2e

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
	"github.com/regtoken/regtoken/pkg/limits"
)

// fullBacklog is how many connections beyond max_connections the tests
// open: they wait in the kernel's listen queue, ahead of nginx's.
const fullBacklog = 50

// TestFullListenerServesNginx fills regtoken's socket, at the default
// max_connections, with connections that never finish a request head and,
// where the protocol keeps connections (FastCGI, HTTP), with idle kept-alive
// connections, straight on the socket as a local attacker would. A token
// request through the shipped nginx site must still be answered within a
// second, and the log and the metrics must say what made room.
func TestFullListenerServesNginx(t *testing.T) {
	for _, c := range []struct {
		protocol string
		idle     bool // fill with idle kept-alive connections instead of slow ones
	}{
		{"scgi", false}, {"uwsgi", false}, {"fastcgi", false}, {"fastcgi", true}, {"http", false}, {"http", true},
	} {
		kind := map[bool]string{false: "slow", true: "idle"}[c.idle]
		t.Run(c.protocol+" "+kind, func(t *testing.T) {
			dir := harness.ShortDir(t)
			operator := filepath.Join(dir, "operator.sock")
			s := harness.StartSite(t, harness.SiteOptions{Protocol: c.protocol, Registry: harness.NoRegistry,
				ExtraConfig: fmt.Sprintf("[operator]\nlisten = \"unix:%s\"\n", operator)})
			began := time.Now()
			conns := fillListener(t, s.Socket, c.protocol, c.idle, limits.DefaultMaxConnections+fullBacklog)
			filled := time.Since(began)

			began = time.Now()
			status := anonymousToken(t, s.Realm)
			took := time.Since(began)
			t.Logf("%d %s connections opened in %v; a token request through nginx then took %v",
				len(conns), kind, filled.Round(time.Millisecond), took.Round(time.Millisecond))
			if status != 200 || took > time.Second {
				t.Errorf("token request through nginx at a listener full of %s connections: %d after %v, want 200 within 1 s",
					kind, status, took)
			}
			reason := "connection_evicted_" + kind
			if n := transportCounter(t, operator, reason); n < fullBacklog {
				t.Errorf("%s = %v, want at least the %d connections that waited", reason, n, fullBacklog)
			}
			if !strings.Contains(s.Regtoken.Output(), "listener full") {
				t.Error("regtoken did not log that the listener was full")
			}
			for _, c := range conns {
				c.Close()
			}
		})
	}
}

// fillListener opens n connections to socket: idle ones have had a request
// answered and stay open (keep-alive), slow ones have sent part of a request
// head.
func fillListener(t *testing.T, socket, protocol string, idle bool, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []error
	work := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range work {
				c, err := net.Dial("unix", socket)
				if err == nil && idle && i < limits.DefaultMaxConnections {
					err = keepAliveRequest(c, protocol)
				} else if err == nil {
					_, err = c.Write(partialHead[protocol])
				}
				if err != nil {
					mu.Lock()
					failed = append(failed, err)
					mu.Unlock()
				}
				conns[i] = c
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d of %d connections failed, the first with %v", len(failed), n, failed[0])
	}
	return conns
}

// partialHead is the start of a request head in each protocol.
var partialHead = map[string][]byte{
	"scgi":    []byte("70:CONTENT_LENGTH\x000\x00"),
	"uwsgi":   {0, 100, 0, 0, 14, 0, 'R', 'E', 'Q'},
	"fastcgi": append(fcgiRec(1, []byte{0, 1, 1, 0, 0, 0, 0, 0}), 1, 4, 0, 1, 0, 100, 0, 0, 14, 0),
	"http":    []byte("GET /v2/token HTTP/1.1\r\nHost: reg.example\r\n"),
}

// keepAliveRequest sends one anonymous token request that asks to keep the
// connection (FastCGI: FCGI_KEEP_CONN; HTTP/1.1: the default) and reads the
// answer.
func keepAliveRequest(c net.Conn, protocol string) error {
	c.SetDeadline(time.Now().Add(20 * time.Second))
	defer c.SetDeadline(time.Time{})
	uri := "/v2/token?service=Authentication&scope=repository:some-image:pull"
	switch protocol {
	case "http":
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: reg.example\r\nX-Real-IP: 192.0.2.9\r\n\r\n", uri); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		return statusError(resp.StatusCode)
	case "fastcgi":
		var params []byte
		for _, kv := range [][2]string{{"REQUEST_METHOD", "GET"}, {"REQUEST_URI", uri}, {"SERVER_PROTOCOL", "HTTP/1.1"},
			{"REMOTE_ADDR", "192.0.2.9"}, {"HTTP_HOST", "reg.example"}, {"QUERY_STRING", strings.SplitN(uri, "?", 2)[1]}} {
			params = append(params, byte(len(kv[0])), byte(len(kv[1])))
			params = append(params, kv[0]+kv[1]...)
		}
		req := fcgiRec(1, []byte{0, 1, 1, 0, 0, 0, 0, 0}) // BEGIN_REQUEST, responder, FCGI_KEEP_CONN
		req = append(req, fcgiRec(4, params)...)
		req = append(req, fcgiRec(4, nil)...)
		req = append(req, fcgiRec(5, nil)...)
		if _, err := c.Write(req); err != nil {
			return err
		}
		return readFCGIEnd(c)
	}
	return fmt.Errorf("no keep-alive for %s", protocol)
}

func statusError(code int) error {
	if code != 200 {
		return fmt.Errorf("status %d", code)
	}
	return nil
}

// fcgiRec is one FastCGI record for request 1.
func fcgiRec(typ byte, content []byte) []byte {
	b := []byte{1, typ, 0, 1}
	b = binary.BigEndian.AppendUint16(b, uint16(len(content)))
	return append(append(b, 0, 0), content...)
}

// readFCGIEnd reads records until END_REQUEST and checks the status line.
func readFCGIEnd(c net.Conn) error {
	var stdout []byte
	for {
		var h [8]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return err
		}
		content := make([]byte, int(binary.BigEndian.Uint16(h[4:6]))+int(h[6]))
		if _, err := io.ReadFull(c, content); err != nil {
			return err
		}
		switch h[1] {
		case 6:
			stdout = append(stdout, content[:binary.BigEndian.Uint16(h[4:6])]...)
		case 3:
			if !strings.HasPrefix(string(stdout), "Status: 200 ") {
				return fmt.Errorf("answer %.40q", stdout)
			}
			return nil
		}
	}
}

// anonymousToken asks for an anonymous token through nginx and returns the
// status.
func anonymousToken(t *testing.T, realm string) int {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(realm + "?service=Authentication&scope=repository:some-image:pull")
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// transportCounter reads regtoken_transport_rejected_total for reason.
func transportCounter(t *testing.T, operator, reason string) float64 {
	t.Helper()
	resp, err := harness.UnixHTTPClient(operator).Get("http://operator/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	prefix := `regtoken_transport_rejected_total{reason="` + reason + `"} `
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return n
		}
	}
	t.Fatalf("no %s in the metrics", prefix)
	return 0
}
