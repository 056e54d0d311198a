package fastcgi

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/regtoken/regtoken/pkg/gateway"
)

// benchServer serves a fixed small JSON answer on a unix socket, as nginx
// reaches regtoken.
func benchServer(b *testing.B) string {
	sock := filepath.Join(b.TempDir(), "fcgi.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	s := &Server{Config: gateway.Config{ErrorLog: slog.New(slog.DiscardHandler),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"token":"x"}`)
		})}}
	go s.Serve(l)
	b.Cleanup(func() { s.Close() })
	return sock
}

// BenchmarkFastCGIServe is one request per connection, as nginx sends
// them without fastcgi_keep_conn.
func BenchmarkFastCGIServe(b *testing.B) {
	sock := benchServer(b)
	request := fcgiRequest{params: getParams("GET", "/v2/token?service=reg&scope=repository:a:pull")}.encode()
	b.ReportAllocs()
	for b.Loop() {
		c, err := net.Dial("unix", sock)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Write(request); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadAll(c); err != nil { // the server closes after END_REQUEST
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkFastCGIServeKeepConn sends every request on one connection, as
// nginx does with fastcgi_keep_conn on.
func BenchmarkFastCGIServeKeepConn(b *testing.B) {
	sock := benchServer(b)
	request := fcgiRequest{keepConn: true, params: getParams("GET", "/v2/token?service=reg&scope=repository:a:pull")}.encode()
	c, err := net.Dial("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	t := &testing.T{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(request); err != nil {
			b.Fatal(err)
		}
		if resp := readResponse(t, c, 1); resp.status != 200 {
			b.Fatalf("status %d", resp.status)
		}
	}
}
