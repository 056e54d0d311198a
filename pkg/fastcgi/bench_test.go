package fastcgi

import (
	"io"
	"net"
	"net/http"
	"testing"
)

// benchServer serves a fixed small JSON answer on a unix socket, as nginx
// reaches regtoken.
func benchServer(b *testing.B) string {
	sock, _ := start(b, &Server{ErrorLog: quietLog(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"token":"x"}`)
	})})
	return sock
}

var benchParams = getParams("GET", "/v2/token?service=reg&scope=repository:a:pull",
	pair{"HTTP_AUTHORIZATION", "Basic YWxpY2U6c2VjcmV0"}, pair{"HTTP_USER_AGENT", "docker/27.0"})

// BenchmarkFastCGIServe is one request per connection, as nginx sends
// them without fastcgi_keep_conn.
func BenchmarkFastCGIServe(b *testing.B) {
	sock := benchServer(b)
	request := fcgiRequest{params: benchParams}.encode()
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
	request := fcgiRequest{keepConn: true, params: benchParams}.encode()
	c := dial(b, sock)
	if resp := roundTripOn(b, c, request); resp.status != 200 {
		b.Fatalf("status %d", resp.status)
	}
	buf := make([]byte, 64<<10)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(request); err != nil {
			b.Fatal(err)
		}
		if err := skipResponse(c, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func roundTripOn(b *testing.B, c net.Conn, request []byte) fcgiResponse {
	if _, err := c.Write(request); err != nil {
		b.Fatal(err)
	}
	return readResponse(b, c, 1)
}

// skipResponse reads records into buf until END_REQUEST, allocating
// nothing, so that the benchmark counts the server's allocations only.
func skipResponse(c net.Conn, buf []byte) error {
	for {
		if _, err := io.ReadFull(c, buf[:8]); err != nil {
			return err
		}
		typ, n := buf[1], (int(buf[4])<<8|int(buf[5]))+int(buf[6])
		if _, err := io.ReadFull(c, buf[:n]); err != nil {
			return err
		}
		if typ == typeEndRequest {
			return nil
		}
	}
}
