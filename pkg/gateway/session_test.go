package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/limits"
)

// lineSessions is a stand-in framed protocol for the session server: a
// request is a line of KEY=VALUE pairs (BODY= carries the body, KEEP=1 asks
// to keep the connection); a response is "<length of head+body>\n" and
// then head and body.
type lineSessions struct{}

func (lineSessions) Name() string         { return "lines" }
func (lineSessions) StatusPrefix() string { return "HTTP/1.1 " }
func (lineSessions) NewSession(w io.Writer, br *bufio.Reader, lim limits.Transport) Session {
	return &lineSession{w: w, br: br, lim: lim}
}

type lineSession struct {
	w    io.Writer
	br   *bufio.Reader
	lim  limits.Transport
	keep bool
	open bool
}

func (s *lineSession) ReadRequest() (map[string]string, []byte, int64, error) {
	env, err := lineProtocol{}.ReadHeaders(s.br, s.lim.MaxHeaderBytes)
	if err != nil {
		return nil, nil, 0, err
	}
	s.open, s.keep = true, env["KEEP"] == "1"
	body := []byte(env["BODY"])
	return env, body[:min(len(body), int(s.lim.MaxBodyBytes)+1)], int64(len(body)), nil
}

func (s *lineSession) WriteResponse(head, body []byte) (bool, error) {
	if !s.open {
		return false, errors.New("lines: no request to answer")
	}
	s.open = false
	_, err := fmt.Fprintf(s.w, "%d\n%s%s", len(head)+len(body), head, body)
	return s.keep, err
}

func (s *lineSession) Close() {}

// startSessions serves cfg over lineSessions on a fresh unix socket.
func startSessions(t *testing.T, cfg Config) *testServer {
	t.Helper()
	return startServer(t, cfg, func(c Config) *Server { return NewSessionServer(lineSessions{}, c) })
}

// readFramed reads one lineSessions response from br.
func readFramed(t *testing.T, c net.Conn, br *bufio.Reader) (*http.Response, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the frame length: %v", err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(line))
	resp, err := http.ReadResponse(bufio.NewReader(io.LimitReader(br, int64(n))), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

var echoBody = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	fmt.Fprintf(w, "%s %q %d %v", r.Method, b, r.ContentLength, err)
})

func TestSessionServesRequestsInTurn(t *testing.T) {
	t.Parallel()
	ts := startSessions(t, Config{Handler: echoBody})
	c := ts.dial(t)
	br := bufio.NewReader(c)
	for i, body := range []string{"first", "", "third"} {
		fmt.Fprintf(c, "REQUEST_METHOD=POST REQUEST_URI=/ KEEP=1 BODY=%s\n", body)
		resp, got := readFramed(t, c, br)
		want := fmt.Sprintf("POST %q %d <nil>", body, len(body))
		if resp.StatusCode != 200 || got != want {
			t.Errorf("request %d on one connection: %d %q, want %q", i, resp.StatusCode, got, want)
		}
	}
	io.WriteString(c, "REQUEST_METHOD=GET REQUEST_URI=/\n") // no KEEP: the last one
	readFramed(t, c, br)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after a request without keep: %v, want the connection closed", err)
	}
}

func TestSessionBodyLimit(t *testing.T) {
	t.Parallel()
	var st Stats
	ts := startSessions(t, Config{Handler: echoBody, Stats: &st, Limits: limits.Transport{MaxBodyBytes: 4}})
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "REQUEST_METHOD=POST REQUEST_URI=/ KEEP=1 BODY=12345\n")
	if resp, _ := readFramed(t, c, br); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("body over the limit: %d, want 413", resp.StatusCode)
	}
	io.WriteString(c, "REQUEST_METHOD=POST REQUEST_URI=/ BODY=1234\n")
	if _, got := readFramed(t, c, br); got != `POST "1234" 4 <nil>` {
		t.Errorf("body at the limit after a 413 on the same connection: %q", got)
	}
	if st.BodyTooLarge.Load() != 1 {
		t.Errorf("BodyTooLarge = %d", st.BodyTooLarge.Load())
	}
}

// A kept connection may idle for IdleTimeout, not for a whole request
// timeout.
func TestSessionIdleTimeout(t *testing.T) {
	t.Parallel()
	const idle = 150 * time.Millisecond
	ts := startSessions(t, Config{Handler: echoBody, Limits: limits.Transport{IdleTimeout: idle}})
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "REQUEST_METHOD=GET REQUEST_URI=/ KEEP=1\n")
	readFramed(t, c, br)
	began := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: %v, want EOF", err)
	}
	if took := time.Since(began); took < idle-20*time.Millisecond || took > idle+2*time.Second {
		t.Errorf("idle connection closed after %v, want about %v", took, idle)
	}
}

// Each request on a kept connection gets the whole request timeout from its
// first byte, and no more: trickling it does not extend the deadline.
func TestSessionRequestDeadlineIsAbsolute(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	ts := startSessions(t, Config{Handler: echoBody,
		Limits: limits.Transport{RequestTimeout: timeout, HeadTimeout: 100 * time.Millisecond}})
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "REQUEST_METHOD=GET REQUEST_URI=/ KEEP=1\n")
	readFramed(t, c, br)
	time.Sleep(timeout) // idle: the next request's clock has not started
	began := time.Now()
	go func() {
		for _, b := range []byte("REQUEST_METHOD=GET REQUEST_URI=/ KEEP=1 BODY=slow\n") {
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, _ := io.ReadAll(br)
	if took := time.Since(began); took < timeout-20*time.Millisecond || took > timeout+2*time.Second {
		t.Errorf("trickled request cut after %v, want about %v", took, timeout)
	}
	if len(rest) != 0 {
		t.Errorf("trickled request got %q", rest)
	}
}

// Shutdown closes an idle kept connection at once and lets a busy one finish
// its request (and then closes it, keep or not).
func TestSessionShutdown(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	ts := startSessions(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		io.WriteString(w, r.URL.Path)
	})})
	idle, busy := ts.dial(t), ts.dial(t)
	idleBr, busyBr := bufio.NewReader(idle), bufio.NewReader(busy)
	io.WriteString(idle, "REQUEST_METHOD=GET REQUEST_URI=/fast KEEP=1\n")
	readFramed(t, idle, idleBr)
	io.WriteString(busy, "REQUEST_METHOD=GET REQUEST_URI=/slow KEEP=1\n")
	<-started

	done := make(chan error, 1)
	go func() { done <- ts.Shutdown(context.Background()) }()
	idle.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := idleBr.ReadByte(); err != io.EOF {
		t.Errorf("idle kept connection during Shutdown: %v, want EOF at once", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a request was running", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if _, got := readFramed(t, busy, busyBr); got != "/slow" {
		t.Errorf("in-flight request during Shutdown got %q", got)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	busy.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := busyBr.ReadByte(); err != io.EOF {
		t.Errorf("kept connection after its last request during Shutdown: %v, want EOF", err)
	}
}

func TestSessionMalformedRequestGets400(t *testing.T) {
	t.Parallel()
	var st Stats
	ts := startSessions(t, Config{Handler: echoBody, Stats: &st})
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "REQUEST_URI=/ KEEP=1\n") // no REQUEST_METHOD
	if resp, _ := readFramed(t, c, br); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("request without a method: %d, want 400", resp.StatusCode)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after a malformed request: %v, want the connection closed", err)
	}
	if st.Malformed.Load() != 1 {
		t.Errorf("Malformed = %d", st.Malformed.Load())
	}
}

// A full listener makes room for a new connection by closing an idle
// kept-alive one, not by making the newcomer wait.
func TestSessionFullListenerClosesIdleFirst(t *testing.T) {
	t.Parallel()
	var st Stats
	var hits atomic.Int32
	ts := startSessions(t, Config{Stats: &st, Limits: limits.Transport{MaxConnections: 2},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })})
	for range 2 {
		c := ts.dial(t)
		io.WriteString(c, "REQUEST_METHOD=GET REQUEST_URI=/ KEEP=1\n")
		readFramed(t, c, bufio.NewReader(c))
	}
	began := time.Now()
	c := ts.dial(t)
	io.WriteString(c, "REQUEST_METHOD=GET REQUEST_URI=/\n")
	if resp, _ := readFramed(t, c, bufio.NewReader(c)); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if took := time.Since(began); took > time.Second {
		t.Errorf("a request to a listener full of idle connections took %v", took)
	}
	if st.EvictedIdle.Load() != 1 || st.ConnsWaited.Load() != 1 {
		t.Errorf("evicted idle %d, waited %d; want 1 and 1", st.EvictedIdle.Load(), st.ConnsWaited.Load())
	}
	if !strings.Contains(ts.log.String(), "listener full") {
		t.Errorf("full listener not logged: %q", ts.log.String())
	}
}
