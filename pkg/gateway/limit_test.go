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
	l := Config{Limits: limits.Transport{MaxConnections: 1}, Stats: &st}.LimitListener(inner)
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
