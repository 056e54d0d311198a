package fastcgi

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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/gateway"
	"github.com/regtoken/regtoken/pkg/limits"
)

type server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// start serves s on a fresh unix socket and returns its path and a channel
// that receives Serve's result.
func start(t testing.TB, s server) (string, <-chan error) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "fcgi.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() { s.Close() })
	return sock, done
}

// startCore serves cfg through the gateway core, as regtoken's listeners
// do, with a log the test can read.
func startCore(t testing.TB, cfg gateway.Config) (string, *lockedBuffer) {
	t.Helper()
	log := new(lockedBuffer)
	cfg.ErrorLog = slog.New(slog.NewTextHandler(log, nil))
	sock, _ := start(t, gateway.NewSessionServer(Protocol{}, cfg))
	return sock, log
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

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// echo answers with the parts of the request the tests look at.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "method=%s uri=%s auth=%q dup=%q cookie=%q ctype=%q te=%q remote=%s length=%d body=%q err=%v",
		r.Method, r.RequestURI, r.Header.Get("Authorization"), r.Header.Values("X-Dup"),
		r.Header.Get("Cookie"), r.Header.Values("Content-Type"), r.Header.Values("Transfer-Encoding"),
		r.RemoteAddr, r.ContentLength, body, err)
})

func TestRequestReachesHandler(t *testing.T) {
	t.Parallel()
	sock, _ := start(t, &Server{Handler: echo, ErrorLog: quietLog()})
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
		pair{"HTTP_X_LONG", strings.Repeat("v", 300)}, // a 4-byte length
	)
	resp := roundTrip(t, sock, fcgiRequest{params: params, body: "grant=x&y=z"})
	if resp.status != 200 {
		t.Fatalf("status: %v", resp)
	}
	for _, want := range []string{
		`method=POST`, `uri=/v2/token?x=1`, `auth="Basic YWxpY2U6cHc="`, `dup=["a, b"]`,
		`cookie="k=1; l=2"`, `ctype=["application/x-www-form-urlencoded"]`, `te=[]`,
		`remote=192.0.2.7:4711`, `length=11`, `body="grant=x&y=z"`, `err=<nil>`,
	} {
		if !strings.Contains(resp.body, want) {
			t.Errorf("body lacks %s: %s", want, resp.body)
		}
	}
	if got, want := resp.header.Get("Content-Length"), fmt.Sprint(len(resp.body)); got != want {
		t.Errorf("Content-Length %q, body is %s bytes", got, want)
	}
}

// Caddy may leave CONTENT_LENGTH out; the STDIN stream says how long the
// body is.
func TestBodyWithoutContentLength(t *testing.T) {
	t.Parallel()
	sock, _ := start(t, &Server{Handler: echo, ErrorLog: quietLog()})
	resp := roundTrip(t, sock, fcgiRequest{params: getParams("POST", "/"), body: strings.Repeat("b", 65536)})
	if !strings.Contains(resp.body, "length=65536") || !strings.Contains(resp.body, "err=<nil>") {
		t.Errorf("body of two STDIN records without CONTENT_LENGTH: %.200s", resp.body)
	}
}

func TestStatusAndLength(t *testing.T) {
	t.Parallel()
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
		case "big":
			io.WriteString(w, strings.Repeat("0123456789", 20000)) // three STDOUT records
		default:
			io.WriteString(w, "hello")
		}
	})
	sock, _ := start(t, &Server{Handler: h, ErrorLog: quietLog()})
	for _, tc := range []struct {
		method, uri string
		status      int
		length      string
		body        string
	}{
		{"GET", "/?case=401", 401, "13", `{"errors":[]}`},
		{"GET", "/?case=204", 204, "", ""},
		{"GET", "/?case=chunky", 200, "5", "whole"},
		{"GET", "/?case=big", 200, "200000", strings.Repeat("0123456789", 20000)},
		{"HEAD", "/", 200, "5", ""},
	} {
		resp := roundTrip(t, sock, fcgiRequest{params: getParams(tc.method, tc.uri)})
		if resp.status != tc.status || resp.header.Get("Content-Length") != tc.length || resp.body != tc.body {
			t.Errorf("%s %s: got %.200v; want %d, length %q", tc.method, tc.uri, resp, tc.status, tc.length)
		}
		if resp.header.Get("Transfer-Encoding") != "" {
			t.Errorf("%s: Transfer-Encoding reached nginx", tc.uri)
		}
	}
}

// With FCGI_KEEP_CONN, as nginx sends it with fastcgi_keep_conn on, one
// connection carries request after request; without it, the connection
// closes after the answer.
func TestKeepConn(t *testing.T) {
	t.Parallel()
	sock, _ := start(t, &Server{Handler: echo, ErrorLog: quietLog()})
	conn := dial(t, sock)
	for i := range 3 {
		q := fcgiRequest{id: 1, keepConn: true, params: getParams("GET", fmt.Sprintf("/%d", i))}
		conn.Write(q.encode())
		if resp := readResponse(t, conn, 1); !strings.Contains(resp.body, fmt.Sprintf("uri=/%d ", i)) {
			t.Errorf("request %d on a kept connection: %v", i, resp)
		}
	}
	conn.Write(fcgiRequest{id: 7, params: getParams("GET", "/last")}.encode())
	if resp := readResponse(t, conn, 7); resp.status != 200 {
		t.Errorf("last request: %v", resp)
	}
	expectClosed(t, conn, "after a request without FCGI_KEEP_CONN")
}

func TestPanicGives500AndServerLives(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			w.Header().Set("X-Half", "done")
			panic("boom")
		}
		io.WriteString(w, "ok")
	})
	var st gateway.Stats
	sock, log := startCore(t, gateway.Config{Handler: h, Stats: &st})
	conn := dial(t, sock)
	conn.Write(fcgiRequest{keepConn: true, params: getParams("GET", "/panic")}.encode())
	if resp := readResponse(t, conn, 1); resp.status != 500 || resp.header.Get("X-Half") != "" {
		t.Errorf("panic: got %v", resp)
	}
	if !strings.Contains(log.String(), "handler panic") || st.Panics.Load() != 1 {
		t.Errorf("panic not logged or not counted (%d): %q", st.Panics.Load(), log.String())
	}
	conn.Write(fcgiRequest{params: getParams("GET", "/")}.encode())
	if resp := readResponse(t, conn, 1); resp.body != "ok" {
		t.Errorf("after the panic, on the same connection: got %v", resp)
	}
}

func TestRequestHasDeadline(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dl, ok := r.Context().Deadline()
		fmt.Fprint(w, ok && time.Until(dl) > 0 && time.Until(dl) <= time.Minute)
	})
	sock, _ := start(t, &Server{Handler: h, Timeout: time.Minute, ErrorLog: quietLog()})
	if resp := roundTrip(t, sock, fcgiRequest{params: getParams("GET", "/")}); resp.body != "true" {
		t.Errorf("request context has no deadline within Timeout: %v", resp)
	}
}

func TestParamsOverCap(t *testing.T) {
	t.Parallel()
	var st gateway.Stats
	sock, log := startCore(t, gateway.Config{Handler: echo, Stats: &st, Limits: limits.Transport{MaxHeaderBytes: 4096}})
	big := pair{"HTTP_COOKIE", strings.Repeat("x", 5000)}
	conn := dial(t, sock)
	conn.Write(fcgiRequest{keepConn: true, params: getParams("GET", "/", big)}.encode())
	if resp := readResponse(t, conn, 1); resp.status != http.StatusBadRequest {
		t.Errorf("oversized params: %v, want 400", resp)
	}
	expectClosed(t, conn, "after oversized params")
	if st.Malformed.Load() != 1 || strings.Contains(log.String(), "xxxx") {
		t.Errorf("malformed %d; log %q", st.Malformed.Load(), log.String())
	}
}

// A body over the limit is answered 413, and the kept connection serves on.
func TestBodyOverCap(t *testing.T) {
	t.Parallel()
	var st gateway.Stats
	sock, _ := startCore(t, gateway.Config{Handler: echo, Stats: &st, Limits: limits.Transport{MaxBodyBytes: 10}})
	conn := dial(t, sock)
	for _, tc := range []struct {
		length string
		body   string
		status int
	}{
		{"11", "12345678901", 413},
		{"", "12345678901", 413}, // undeclared
		{"10", "1234567890", 200},
	} {
		conn.Write(fcgiRequest{keepConn: true, params: getParams("POST", "/", pair{"CONTENT_LENGTH", tc.length}), body: tc.body}.encode())
		if resp := readResponse(t, conn, 1); resp.status != tc.status {
			t.Errorf("body %q (CONTENT_LENGTH %q): %v, want %d", tc.body, tc.length, resp, tc.status)
		}
	}
	if st.BodyTooLarge.Load() != 2 {
		t.Errorf("BodyTooLarge = %d, want 2", st.BodyTooLarge.Load())
	}
}

// FCGI_GET_VALUES is answered for the variables a responder knows, and
// only those; unknown record types get FCGI_UNKNOWN_TYPE. Neither disturbs
// a request in progress.
func TestManagementRecords(t *testing.T) {
	t.Parallel()
	sock, _ := start(t, &Server{Handler: echo, MaxConns: 77, ErrorLog: quietLog()})
	conn := dial(t, sock)
	q := fcgiRequest{keepConn: true, params: getParams("GET", "/")}
	conn.Write(q.head())
	conn.Write(record(typeGetValues, 0, encodePairs([]pair{
		{"FCGI_MAX_CONNS", ""}, {"FCGI_MAX_REQS", ""}, {"FCGI_MPXS_CONNS", ""}, {"X_UNKNOWN", ""},
	})))
	conn.Write(record(42, 0, []byte("??")))
	conn.Write(record(42, 1, nil))
	conn.Write(record(typeStdin, 1, nil))

	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	rec, err := readRecord(conn)
	if err != nil || rec.typ != typeGetValuesResult || rec.id != 0 {
		t.Fatalf("GET_VALUES answered with %v, %v", rec, err)
	}
	var got []pair
	pairs(string(rec.content), func(n, v string) error { got = append(got, pair{n, v}); return nil })
	want := []pair{{"FCGI_MAX_CONNS", "77"}, {"FCGI_MAX_REQS", "77"}, {"FCGI_MPXS_CONNS", "0"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("GET_VALUES_RESULT %v, want %v", got, want)
	}
	for range 2 {
		rec, err = readRecord(conn)
		if err != nil || rec.typ != typeUnknownType || rec.id != 0 || len(rec.content) != 8 || rec.content[0] != 42 {
			t.Errorf("unknown type answered with %v, %v", rec, err)
		}
	}
	if resp := readResponse(t, conn, 1); resp.status != 200 {
		t.Errorf("request around management records: %v", resp)
	}
}

// A second request ID while one is open is refused with
// FCGI_CANT_MPX_CONN; an unknown role with FCGI_UNKNOWN_ROLE.
func TestOneRequestAtATime(t *testing.T) {
	t.Parallel()
	sock, _ := start(t, &Server{Handler: echo, ErrorLog: quietLog()})
	conn := dial(t, sock)
	conn.Write(fcgiRequest{id: 1, keepConn: true, params: getParams("GET", "/one")}.head())
	conn.Write(fcgiRequest{id: 2, keepConn: true, params: getParams("GET", "/two")}.encode())
	conn.Write(record(typeStdin, 1, nil))
	if resp := readResponse(t, conn, 2); resp.protocolStatus != statusCantMultiplex || resp.status != 0 {
		t.Errorf("second request ID: %v with status %d, want a bare FCGI_CANT_MPX_CONN", resp, resp.protocolStatus)
	}
	if resp := readResponse(t, conn, 1); !strings.Contains(resp.body, "uri=/one ") {
		t.Errorf("the open request: %v", resp)
	}
	conn.Write(record(typeBeginRequest, 3, beginBody(2, 1))) // FCGI_AUTHORIZER
	if resp := readResponse(t, conn, 3); resp.protocolStatus != statusUnknownRole || resp.status != 0 {
		t.Errorf("authorizer role: %v with status %d, want a bare FCGI_UNKNOWN_ROLE", resp, resp.protocolStatus)
	}
	conn.Write(fcgiRequest{id: 4, params: getParams("GET", "/four")}.encode())
	if resp := readResponse(t, conn, 4); !strings.Contains(resp.body, "uri=/four ") {
		t.Errorf("request after the refusals: %v", resp)
	}
}

// FCGI_ABORT_REQUEST ends the open request with END_REQUEST; the kept
// connection takes the next one.
func TestAbortRequest(t *testing.T) {
	t.Parallel()
	sock, _ := start(t, &Server{Handler: echo, ErrorLog: quietLog()})
	conn := dial(t, sock)
	conn.Write(fcgiRequest{id: 5, keepConn: true, params: getParams("GET", "/aborted")}.head())
	conn.Write(record(typeAbortRequest, 5, nil))
	conn.Write(fcgiRequest{id: 6, keepConn: true, params: getParams("GET", "/next")}.encode())
	if resp := readResponse(t, conn, 5); resp.status != 0 || resp.protocolStatus != statusRequestComplete {
		t.Errorf("aborted request: %v", resp)
	}
	if resp := readResponse(t, conn, 6); !strings.Contains(resp.body, "uri=/next ") {
		t.Errorf("request after an abort: %v", resp)
	}
	conn.Write(fcgiRequest{id: 8, params: getParams("GET", "/")}.head())
	conn.Write(record(typeAbortRequest, 8, nil))
	readResponse(t, conn, 8)
	expectClosed(t, conn, "after aborting a request without FCGI_KEEP_CONN")
}

func TestMalformedStreams(t *testing.T) {
	t.Parallel()
	var st gateway.Stats
	sock, log := startCore(t, gateway.Config{Handler: echo, Stats: &st})
	for name, stream := range map[string][]byte{
		"version 2":           {2, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0},
		"short BEGIN_REQUEST": record(typeBeginRequest, 1, []byte{0, 1}),
		"begun twice": append(record(typeBeginRequest, 1, beginBody(1, 0)),
			record(typeBeginRequest, 1, beginBody(1, 0))...),
		"STDIN before PARAMS end": append(record(typeBeginRequest, 1, beginBody(1, 0)),
			record(typeStdin, 1, []byte("x"))...),
		"truncated header": {1, 1, 0},
		"HTTP":             []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
	} {
		conn := dial(t, sock)
		conn.Write(stream)
		conn.(*net.UnixConn).CloseWrite()
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadAll(conn); err != nil {
			t.Errorf("%s: %v, want the connection closed", name, err)
		}
	}
	if st.Malformed.Load() != 6 {
		t.Errorf("Malformed = %d, want 6; log: %s", st.Malformed.Load(), log.String())
	}
	if resp := roundTrip(t, sock, fcgiRequest{params: getParams("GET", "/")}); resp.status != 200 {
		t.Errorf("after malformed streams: %v", resp)
	}
}

func TestIdleTimeoutClosesKeptConnection(t *testing.T) {
	t.Parallel()
	const idle = 100 * time.Millisecond
	sock, _ := start(t, &Server{Handler: echo, IdleTimeout: idle, ErrorLog: quietLog()})
	conn := dial(t, sock)
	conn.Write(fcgiRequest{keepConn: true, params: getParams("GET", "/")}.encode())
	readResponse(t, conn, 1)
	began := time.Now()
	expectClosed(t, conn, "idle kept connection")
	if took := time.Since(began); took < idle-20*time.Millisecond || took > idle+3*time.Second {
		t.Errorf("closed after %v idle, want about %v", took, idle)
	}
}

// Records trickled in keep the connection busy, but not past the request's
// deadline, which runs from its first byte: the connection is cut at it.
func TestTrickledRecordsCutAtDeadline(t *testing.T) {
	t.Parallel()
	const timeout = 400 * time.Millisecond
	var st gateway.Stats
	sock, _ := startCore(t, gateway.Config{Handler: echo, Stats: &st,
		Limits: limits.Transport{RequestTimeout: timeout, HeadTimeout: 100 * time.Millisecond}})
	conn := dial(t, sock)
	began := time.Now()
	go func() {
		conn.Write(record(typeBeginRequest, 1, beginBody(1, 1)))
		for range 100 { // ten seconds of params, one small record at a time
			time.Sleep(100 * time.Millisecond)
			if _, err := conn.Write(record(typeParams, 1, encodePairs([]pair{{"HTTP_X", "y"}}))); err != nil {
				return
			}
		}
	}()
	expectClosed(t, conn, "trickled request")
	if took := time.Since(began); took < timeout-50*time.Millisecond || took > timeout+2*time.Second {
		t.Errorf("trickled request cut after %v, want at the %v deadline", took, timeout)
	}
	if st.TimedOut.Load() != 1 {
		t.Errorf("TimedOut = %d", st.TimedOut.Load())
	}
}

// One connection that opens 10,000 request IDs costs what one request costs:
// no goroutine and no state per ID.
func TestManyRequestIDsStayBounded(t *testing.T) {
	const ids = 10000
	sock, _ := start(t, &Server{Handler: echo, ErrorLog: quietLog()})
	conn := dial(t, sock)
	roundTrip(t, sock, fcgiRequest{params: getParams("GET", "/warm-up")}) // pools and the first goroutines
	goroutines, heap := runtimeUse()

	refused := make(chan int, 1)
	go func() { // read the END_REQUESTs as nginx would
		n := 0
		for {
			rec, err := readRecord(conn)
			if err != nil || rec.typ != typeEndRequest {
				break
			}
			n++
			if n == ids-1 {
				break
			}
		}
		refused <- n
	}()
	params := encodePairs(getParams("GET", "/", pair{"HTTP_AUTHORIZATION", strings.Repeat("a", 200)}))
	var stream []byte
	for id := uint16(1); id <= ids; id++ {
		stream = append(stream, record(typeBeginRequest, id, beginBody(1, 1))...)
		stream = append(stream, record(typeParams, id, params)...)
	}
	conn.Write(stream)
	if n := <-refused; n != ids-1 {
		t.Fatalf("%d of %d extra request IDs refused", n, ids-1)
	}
	g, h := runtimeUse()
	t.Logf("after %d request IDs on one connection: %+d goroutines, %+d KiB heap in use", ids, g-goroutines, (int64(h)-int64(heap))>>10)
	if g > goroutines+2 {
		t.Errorf("goroutines went from %d to %d", goroutines, g)
	}
	if h > heap+1<<20 {
		t.Errorf("heap in use grew by %d KiB (from %d KiB)", (h-heap)>>10, heap>>10)
	}
	conn.Write(record(typeParams, 1, nil))
	conn.Write(record(typeStdin, 1, nil))
	if resp := readResponse(t, conn, 1); resp.status != 200 {
		t.Errorf("the one open request: %v", resp)
	}
}

func TestProcessEnv(t *testing.T) {
	t.Parallel()
	envs := make(chan map[string]string, 1)
	sock, _ := start(t, &Server{ErrorLog: quietLog(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		envs <- ProcessEnv(r)
	})})
	roundTrip(t, sock, fcgiRequest{params: getParams("GET", "/", pair{"DOCUMENT_ROOT", "/srv"})})
	if got := <-envs; got["SCRIPT_NAME"] != "/" || got["DOCUMENT_ROOT"] != "/srv" {
		t.Errorf("ProcessEnv = %v", got)
	}
	if ProcessEnv(httptest.NewRequest("GET", "/", nil)) != nil {
		t.Error("ProcessEnv of a request FastCGI did not carry is not nil")
	}
}

// slowServer starts a server whose handler waits for release.
func slowServer(t *testing.T, started chan<- struct{}, release <-chan struct{}) (*Server, string, <-chan error) {
	s := &Server{ErrorLog: quietLog(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		io.WriteString(w, "finished")
	})}
	sock, done := start(t, s)
	return s, sock, done
}

func TestShutdownDrainsInFlight(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}, 10), make(chan struct{})
	s, sock, served := slowServer(t, started, release)
	const n = 4
	var wg sync.WaitGroup
	results := make([]fcgiResponse, n)
	for i := range n {
		wg.Go(func() {
			results[i] = roundTrip(t, sock, fcgiRequest{keepConn: i%2 == 0, params: getParams("GET", "/")})
		})
	}
	for range n {
		<-started
	}
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	close(release)
	if err := <-shut; err != nil {
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
	if _, err := net.Dial("unix", sock); err == nil {
		t.Error("connection accepted after Shutdown")
	}
}

func TestShutdownClosesKeptConnections(t *testing.T) {
	t.Parallel()
	s := &Server{Handler: echo, ErrorLog: quietLog()}
	sock, _ := start(t, s)
	conn := dial(t, sock)
	conn.Write(fcgiRequest{keepConn: true, params: getParams("GET", "/")}.encode())
	readResponse(t, conn, 1)
	began := time.Now()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown with an idle kept connection: %v", err)
	}
	if d := time.Since(began); d > time.Second {
		t.Errorf("Shutdown took %v for an idle connection", d)
	}
	expectClosed(t, conn, "kept connection after Shutdown")
}

func TestShutdownGivesUpAtDeadline(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	s, sock, _ := slowServer(t, started, release)
	conn := dial(t, sock)
	conn.Write(fcgiRequest{params: getParams("GET", "/")}.encode())
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown past its deadline returned %v", err)
	}
}

func TestServeAfterCloseFails(t *testing.T) {
	t.Parallel()
	s := &Server{Handler: echo}
	s.Close()
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
}

// A zero Server enforces the limits of the one table regtoken's listeners
// use.
func TestZeroServerTakesTheLimitsTable(t *testing.T) {
	t.Parallel()
	sock, _ := start(t, &Server{Handler: echo, ErrorLog: quietLog()})
	fits := strings.Repeat("x", limits.DefaultMaxBodyBytes)
	for body, status := range map[string]int{fits: 200, fits + "x": 413} {
		if resp := roundTrip(t, sock, fcgiRequest{params: getParams("POST", "/"), body: body}); resp.status != status {
			t.Errorf("body of %d bytes: %d, want %d", len(body), resp.status, status)
		}
	}
}
