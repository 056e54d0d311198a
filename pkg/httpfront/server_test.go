package httpfront

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/gateway"
	"github.com/regtoken/regtoken/pkg/limits"
)

// start serves s on a unix socket in a temp dir and returns a client for it.
func start(t *testing.T, s *Server) (*http.Client, <-chan error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "http.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() { s.Close() })
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}
	t.Cleanup(client.CloseIdleConnections)
	return client, done
}

func TestLargeResponseHasContentLength(t *testing.T) {
	big := strings.Repeat("x", 10000) // far past net/http's 2 KiB chunking threshold
	client, _ := start(t, &Server{Config: gateway.Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(big[:5000]))
		w.Write([]byte(big[5000:]))
	})}})
	resp, err := client.Get("http://regtoken/v2/token")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ContentLength != 10000 || len(resp.TransferEncoding) > 0 || string(body) != big {
		t.Errorf("ContentLength %d, TransferEncoding %v, body %d bytes", resp.ContentLength, resp.TransferEncoding, len(body))
	}
}

func TestRemoteAddrFromTrustedProxy(t *testing.T) {
	client, _ := start(t, &Server{TrustProxyHeaders: true, Config: gateway.Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.RemoteAddr)
	})}})
	req, _ := http.NewRequest("GET", "http://regtoken/", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.5, 127.0.0.1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "127.0.0.1:0" {
		t.Errorf("RemoteAddr %q, want 127.0.0.1:0", body)
	}
}

func TestPanicGives500(t *testing.T) {
	client, _ := start(t, &Server{Config: gateway.Config{
		ErrorLog: slog.New(slog.DiscardHandler),
		Handler:  http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }),
	}})
	resp, err := client.Get("http://regtoken/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Errorf("status %d, want 500", resp.StatusCode)
	}
}

func TestHeaderLimit(t *testing.T) {
	client, _ := start(t, &Server{Config: gateway.Config{Limits: limits.Transport{MaxHeaderBytes: 1024}, Handler: http.NotFoundHandler()}})
	req, _ := http.NewRequest("GET", "http://regtoken/", nil)
	req.Header.Set("Cookie", strings.Repeat("c", 8192))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d, want 431", resp.StatusCode)
	}
}

func TestShutdownDrains(t *testing.T) {
	started := make(chan struct{}, 4)
	s := &Server{Config: gateway.Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "finished")
	})}}
	client, served := start(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			resp, err := client.Get("http://regtoken/")
			if err != nil {
				errs <- err
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "finished" {
				errs <- errors.New("body " + string(body))
			}
		})
	}
	for range 4 {
		<-started
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
}

func TestShutdownGivesUpAtDeadline(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	s := &Server{Config: gateway.Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
	})}}
	client, _ := start(t, s)
	go client.Get("http://regtoken/")
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown past its deadline returned %v", err)
	}
}

// A connection accepted before Shutdown whose request arrives only after
// Shutdown began must still be answered (net/http alone drops it: nginx would
// answer 502 to a request regtoken had accepted).
func TestShutdownAnswersConnectionsAcceptedBefore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "http.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Config: gateway.Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(50 * time.Millisecond) // accepted, request not yet sent
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	time.Sleep(50 * time.Millisecond) // Shutdown has begun
	io.WriteString(c, "GET /v2/token HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	reply, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(reply), "HTTP/1.1 200") || !strings.HasSuffix(string(reply), "ok") {
		t.Fatalf("request on a connection accepted before Shutdown: %q", reply)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown of a clean drain returned %v", err)
	}
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v, want ErrServerClosed", err)
	}
	if _, err := net.Dial("unix", path); err == nil {
		t.Fatal("a new connection after Shutdown was accepted")
	}
}

// keptConn dials the server's socket, sends one keep-alive request and
// reads its answer, leaving the connection open and idle.
func keptConn(t *testing.T, path string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: regtoken\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return c
}

func startOn(t *testing.T, s *Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "http.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return path
}

// A kept-alive connection idles for Limits.IdleTimeout, not for a whole
// request timeout.
func TestIdleTimeout(t *testing.T) {
	const idle = 200 * time.Millisecond
	path := startOn(t, &Server{Config: gateway.Config{Limits: limits.Transport{IdleTimeout: idle},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}})
	c := keptConn(t, path)
	began := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle connection: %v, want EOF", err)
	}
	if took := time.Since(began); took < idle-20*time.Millisecond || took > idle+2*time.Second {
		t.Errorf("idle connection closed after %v, want about %v", took, idle)
	}
}

// A listener full of idle keep-alive connections closes one for a new
// connection at once; one full of connections that never finish a request
// head cuts the oldest after HeadTimeout.
func TestFullListenerMakesRoom(t *testing.T) {
	var st gateway.Stats
	path := startOn(t, &Server{Config: gateway.Config{Stats: &st, ErrorLog: slog.New(slog.DiscardHandler),
		Limits:  limits.Transport{MaxConnections: 2, HeadTimeout: 100 * time.Millisecond},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}})
	keptConn(t, path)
	keptConn(t, path)
	began := time.Now()
	keptConn(t, path)
	if took := time.Since(began); took > time.Second || st.EvictedIdle.Load() != 1 {
		t.Errorf("request at a listener full of idle connections: %v, %d closed", took, st.EvictedIdle.Load())
	}
	for range 2 {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\n") // and nothing more
	}
	began = time.Now()
	keptConn(t, path)
	if took := time.Since(began); took > 2*time.Second || st.EvictedSlow.Load() == 0 {
		t.Errorf("request at a listener full of slow heads: %v, %d cut", took, st.EvictedSlow.Load())
	}
}
