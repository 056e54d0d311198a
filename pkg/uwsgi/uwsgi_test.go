package uwsgi

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/gateway"
)

// serveOne serves request through the gateway core with this package's
// Protocol, on an in-memory connection, and returns the whole reply.
func serveOne(t *testing.T, cfg gateway.Config, request []byte) string {
	t.Helper()
	client, conn := net.Pipe()
	srv := gateway.NewServer(Protocol{}, cfg)
	go srv.Serve(&oneConnListener{conn: conn, closed: make(chan struct{})})
	defer srv.Close()
	client.SetDeadline(time.Now().Add(5 * time.Second))
	go client.Write(request)
	reply, err := io.ReadAll(client)
	if err != nil {
		t.Fatalf("reading reply: %v", err)
	}
	return string(reply)
}

// oneConnListener hands out one connection, then waits until closed.
type oneConnListener struct {
	conn   net.Conn
	once   sync.Once
	closed chan struct{}
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	if c := l.conn; c != nil {
		l.conn = nil
		return c, nil
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *oneConnListener) Addr() net.Addr { return &net.UnixAddr{Name: "pipe", Net: "unix"} }

// What uwsgi adds to the shared core: its request head and the raw status
// line. The rest of the serving (HEAD, 204, hop-by-hop headers, limits) is
// the gateway's, tested there once for every protocol.
func TestServeGoldenReplies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		request []byte
		handler http.HandlerFunc
		want    string
		wantErr string // in ReadHeaders' error, which the server logs
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
				w.WriteHeader(http.StatusUnauthorized)
			},
			want: "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n",
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
			name:    "unsupported modifier1 gets 400 and a log line",
			request: []byte(packet(5, vars("REQUEST_METHOD", "GET", "HTTP_AUTHORIZATION", "Bearer s3cr3t"))),
			handler: func(w http.ResponseWriter, r *http.Request) { t.Error("handler called") },
			want: "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n" +
				"X-Content-Type-Options: nosniff\r\nContent-Length: 12\r\n\r\nBad Request\n",
			wantErr: "unsupported modifier1: 5",
		},
		{
			name:    "vars running past the block get 400",
			request: []byte(packet(0, vars("REQUEST_METHOD", "GET")+"\x64\x00KEY")),
			handler: func(w http.ResponseWriter, r *http.Request) { t.Error("handler called") },
			want: "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n" +
				"X-Content-Type-Options: nosniff\r\nContent-Length: 12\r\n\r\nBad Request\n",
			wantErr: "length runs past the end",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := serveOne(t, gateway.Config{Handler: tt.handler, ErrorLog: slog.New(slog.DiscardHandler)}, tt.request)
			if got != tt.want {
				t.Errorf("reply\n got %q\nwant %q", got, tt.want)
			}
			if strings.Contains(strings.ToLower(got), "\r\nstatus:") {
				t.Error("uwsgi reply carries a Status header; nginx would leak it")
			}
			if tt.wantErr == "" {
				return
			}
			_, err := ReadHeaders(bufio.NewReader(bytes.NewReader(tt.request)), 0)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("ReadHeaders error %v, want one with %q and no variable value", err, tt.wantErr)
			}
		})
	}
}
