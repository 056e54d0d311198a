package fastcgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/gateway"
	"github.com/regtoken/regtoken/pkg/limits"
)

// start serves h on a fresh loopback port and returns the address and a
// channel that receives Serve's result.
func start(t *testing.T, s *Server) (string, <-chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() { s.Close() })
	return l.Addr().String(), done
}

// echo answers with the parts of the request the tests look at.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "method=%s uri=%s auth=%q dup=%q cookie=%q ctype=%q te=%q remote=%s body=%q",
		r.Method, r.RequestURI, r.Header.Get("Authorization"), r.Header.Values("X-Dup"),
		r.Header.Get("Cookie"), r.Header.Values("Content-Type"), r.Header.Values("Transfer-Encoding"),
		r.RemoteAddr, body)
})

func TestRequestReachesHandler(t *testing.T) {
	addr, _ := start(t, &Server{Config: gateway.Config{Handler: echo}})
	params := getParams("POST", "/v2/token?x=1",
		pair{"CONTENT_TYPE", "application/x-www-form-urlencoded"},
		pair{"CONTENT_LENGTH", "11"},
		pair{"HTTP_AUTHORIZATION", "Basic YWxpY2U6cHc="},
		pair{"HTTP_X_DUP", "a"},
		pair{"HTTP_CONTENT_TYPE", "application/x-www-form-urlencoded"},
		pair{"HTTP_TRANSFER_ENCODING", "chunked"},
		pair{"HTTP_COOKIE", "k=1"},
		pair{"HTTP_X_DUP", "b"},
		pair{"HTTP_COOKIE", "l=2"},
	)
	resp := roundTrip(t, addr, fcgiRequest{params: params, body: "grant=x&y=z"})
	if resp.status != 200 {
		t.Fatalf("status: %v", resp)
	}
	for _, want := range []string{
		`method=POST`, `uri=/v2/token?x=1`, `auth="Basic YWxpY2U6cHc="`, `dup=["a, b"]`,
		`cookie="k=1; l=2"`, `ctype=["application/x-www-form-urlencoded"]`, `te=[]`,
		`remote=192.0.2.7:4711`, `body="grant=x&y=z"`,
	} {
		if !strings.Contains(resp.body, want) {
			t.Errorf("body lacks %s: %s", want, resp.body)
		}
	}
	if got, want := resp.header.Get("Content-Length"), fmt.Sprint(len(resp.body)); got != want {
		t.Errorf("Content-Length %q, body is %s bytes", got, want)
	}
}

func TestStatusAndLength(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("case") {
		case "401":
			w.Header().Set("WWW-Authenticate", `Bearer realm="r"`)
			w.WriteHeader(401)
			io.WriteString(w, `{"errors":[]}`)
		case "204":
			w.Header().Set("Content-Length", "99")
			w.WriteHeader(204)
		case "chunky":
			w.Header().Set("Transfer-Encoding", "chunked")
			w.Write([]byte("whole"))
		default:
			io.WriteString(w, "hello")
		}
	})
	addr, _ := start(t, &Server{Config: gateway.Config{Handler: h}})
	for _, tc := range []struct {
		method, uri string
		status      int
		length      string
		body        string
	}{
		{"GET", "/?case=401", 401, "13", `{"errors":[]}`},
		{"GET", "/?case=204", 204, "", ""},
		{"GET", "/?case=chunky", 200, "5", "whole"},
		{"HEAD", "/", 200, "5", ""},
	} {
		resp := roundTrip(t, addr, fcgiRequest{params: getParams(tc.method, tc.uri)})
		if resp.status != tc.status || resp.header.Get("Content-Length") != tc.length || resp.body != tc.body {
			t.Errorf("%s %s: got %v; want %d, length %q, body %q", tc.method, tc.uri, resp, tc.status, tc.length, tc.body)
		}
		if resp.header.Get("Transfer-Encoding") != "" {
			t.Errorf("%s: Transfer-Encoding reached nginx", tc.uri)
		}
	}
}

func TestPanicGives500AndServerLives(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			w.Header().Set("X-Half", "done")
			panic("boom")
		}
		io.WriteString(w, "ok")
	})
	var log lockedBuffer
	var st gateway.Stats
	addr, _ := start(t, &Server{Config: gateway.Config{Handler: h, Stats: &st,
		ErrorLog: slog.New(slog.NewTextHandler(&log, nil))}})
	resp := roundTrip(t, addr, fcgiRequest{params: getParams("GET", "/panic")})
	if resp.status != 500 || resp.header.Get("X-Half") != "" {
		t.Errorf("panic: got %v", resp)
	}
	if !strings.Contains(log.String(), "handler panic") || st.Panics.Load() != 1 {
		t.Errorf("panic not logged or not counted (%d): %q", st.Panics.Load(), log.String())
	}
	if resp := roundTrip(t, addr, fcgiRequest{params: getParams("GET", "/")}); resp.body != "ok" {
		t.Errorf("after panic: got %v", resp)
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRequestHasDeadline(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dl, ok := r.Context().Deadline()
		fmt.Fprint(w, ok && time.Until(dl) > 0 && time.Until(dl) <= time.Minute)
	})
	addr, _ := start(t, &Server{Config: gateway.Config{Handler: h, Limits: limits.Transport{RequestTimeout: time.Minute}}})
	if resp := roundTrip(t, addr, fcgiRequest{params: getParams("GET", "/")}); resp.body != "true" {
		t.Errorf("request context has no deadline within Timeout: %v", resp)
	}
}

func TestParamsOverCapCloseConnection(t *testing.T) {
	addr, _ := start(t, &Server{Config: gateway.Config{Handler: echo, Limits: limits.Transport{MaxHeaderBytes: 4096}}})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	big := pair{"HTTP_COOKIE", strings.Repeat("x", 5000)}
	conn.Write(fcgiRequest{params: getParams("GET", "/", big)}.encode())
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := conn.Read(make([]byte, 64)); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("oversized params: got %d bytes, err %v; want the connection closed", n, err)
	}
}

func TestIdleTimeoutClosesConnection(t *testing.T) {
	addr, _ := start(t, &Server{Config: gateway.Config{Handler: echo, Limits: limits.Transport{RequestTimeout: 100 * time.Millisecond}}})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("idle connection: got %v, want EOF from the server", err)
	}
}

// slowServer starts a server whose handler waits for release (or 300 ms).
func slowServer(t *testing.T, started chan<- struct{}, release <-chan struct{}) (*Server, string, <-chan error) {
	s := &Server{Config: gateway.Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-release:
		case <-time.After(300 * time.Millisecond):
		}
		io.WriteString(w, "finished")
	})}}
	addr, done := start(t, s)
	return s, addr, done
}

func TestShutdownDrainsInFlight(t *testing.T) {
	started := make(chan struct{}, 10)
	s, addr, served := slowServer(t, started, nil)
	const n = 5
	var wg sync.WaitGroup
	results := make([]fcgiResponse, n)
	for i := range n {
		wg.Go(func() {
			results[i] = roundTrip(t, addr, fcgiRequest{keepConn: i%2 == 0, params: getParams("GET", "/")})
		})
	}
	for range n {
		<-started
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	wg.Wait()
	for i, r := range results {
		if r.status != 200 || r.body != "finished" {
			t.Errorf("request %d: %v", i, r)
		}
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("connection accepted after Shutdown")
	}
}

func TestShutdownClosesKeptConnections(t *testing.T) {
	s := &Server{Config: gateway.Config{Handler: echo}}
	addr, _ := start(t, s)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write(fcgiRequest{keepConn: true, params: getParams("GET", "/")}.encode())
	if resp := readResponse(t, conn, 1); resp.status != 200 {
		t.Fatalf("first request: %v", resp)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	began := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with an idle kept connection: %v", err)
	}
	if d := time.Since(began); d > time.Second {
		t.Errorf("Shutdown took %v for an idle connection", d)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("kept connection after Shutdown: got %v, want EOF", err)
	}
}

func TestShutdownGivesUpAtDeadline(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	s, addr, _ := slowServer(t, started, release)
	go func() {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			defer conn.Close()
			conn.Write(fcgiRequest{params: getParams("GET", "/")}.encode())
			io.Copy(io.Discard, conn)
		}
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown past its deadline returned %v", err)
	}
}

func TestServeAfterCloseFails(t *testing.T) {
	s := &Server{Config: gateway.Config{Handler: echo}}
	s.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := s.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
}
