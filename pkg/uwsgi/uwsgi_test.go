package uwsgi

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveOne serves srv on a fresh unix socket, sends request on one
// connection (then half-closes it) and returns every byte of the reply.
func serveOne(t *testing.T, srv *Server, request []byte) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "uwsgi.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(request); err != nil {
		t.Fatal(err)
	}
	c.(*net.UnixConn).CloseWrite()
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading reply: %v", err)
	}
	return string(reply)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestServeGoldenReplies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		request  []byte
		maxBody  int64
		handler  http.HandlerFunc
		want     string
		wantLogs string
	}{
		{
			name:    "GET answered 401 with a raw status line",
			request: readFile(t, "nginx-1.22-get.uwsgi"),
			handler: func(w http.ResponseWriter, r *http.Request) {
				if user, pass, _ := r.BasicAuth(); user != "alice" || pass != "secret" {
					t.Errorf("BasicAuth = %q, %q", user, pass)
				}
				if r.ContentLength != 0 || r.Body != http.NoBody {
					t.Errorf("empty CONTENT_LENGTH: ContentLength %d, Body %v", r.ContentLength, r.Body)
				}
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Www-Authenticate", `Basic realm="reg"`)
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"errors":[]}`)
			},
			want: "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n" +
				"Www-Authenticate: Basic realm=\"reg\"\r\nContent-Length: 13\r\n\r\n{\"errors\":[]}",
		},
		{
			name:    "chunked-origin POST arrives de-chunked",
			request: readFile(t, "nginx-1.22-chunked-post.uwsgi"),
			handler: func(w http.ResponseWriter, r *http.Request) {
				if te := r.Header.Get("Transfer-Encoding"); te != "" {
					t.Errorf("Transfer-Encoding %q survived", te)
				}
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, r.PostFormValue("username"))
			},
			want: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nalice",
		},
		{
			name:    "modifier1 30 with UWSGI_SCHEME=https",
			request: readFile(t, "nginx-1.22-modifier30-dup.uwsgi"),
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.TLS == nil {
					t.Error("UWSGI_SCHEME=https did not mark the request as TLS")
				}
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, r.URL.Path+"|"+r.Header.Get("X-Dup"))
			},
			want: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 22\r\n\r\n/uwsgi30/v2/token|a, b",
		},
		{
			name:    "HEAD has the length but no body",
			request: []byte(packet(0, vars("REQUEST_METHOD", "HEAD", "REQUEST_URI", "/"))),
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, "hello")
			},
			want: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n",
		},
		{
			name:    "Transfer-Encoding and Status from the handler stripped",
			request: []byte(get),
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Transfer-Encoding", "chunked")
				w.Header().Set("Status", "200 OK")
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, "ok")
			},
			want: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
		},
		{
			name:    "204",
			request: []byte(get),
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
			want:    "HTTP/1.1 204 No Content\r\n\r\n",
		},
		{
			name: "body over MaxBodyBytes gets 413",
			request: []byte(packet(0, vars("REQUEST_METHOD", "POST", "REQUEST_URI", "/", "CONTENT_LENGTH", "11")) +
				"hello world"),
			maxBody: 10,
			handler: func(w http.ResponseWriter, r *http.Request) { t.Error("handler called") },
			want: "HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n" +
				"X-Content-Type-Options: nosniff\r\nContent-Length: 25\r\n\r\nRequest Entity Too Large\n",
		},
		{
			name:    "unsupported modifier1 gets 400 and a log line",
			request: []byte(packet(5, vars("REQUEST_METHOD", "GET", "HTTP_AUTHORIZATION", "Bearer s3cr3t"))),
			handler: func(w http.ResponseWriter, r *http.Request) { t.Error("handler called") },
			want: "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n" +
				"X-Content-Type-Options: nosniff\r\nContent-Length: 12\r\n\r\nBad Request\n",
			wantLogs: "unsupported modifier1: 5",
		},
		{
			name:    "vars running past the block get 400",
			request: []byte(packet(0, vars("REQUEST_METHOD", "GET")+"\x64\x00KEY")),
			handler: func(w http.ResponseWriter, r *http.Request) { t.Error("handler called") },
			want: "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n" +
				"X-Content-Type-Options: nosniff\r\nContent-Length: 12\r\n\r\nBad Request\n",
			wantLogs: "length runs past the end",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := new(lockedBuffer)
			srv := &Server{Handler: tt.handler, MaxBodyBytes: tt.maxBody,
				ErrorLog: slog.New(slog.NewTextHandler(logs, nil))}
			got := serveOne(t, srv, tt.request)
			if got != tt.want {
				t.Errorf("reply\n got %q\nwant %q", got, tt.want)
			}
			if strings.Contains(strings.ToLower(got), "\r\nstatus:") {
				t.Error("uwsgi reply carries a Status header; nginx would leak it")
			}
			if !strings.Contains(logs.String(), tt.wantLogs) {
				t.Errorf("log %q lacks %q", logs.String(), tt.wantLogs)
			}
			if strings.Contains(logs.String(), "s3cr3t") {
				t.Errorf("log leaks a credential: %q", logs.String())
			}
		})
	}
}
