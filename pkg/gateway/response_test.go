package gateway

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
)

// render runs handler against a response and returns what would go on the wire.
func render(t *testing.T, method string, handler func(w http.ResponseWriter)) string {
	t.Helper()
	var head, body bytes.Buffer
	w := newResponse(&body)
	handler(w)
	sendBody := w.finish(&head, "HTTP/1.1 ", method)
	if sendBody {
		head.Write(body.Bytes())
	}
	return head.String()
}

func TestResponseBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		method  string
		handler func(w http.ResponseWriter)
		want    string
	}{
		{"nothing written", "GET", func(w http.ResponseWriter) {},
			"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"401 with challenge", "GET", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Www-Authenticate", `Basic realm="reg"`)
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"errors":[]}`))
		}, "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n" +
			"Www-Authenticate: Basic realm=\"reg\"\r\nContent-Length: 13\r\n\r\n{\"errors\":[]}"},
		{"hop-by-hop and Status stripped, length recomputed", "GET", func(w http.ResponseWriter) {
			w.Header().Set("Transfer-Encoding", "chunked")
			w.Header().Set("Connection", "keep-alive")
			w.Header().Set("Status", "500 Oops")
			w.Header().Set("Content-Length", "99")
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("ok"))
		}, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"},
		{"HEAD keeps the length, drops the body", "HEAD", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("hello"))
		}, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"},
		{"HEAD handler states the length", "HEAD", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", "42")
		}, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 42\r\n\r\n"},
		{"204 has neither body nor length", "GET", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNoContent)
			if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrBodyNotAllowed) {
				panic("Write on 204 did not fail")
			}
		}, "HTTP/1.1 204 No Content\r\n\r\n"},
		{"304 has neither body nor length", "GET", func(w http.ResponseWriter) {
			w.Header().Set("Etag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
		}, "HTTP/1.1 304 Not Modified\r\nEtag: \"v1\"\r\n\r\n"},
		{"CR LF in a value cannot inject a header", "GET", func(w http.ResponseWriter) {
			w.Header().Set("X-Note", "a\r\nSet-Cookie: evil=1")
			w.Header()["Bad Name"] = []string{"x"}
		}, "HTTP/1.1 200 OK\r\nX-Note: a  Set-Cookie: evil=1\r\nContent-Length: 0\r\n\r\n"},
		{"content type sniffed", "GET", func(w http.ResponseWriter) {
			w.Write([]byte("<html>"))
		}, "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 6\r\n\r\n<html>"},
		{"1xx ignored, second WriteHeader ignored", "GET", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusCreated)
			w.WriteHeader(http.StatusTeapot)
		}, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(t, tt.method, tt.handler); got != tt.want {
				t.Errorf("wire bytes\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestResponseWriteAfterReturnFails(t *testing.T) {
	t.Parallel()
	var head, body bytes.Buffer
	w := newResponse(&body)
	w.finish(&head, "HTTP/1.1 ", "GET")
	if _, err := w.Write([]byte("late")); err == nil {
		t.Fatal("Write after finish succeeded")
	}
	if body.Len() != 0 {
		t.Errorf("late write reached the pooled buffer: %q", body.String())
	}
}

func TestResponseWriteHeaderPanicsOnInvalidCode(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("WriteHeader(42) did not panic")
		}
	}()
	newResponse(new(bytes.Buffer)).WriteHeader(42)
}
