package gateway

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/limits"
)

// The body limit of the standard-library transports, which SCGI and uwsgi
// share through Server (TestServerBodyTooLarge).
func TestWrapHandlerLimitsBody(t *testing.T) {
	var readErr error
	var st Stats
	h := Config{Limits: limits.Transport{MaxBodyBytes: 10}, Stats: &st, ErrorLog: quietLog(),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, readErr = io.ReadAll(r.Body)
		})}.WrapHandler()

	declared := httptest.NewRequest("POST", "/", strings.NewReader("12345678901"))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, declared)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("declared 11 bytes: status %d, want 413", rec.Code)
	}
	if st.BodyTooLarge.Load() != 1 {
		t.Errorf("413 not counted: %d", st.BodyTooLarge.Load())
	}

	chunked := httptest.NewRequest("POST", "/", strings.NewReader("12345678901"))
	chunked.ContentLength = -1
	h.ServeHTTP(httptest.NewRecorder(), chunked)
	var tooBig *http.MaxBytesError
	if !errors.As(readErr, &tooBig) {
		t.Errorf("undeclared 11 bytes: read error %v, want *http.MaxBytesError", readErr)
	}

	small := httptest.NewRequest("POST", "/", strings.NewReader("1234567890"))
	h.ServeHTTP(httptest.NewRecorder(), small)
	if readErr != nil {
		t.Errorf("10 bytes: %v", readErr)
	}
}

func TestLimitConns(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var st Stats
	l := Config{Limits: limits.Transport{MaxConnections: 1}, Stats: &st, ErrorLog: quietLog()}.LimitListener(inner)
	defer l.Close()
	for range 2 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	second := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			second <- c
		}
	}()
	select {
	case <-second:
		t.Fatal("second connection accepted while the only slot was taken")
	case <-time.After(100 * time.Millisecond):
	}
	first.Close()
	first.Close() // a second Close must not free a second slot
	select {
	case c := <-second:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("slot not released by Close")
	}
	if st.ConnsWaited.Load() != 1 {
		t.Errorf("the wait for a slot was counted %d times, want 1", st.ConnsWaited.Load())
	}
}

func TestLimitListenerCloseUnblocksAccept(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Config{Limits: limits.Transport{MaxConnections: 1}}.LimitListener(inner)
	c, _ := net.Dial("tcp", inner.Addr().String())
	defer c.Close()
	held, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	done := make(chan error, 1)
	go func() { _, err := l.Accept(); done <- err }()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v; a server and its Shutdown both close", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept waiting for a slot did not return on Close")
	}
}

// fullListener is a LimitListener with room for two connections, both taken
// and in the given phases; it returns the listener, the two accepted
// connections (oldest first) and a function that connects once more.
func fullListener(t *testing.T, st *Stats, headTimeout time.Duration, phases ...Phase) (net.Listener, []net.Conn, func() net.Conn) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Config{Limits: limits.Transport{MaxConnections: len(phases), HeadTimeout: headTimeout},
		Stats: st, ErrorLog: quietLog()}.LimitListener(inner)
	t.Cleanup(func() { l.Close() })
	dial := func() net.Conn {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	var held []net.Conn
	for _, p := range phases {
		dial()
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		SetPhase(c, p)
		held = append(held, c)
		time.Sleep(10 * time.Millisecond) // distinct ages
	}
	return l, held, dial
}

// acceptWithin accepts on l and reports how long it took, failing after d.
func acceptWithin(t *testing.T, l net.Listener, d time.Duration) (net.Conn, time.Duration) {
	t.Helper()
	began := time.Now()
	got := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			got <- c
		}
	}()
	select {
	case c := <-got:
		return c, time.Since(began)
	case <-time.After(d):
		return nil, d
	}
}

func isClosed(c net.Conn) bool {
	_, err := c.Read(make([]byte, 1))
	return errors.Is(err, net.ErrClosed)
}

func TestFullListenerClosesLongestIdle(t *testing.T) {
	t.Parallel()
	var st Stats
	l, held, dial := fullListener(t, &st, time.Hour, PhaseIdle, PhaseIdle)
	dial()
	c, took := acceptWithin(t, l, 2*time.Second)
	if c == nil || took > time.Second {
		t.Fatalf("accept at a listener full of idle connections took %v", took)
	}
	if !isClosed(held[0]) {
		t.Error("the longest idle connection is still open")
	}
	held[1].SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if isClosed(held[1]) {
		t.Error("a second idle connection was closed for one newcomer")
	}
	if st.EvictedIdle.Load() != 1 || st.EvictedSlow.Load() != 0 {
		t.Errorf("evicted idle %d, slow %d; want 1, 0", st.EvictedIdle.Load(), st.EvictedSlow.Load())
	}
}

func TestFullListenerCutsSlowHeads(t *testing.T) {
	t.Parallel()
	const head = 100 * time.Millisecond
	var st Stats
	l, held, dial := fullListener(t, &st, head, PhaseBusy, PhaseReading)
	SetPhase(held[1], PhaseReading) // reading since now
	dial()
	c, took := acceptWithin(t, l, 5*time.Second)
	if c == nil {
		t.Fatal("a connection past the head timeout was not cut")
	}
	if took < head-20*time.Millisecond {
		t.Errorf("slow head cut after %v, before the head timeout %v", took, head)
	}
	if !isClosed(held[1]) || st.EvictedSlow.Load() != 1 {
		t.Errorf("slow connection closed: %v, counted %d", isClosed(held[1]), st.EvictedSlow.Load())
	}
}

// Idle connections go before slow ones, and busy ones are never closed.
func TestFullListenerOrder(t *testing.T) {
	t.Parallel()
	var st Stats
	l, held, dial := fullListener(t, &st, time.Millisecond, PhaseReading, PhaseBusy, PhaseIdle)
	time.Sleep(5 * time.Millisecond)
	dial()
	c, _ := acceptWithin(t, l, 2*time.Second)
	if c == nil {
		t.Fatal("no room made")
	}
	SetPhase(c, PhaseBusy)
	if !isClosed(held[2]) {
		t.Error("the idle connection was not the one closed")
	}
	dial()
	if c, _ = acceptWithin(t, l, 2*time.Second); c == nil {
		t.Fatal("no room made for the second newcomer")
	}
	SetPhase(c, PhaseBusy)
	if !isClosed(held[0]) {
		t.Error("the slow connection was not closed for the second newcomer")
	}
	dial()
	if c, _ := acceptWithin(t, l, 300*time.Millisecond); c != nil {
		t.Error("a busy connection was closed to make room")
	}
}

// A listener at its cap closes nothing until a connection actually arrives.
func TestFullListenerWaitsForANewcomer(t *testing.T) {
	t.Parallel()
	var st Stats
	l, held, _ := fullListener(t, &st, time.Millisecond, PhaseIdle)
	go l.Accept()
	time.Sleep(200 * time.Millisecond)
	held[0].SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if isClosed(held[0]) || st.EvictedIdle.Load() != 0 || st.ConnsWaited.Load() != 0 {
		t.Errorf("idle connection closed with nobody waiting (evicted %d, waited %d)",
			st.EvictedIdle.Load(), st.ConnsWaited.Load())
	}
}

// On a one-request protocol the body's first bufferful belongs to the head
// as far as a full listener is concerned: a connection that sends its head
// and trickles its body is cut like one that trickles its head.
func TestFullListenerCutsSlowBodies(t *testing.T) {
	t.Parallel()
	var st Stats
	ts := start(t, Config{Stats: &st, Limits: limits.Transport{MaxConnections: 1, HeadTimeout: 100 * time.Millisecond},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })})
	slow := ts.dial(t)
	io.WriteString(slow, "REQUEST_METHOD=POST REQUEST_URI=/ CONTENT_LENGTH=100\nx")
	time.Sleep(50 * time.Millisecond)
	began := time.Now()
	if _, body := ts.roundTrip(t, getLine); body != "ok" {
		t.Errorf("request beside a trickled body: %q", body)
	}
	if took := time.Since(began); took > 2*time.Second || st.EvictedSlow.Load() != 1 {
		t.Errorf("request beside a trickled body took %v; %d cut", took, st.EvictedSlow.Load())
	}
}
