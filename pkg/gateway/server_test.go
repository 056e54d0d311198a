package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/limits"
)

// lineProtocol is a stand-in wire format so the server can be tested
// without SCGI or uwsgi: one line of space-separated KEY=VALUE pairs, then
// the body; the reply starts with an HTTP/1.1 status line, so
// http.ReadResponse can parse it.
type lineProtocol struct{}

func (lineProtocol) Name() string         { return "line" }
func (lineProtocol) StatusPrefix() string { return "HTTP/1.1 " }

func (lineProtocol) ReadHeaders(br *bufio.Reader, maxBytes int) (map[string]string, error) {
	line, err := br.ReadString('\n')
	switch {
	case err == io.EOF && line == "":
		return nil, io.EOF
	case err == io.EOF:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	case len(line) > maxBytes:
		return nil, ErrHeaderTooLarge
	}
	env := map[string]string{}
	for _, f := range strings.Fields(line) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, errors.New("line: pair without '='")
		}
		if err := AddVar(env, k, v); err != nil {
			return nil, err
		}
	}
	return env, nil
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

const getLine = "REQUEST_METHOD=GET REQUEST_URI=/v2/token HTTP_HOST=reg.example REMOTE_ADDR=192.0.2.7\n"

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testServer struct {
	*Server
	sock   string
	log    *syncBuffer
	served chan error // Serve's result
}

// start serves cfg over lineProtocol on a fresh unix socket; the server is
// closed at cleanup.
func start(t *testing.T, cfg Config) *testServer {
	t.Helper()
	return startServer(t, cfg, func(c Config) *Server { return NewServer(lineProtocol{}, c) })
}

// startServer serves the server newServer makes from cfg, with a log the
// test can read.
func startServer(t *testing.T, cfg Config, newServer func(Config) *Server) *testServer {
	t.Helper()
	ts := &testServer{log: new(syncBuffer), served: make(chan error, 1)}
	cfg.ErrorLog = slog.New(slog.NewTextHandler(ts.log, nil))
	ts.Server = newServer(cfg)
	ts.sock = filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", ts.sock)
	if err != nil {
		t.Fatal(err)
	}
	go func() { ts.served <- ts.Serve(l) }()
	t.Cleanup(func() { ts.Close() })
	return ts
}

func (ts *testServer) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", ts.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readReply parses the reply on c, requiring the server to close after it.
func readReply(t *testing.T, c net.Conn) (*http.Response, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	raw, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading reply: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("reply %q: %v", raw, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reply body: %v", err)
	}
	return resp, string(body)
}

func (ts *testServer) roundTrip(t *testing.T, request string) (*http.Response, string) {
	t.Helper()
	c := ts.dial(t)
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	return readReply(t, c)
}

func TestServerRoundTrip(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s %s %s", r.Method, r.RequestURI, r.Host, r.RemoteAddr, body)
	})})
	resp, body := ts.roundTrip(t, "REQUEST_METHOD=POST REQUEST_URI=/v2/token HTTP_HOST=reg.example "+
		"REMOTE_ADDR=192.0.2.7 REMOTE_PORT=4711 CONTENT_LENGTH=5\nhello")
	if want := "POST /v2/token reg.example 192.0.2.7:4711 hello"; body != want {
		t.Errorf("body = %q, want %q", body, want)
	}
	if resp.ContentLength != int64(len(body)) || resp.TransferEncoding != nil {
		t.Errorf("ContentLength %d, TransferEncoding %q", resp.ContentLength, resp.TransferEncoding)
	}
}

// A reply above smallBody takes the writev path instead of one copy.
func TestServerLargeReply(t *testing.T) {
	t.Parallel()
	large := strings.Repeat("0123456789abcdef", 6<<10) // 96 KiB
	ts := start(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, large)
	})})
	resp, body := ts.roundTrip(t, getLine)
	if body != large || resp.ContentLength != int64(len(large)) {
		t.Errorf("large reply: %d bytes, Content-Length %d; want %d", len(body), resp.ContentLength, len(large))
	}
}

func TestServerShutdownDrainsInFlight(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	var finished atomic.Bool
	ts := start(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		finished.Store(true)
		io.WriteString(w, "done")
	})})
	c := ts.dial(t)
	io.WriteString(c, getLine)
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if !finished.Load() {
		t.Error("Shutdown returned before the in-flight handler finished")
	}
	if _, body := readReply(t, c); body != "done" {
		t.Errorf("in-flight reply body = %q, want done", body)
	}
	if err := <-ts.served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
	if c, err := net.Dial("unix", ts.sock); err == nil {
		c.Close()
		t.Error("new connection accepted after Shutdown")
	}
}

func TestServerShutdownForceClosesAtDeadline(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	handlerSawCancel := make(chan struct{})
	ts := start(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		close(handlerSawCancel)
	})})
	c := ts.dial(t)
	io.WriteString(c, getLine)
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := ts.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want context.DeadlineExceeded", err)
	}
	select {
	case <-handlerSawCancel:
	case <-time.After(2 * time.Second):
		t.Fatal("handler context not cancelled by the forced close")
	}
}

func TestServerMalformedConnDoesNotDisturbOthers(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	ts := start(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-gate
		io.WriteString(w, "good")
	})})
	good := ts.dial(t)
	io.WriteString(good, getLine)

	resp, _ := ts.roundTrip(t, "HTTP_AUTHORIZATION=Basic-c2VjcmV0 garbage\n")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed request: status %d, want 400", resp.StatusCode)
	}
	close(gate)
	if _, body := readReply(t, good); body != "good" {
		t.Errorf("concurrent good request got %q", body)
	}
	logged := ts.log.String()
	if !strings.Contains(logged, "malformed request") || !strings.Contains(logged, "protocol=line") {
		t.Errorf("malformed stream not logged with its protocol: %q", logged)
	}
	if strings.Contains(logged, "c2VjcmV0") {
		t.Errorf("log line leaks a header value: %q", logged)
	}
}

func TestServerHandlerPanic(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			w.Header().Set("X-Half", "written")
			io.WriteString(w, "partial")
			panic("boom")
		}
		io.WriteString(w, "fine")
	})})
	resp, body := ts.roundTrip(t, "REQUEST_METHOD=GET REQUEST_URI=/panic\n")
	if resp.StatusCode != http.StatusInternalServerError || body != "Internal Server Error\n" ||
		resp.Header.Get("X-Half") != "" {
		t.Errorf("panic reply: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if _, body := ts.roundTrip(t, getLine); body != "fine" {
		t.Errorf("request after the panic got %q", body)
	}
	if !strings.Contains(ts.log.String(), "handler panic") {
		t.Error("panic not logged")
	}
}

func TestServerAbortHandlerDropsConnection(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "never sent")
		panic(http.ErrAbortHandler)
	})})
	c := ts.dial(t)
	io.WriteString(c, getLine)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if raw, err := io.ReadAll(c); err != nil || len(raw) != 0 {
		t.Errorf("aborted request got %q, %v; want a bare close", raw, err)
	}
}

func TestServerCutsTricklingClientAtTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	ts := start(t, Config{Limits: limits.Transport{RequestTimeout: timeout}, Handler: http.NotFoundHandler()})
	c := ts.dial(t)
	begin := time.Now()
	go func() {
		for _, b := range []byte(getLine) {
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	raw, _ := io.ReadAll(c)
	if took := time.Since(begin); took < timeout-50*time.Millisecond || took > timeout+3*time.Second { // the deadline starts at accept, a moment before begin
		t.Errorf("connection closed after %v, want about %v", took, timeout)
	}
	if len(raw) != 0 {
		t.Errorf("trickling client got a reply: %q", raw)
	}
}

func TestServerBodyTooLarge(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{Limits: limits.Transport{MaxBodyBytes: 10}, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("handler called for an oversized body")
	})})
	resp, _ := ts.roundTrip(t, "REQUEST_METHOD=POST REQUEST_URI=/ CONTENT_LENGTH=11\n"+strings.Repeat("x", 11))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", resp.StatusCode)
	}
}

func TestServerMaxConns(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	var running, peak atomic.Int32
	ts := start(t, Config{Limits: limits.Transport{MaxConnections: 1}, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := running.Add(1)
		defer running.Add(-1)
		if n > peak.Load() {
			peak.Store(n)
		}
		<-gate
	})})
	first, second := ts.dial(t), ts.dial(t)
	io.WriteString(first, getLine)
	io.WriteString(second, getLine)
	time.Sleep(200 * time.Millisecond)
	if n := running.Load(); n != 1 {
		t.Errorf("%d handlers running with MaxConnections 1", n)
	}
	close(gate)
	readReply(t, first)
	readReply(t, second)
	if peak.Load() != 1 {
		t.Errorf("peak concurrency %d, want 1", peak.Load())
	}
}

func TestServerContextEndsWithConnection(t *testing.T) {
	t.Parallel()
	ctxs := make(chan context.Context, 1)
	ts := start(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if Env(r)["REMOTE_ADDR"] != "192.0.2.7" {
			t.Errorf("Env(r) = %v", Env(r))
		}
		ctxs <- r.Context()
	})})
	ts.roundTrip(t, getLine)
	ctx := <-ctxs
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
		t.Error("request context still live after the connection closed")
	}
}

func TestServeAfterShutdown(t *testing.T) {
	t.Parallel()
	s := NewServer(lineProtocol{}, Config{})
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v", err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("listener not closed: %v", err)
	}
}

// flakyListener fails its first Accepts with EMFILE, as a process out of
// descriptors would.
type flakyListener struct {
	failures atomic.Int32
	conns    chan net.Conn
	closed   chan struct{}
	once     sync.Once
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.failures.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "unix", Err: syscall.EMFILE}
	}
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *flakyListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *flakyListener) Addr() net.Addr { return &net.UnixAddr{Name: "flaky", Net: "unix"} }

func TestServerRetriesTemporaryAcceptErrors(t *testing.T) {
	t.Parallel()
	l := &flakyListener{conns: make(chan net.Conn, 1), closed: make(chan struct{})}
	l.failures.Store(3)
	logs := new(syncBuffer)
	s := NewServer(lineProtocol{}, Config{
		ErrorLog: slog.New(slog.NewTextHandler(logs, nil)),
		Handler:  http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
	})
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	defer s.Close()

	client, server := net.Pipe()
	defer client.Close()
	l.conns <- server
	go io.WriteString(client, getLine)
	if _, body := readReply(t, client); body != "ok" {
		t.Errorf("reply after accept errors = %q", body)
	}
	if n := strings.Count(logs.String(), "accept failed"); n != 3 {
		t.Errorf("logged %d accept failures, want 3", n)
	}
	s.Close()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
}

func TestServerCloseDropsActiveConnections(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	ts := start(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})})
	c := ts.dial(t)
	io.WriteString(c, getLine)
	<-started
	ts.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if raw, err := io.ReadAll(c); err != nil || len(raw) != 0 {
		t.Errorf("after Close got %q, %v; want a bare close", raw, err)
	}
	if err := <-ts.served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
}

// Refused requests are counted by reason, so they show in metrics.
func TestServerCountsRefusals(t *testing.T) {
	t.Parallel()
	var st Stats
	ts := start(t, Config{Stats: &st, Limits: limits.Transport{MaxBodyBytes: 4}, Handler: http.NotFoundHandler()})
	ts.roundTrip(t, "garbage\n")
	ts.roundTrip(t, "REQUEST_METHOD=POST REQUEST_URI=/ CONTENT_LENGTH=10\n0123456789")
	if st.Malformed.Load() != 1 || st.BodyTooLarge.Load() != 1 {
		t.Errorf("malformed %d, body too large %d; want 1 and 1", st.Malformed.Load(), st.BodyTooLarge.Load())
	}
}
