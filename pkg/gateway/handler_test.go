package gateway

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/limits"
)

// The FastCGI and HTTP fronts answer through WrapHandler, SCGI and uwsgi
// through Server; both use the one buffered response and the one panic
// recovery, so the same handler gives the same status, headers and body on
// every transport.
func TestWrapHandlerAnswersAsTheWire(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method string
		handler      http.HandlerFunc
	}{
		{"401 with challenge", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Www-Authenticate", `Basic realm="reg"`)
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"errors":[]}`)
		}},
		{"hop-by-hop headers dropped", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Transfer-Encoding", "chunked")
			w.Header().Set("Status", "500 Oops")
			w.Header().Set("Content-Length", "99")
			io.WriteString(w, "ok")
		}},
		{"long body keeps its length", "GET", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strings.Repeat("token ", 2000)) // past net/http's chunking threshold
		}},
		{"HEAD", "HEAD", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }},
		{"204", "GET", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }},
		{"panic", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Half", "written")
			panic("boom")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Handler: tt.handler, ErrorLog: quietLog()}.WithDefaults()
			wire := wireReply(t, cfg, tt.method)

			rec := httptest.NewRecorder()
			cfg.WrapHandler().ServeHTTP(rec, httptest.NewRequest(tt.method, "/", nil))
			std := rec.Result()
			stdBody, _ := io.ReadAll(std.Body)

			if std.StatusCode != wire.StatusCode {
				t.Errorf("status %d, the wire says %d", std.StatusCode, wire.StatusCode)
			}
			for _, h := range []string{"Content-Type", "Content-Length", "Www-Authenticate", "Transfer-Encoding", "Status", "X-Half"} {
				if got, want := std.Header.Get(h), wire.Header.Get(h); got != want {
					t.Errorf("%s: %q, the wire says %q", h, got, want)
				}
			}
			if wireBody, _ := io.ReadAll(wire.Body); !bytes.Equal(stdBody, wireBody) {
				t.Errorf("body %.40q, the wire says %.40q", stdBody, wireBody)
			}
		})
	}
}

// wireReply runs cfg's handler the way Server does and parses what it would
// send.
func wireReply(t *testing.T, cfg Config, method string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, "/", nil)
	var head, body bytes.Buffer
	w := newResponse(&body)
	cfg.serve(w, r)
	if w.finish(&head, "HTTP/1.1 ", method) {
		head.Write(body.Bytes())
	}
	resp, err := http.ReadResponse(bufio.NewReader(&head), r)
	if err != nil {
		t.Fatalf("wire reply %q: %v", head.String(), err)
	}
	return resp
}

func TestWrapHandlerCountsPanics(t *testing.T) {
	t.Parallel()
	var st Stats
	h := Config{Stats: &st, ErrorLog: quietLog(), Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	})}.WrapHandler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusInternalServerError || st.Panics.Load() != 1 {
		t.Errorf("status %d, panics counted %d; want 500 and 1", rec.Code, st.Panics.Load())
	}
}

func TestWrapHandlerSetsTheRequestDeadline(t *testing.T) {
	t.Parallel()
	var deadline time.Time
	h := Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deadline, _ = r.Context().Deadline()
	})}.WrapHandler()
	before := time.Now()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil).WithContext(context.Background()))
	if left := deadline.Sub(before); left < limits.DefaultRequestTimeout || left > limits.DefaultRequestTimeout+time.Second {
		t.Errorf("request deadline %v after the start, want the default request timeout", left)
	}
}
