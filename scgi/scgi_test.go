package scgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/limits"
)

// serveOne serves srv on a fresh unix socket, sends request on one
// connection and returns every byte of the reply up to the server's close.
func serveOne(t testing.TB, srv *Server, request []byte) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "scgi.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	return exchange(t, sock, request)
}

func exchange(t testing.TB, sock string, request []byte) string {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(request); err != nil {
		t.Fatal(err)
	}
	// Half-close so a truncated request reads as truncated, not as slow.
	c.(*net.UnixConn).CloseWrite()
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading reply: %v", err)
	}
	return string(reply)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// What SCGI adds to the shared core: its request head, the CGI status line,
// and the Server fields. The rest of the serving (HEAD, 204, hop-by-hop
// headers) is the gateway's, tested there once for every protocol.
func TestServeGoldenReplies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		request []byte
		maxBody int64
		handler http.HandlerFunc
		want    string
	}{
		{
			name:    "GET with Authorization answered 401",
			request: readFile(t, "nginx-1.22-get.scgi"),
			handler: func(w http.ResponseWriter, r *http.Request) {
				if user, pass, _ := r.BasicAuth(); user != "alice" || pass != "secret" {
					t.Errorf("BasicAuth = %q, %q", user, pass)
				}
				if got := r.URL.Query().Get("scope"); got != "repository:alice/app:pull" {
					t.Errorf("scope = %q", got)
				}
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Www-Authenticate", `Basic realm="reg"`)
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"errors":[]}`)
			},
			want: "Status: 401 Unauthorized\r\nContent-Type: application/json\r\n" +
				"Www-Authenticate: Basic realm=\"reg\"\r\nContent-Length: 13\r\n\r\n{\"errors\":[]}",
		},
		{
			name:    "POST with body",
			request: []byte(netstring("CONTENT_LENGTH", "5", "SCGI", "1", "REQUEST_METHOD", "POST", "REQUEST_URI", "/") + "hello"),
			handler: func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				w.Header().Set("Content-Type", "text/plain")
				w.Write(body)
			},
			want: "Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
		},
		{
			name:    "chunked-origin POST arrives de-chunked",
			request: readFile(t, "nginx-1.22-chunked-post.scgi"),
			handler: func(w http.ResponseWriter, r *http.Request) {
				if te := r.Header.Get("Transfer-Encoding"); te != "" || r.ContentLength != 41 {
					t.Errorf("Transfer-Encoding %q, ContentLength %d", te, r.ContentLength)
				}
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, r.PostFormValue("username"))
			},
			want: "Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nalice",
		},
		{
			name:    "duplicate headers from nginx 1.22 folded",
			request: readFile(t, "nginx-1.22-dup-headers.scgi"),
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, r.Header.Get("X-Dup")+"|"+r.Header.Get("Cookie"))
			},
			want: "Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\na, b|a=1; b=2",
		},
		{
			name: "body over MaxBodyBytes gets 413",
			request: []byte(netstring("CONTENT_LENGTH", "11", "SCGI", "1", "REQUEST_METHOD", "POST", "REQUEST_URI", "/") +
				"hello world"),
			maxBody: 10,
			handler: func(w http.ResponseWriter, r *http.Request) { t.Error("handler called") },
			want: "Status: 413 Request Entity Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n" +
				"X-Content-Type-Options: nosniff\r\nContent-Length: 25\r\n\r\nRequest Entity Too Large\n",
		},
		{
			name:    "missing SCGI=1 gets 400",
			request: []byte(netstring("CONTENT_LENGTH", "0", "REQUEST_METHOD", "GET")),
			handler: func(w http.ResponseWriter, r *http.Request) { t.Error("handler called") },
			want: "Status: 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n" +
				"X-Content-Type-Options: nosniff\r\nContent-Length: 12\r\n\r\nBad Request\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &Server{Handler: tt.handler, MaxBodyBytes: tt.maxBody, ErrorLog: quietLog()}
			if got := serveOne(t, srv, tt.request); got != tt.want {
				t.Errorf("reply\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestServeRejectsEveryMalformedStream(t *testing.T) {
	t.Parallel()
	for _, tt := range malformed {
		if tt.maxBytes != 0 {
			continue // needs a cap of its own
		}
		t.Run(tt.name, func(t *testing.T) {
			srv := &Server{ErrorLog: quietLog(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				t.Error("handler called")
			})}
			if got := serveOne(t, srv, []byte(tt.stream)); !strings.HasPrefix(got, "Status: 400 Bad Request\r\n") {
				t.Errorf("reply %q, want a 400", got)
			}
		})
	}
}

func TestServeNilHandlerIsDefaultServeMux(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "scgi.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go Serve(l, nil)
	defer l.Close()
	// Nothing is registered on DefaultServeMux in this package: 404.
	if got := exchange(t, sock, []byte(netstring("CONTENT_LENGTH", "0", "SCGI", "1",
		"REQUEST_METHOD", "GET", "REQUEST_URI", "/nothing-here"))); !strings.HasPrefix(got, "Status: 404 Not Found\r\n") {
		t.Errorf("reply %q, want 404 from DefaultServeMux", got)
	}
}

func TestShutdownBeforeServe(t *testing.T) {
	t.Parallel()
	srv := &Server{}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "scgi.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(l); !errors.Is(err, ErrServerClosed) || !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
	}
}

func BenchmarkSCGIServe(b *testing.B) {
	sock := filepath.Join(b.TempDir(), "scgi.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	srv := &Server{ErrorLog: quietLog(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"token":"x"}`)
	})}
	go srv.Serve(l)
	defer srv.Close()
	request := readFile(b, "nginx-1.22-get.scgi")
	b.ReportAllocs()
	for b.Loop() {
		if reply := exchange(b, sock, request); !strings.HasPrefix(reply, "Status: 200 OK\r\n") {
			b.Fatalf("reply %q", reply)
		}
	}
}

// A zero Server enforces the limits of the one table regtoken's listeners
// use, so the standalone package and the service cannot disagree.
func TestZeroServerTakesTheLimitsTable(t *testing.T) {
	t.Parallel()
	srv := &Server{ErrorLog: quietLog(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	})}
	sock := filepath.Join(t.TempDir(), "scgi.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	post := func(n int64) string {
		length := strconv.FormatInt(n, 10)
		return exchange(t, sock, []byte(netstring("CONTENT_LENGTH", length, "SCGI", "1", "REQUEST_METHOD", "POST",
			"REQUEST_URI", "/")+strings.Repeat("x", int(n))))
	}
	if got := post(limits.DefaultMaxBodyBytes); !strings.HasSuffix(got, "\r\n\r\n"+strconv.Itoa(limits.DefaultMaxBodyBytes)) {
		t.Errorf("body of exactly the default limit: reply %.80q", got)
	}
	if got := post(limits.DefaultMaxBodyBytes + 1); !strings.HasPrefix(got, "Status: 413 ") {
		t.Errorf("body one byte over the default limit: reply %.80q, want 413", got)
	}
}

func TestProcessEnv(t *testing.T) {
	t.Parallel()
	envs := make(chan map[string]string, 1)
	srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { envs <- ProcessEnv(r) })}
	serveOne(t, srv, []byte(netstring("CONTENT_LENGTH", "0", "SCGI", "1", "REQUEST_METHOD", "GET",
		"SCRIPT_NAME", "/auth", "DOCUMENT_ROOT", "/srv")))
	if got := <-envs; got["SCRIPT_NAME"] != "/auth" || got["DOCUMENT_ROOT"] != "/srv" {
		t.Errorf("ProcessEnv = %v", got)
	}
	if ProcessEnv(httptest.NewRequest("GET", "/", nil)) != nil {
		t.Error("ProcessEnv of a request SCGI did not carry is not nil")
	}
}
