package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// nginxGET is what nginx 1.22 with Debian's scgi_params sends for
// `curl -u alice:secret 'http://reg.example:8080/v2/token?service=reg'`.
func nginxGET() map[string]string {
	return map[string]string{
		"CONTENT_LENGTH":     "0",
		"SCGI":               "1",
		"REQUEST_METHOD":     "GET",
		"REQUEST_URI":        "/v2/token?service=reg",
		"QUERY_STRING":       "service=reg",
		"DOCUMENT_URI":       "/v2/token",
		"SERVER_PROTOCOL":    "HTTP/1.1",
		"REMOTE_ADDR":        "192.0.2.7",
		"REMOTE_PORT":        "51234",
		"SERVER_NAME":        "reg.example",
		"SERVER_PORT":        "8080",
		"HTTP_HOST":          "reg.example",
		"HTTP_AUTHORIZATION": "Basic YWxpY2U6c2VjcmV0",
		"HTTP_CONNECTION":    "keep-alive",
		"HTTP_USER_AGENT":    "curl/7.88.1",
	}
}

func build(t *testing.T, env map[string]string, body string) (*http.Request, *body, error) {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(body))
	return newStreamRequest(context.Background(), func() {}, env, br)
}

func TestNewRequestFromNginxVariables(t *testing.T) {
	t.Parallel()
	r, _, err := build(t, nginxGET(), "")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ what, got, want string }{
		{"Method", r.Method, "GET"},
		{"RequestURI", r.RequestURI, "/v2/token?service=reg"},
		{"URL.Path", r.URL.Path, "/v2/token"},
		{"service", r.URL.Query().Get("service"), "reg"},
		{"Host", r.Host, "reg.example"},
		{"Authorization", r.Header.Get("Authorization"), "Basic YWxpY2U6c2VjcmV0"},
		{"Connection", r.Header.Get("Connection"), ""},
		{"RemoteAddr", r.RemoteAddr, "192.0.2.7:51234"},
		{"Env SERVER_PORT", Env(r)["SERVER_PORT"], "8080"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != "alice" || pass != "secret" {
		t.Errorf("BasicAuth = %q, %q, %v", user, pass, ok)
	}
	if r.Body != http.NoBody || r.ContentLength != 0 {
		t.Errorf("Body = %v, ContentLength = %d; want NoBody, 0", r.Body, r.ContentLength)
	}
	if r.TLS != nil {
		t.Error("TLS set without HTTPS=on")
	}
}

func TestNewRequestDefaults(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"REQUEST_METHOD": "GET",
		"REQUEST_URI":    "/v2/token",
		"SERVER_NAME":    "reg.example",
		"HTTPS":          "on",
		"CONTENT_LENGTH": "",
	}
	r, _, err := build(t, env, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Proto != "HTTP/1.1" || r.Host != "reg.example" {
		t.Errorf("Proto, Host = %q, %q; want HTTP/1.1 and SERVER_NAME", r.Proto, r.Host)
	}
	if r.TLS == nil || r.URL.Scheme != "https" {
		t.Errorf("HTTPS=on: TLS = %v, scheme %q", r.TLS, r.URL.Scheme)
	}
	if r.RemoteAddr != ":0" {
		t.Errorf("RemoteAddr = %q without REMOTE_ADDR", r.RemoteAddr)
	}
}

// A chunked client body reaches us de-chunked with CONTENT_LENGTH set, but
// HTTP_TRANSFER_ENCODING=chunked still arrives (tested with nginx 1.22).
func TestNewRequestChunkedOriginBody(t *testing.T) {
	t.Parallel()
	const payload = "grant_type=password&username=alice&x=1234" // 41 bytes
	env := map[string]string{
		"CONTENT_LENGTH":         "41",
		"CONTENT_TYPE":           "application/x-www-form-urlencoded",
		"HTTP_CONTENT_TYPE":      "application/x-www-form-urlencoded",
		"HTTP_TRANSFER_ENCODING": "chunked",
		"HTTP_EXPECT":            "100-continue",
		"REQUEST_METHOD":         "POST",
		"REQUEST_URI":            "/v2/token",
		"SERVER_PROTOCOL":        "HTTP/1.1",
	}
	r, _, err := build(t, env, payload+"NEXT")
	if err != nil {
		t.Fatal(err)
	}
	if te := r.Header.Values("Transfer-Encoding"); len(te) != 0 || len(r.TransferEncoding) != 0 {
		t.Errorf("Transfer-Encoding survived: %q %q", te, r.TransferEncoding)
	}
	if r.Header.Get("Expect") != "" {
		t.Error("Expect survived")
	}
	if ct := r.Header.Values("Content-Type"); len(ct) != 1 {
		t.Errorf("Content-Type values = %q, want exactly one", ct)
	}
	if err := r.ParseForm(); err != nil {
		t.Fatal(err)
	}
	if got := r.PostForm.Get("x"); got != "1234" {
		t.Errorf("form x = %q; body read past CONTENT_LENGTH or short", got)
	}
}

func TestNewRequestBodyIsExactlyContentLength(t *testing.T) {
	t.Parallel()
	env := map[string]string{"REQUEST_METHOD": "POST", "REQUEST_URI": "/", "CONTENT_LENGTH": "11"}
	br := bufio.NewReader(strings.NewReader("hello worldEXTRA"))
	r, b, err := newStreamRequest(context.Background(), func() {}, env, br)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r.Body)
	if err != nil || string(got) != "hello world" {
		t.Fatalf("body = %q, %v", got, err)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "EXTRA" {
		t.Errorf("connection left at %q, want EXTRA", rest)
	}
	if b.detach() != 0 {
		t.Error("detach reports unread bytes after a full read")
	}
	if _, err := r.Body.Read(make([]byte, 1)); !errors.Is(err, http.ErrBodyReadAfterClose) {
		t.Errorf("read after the handler returned: err = %v", err)
	}
}

func TestNewRequestTruncatedBodyCancels(t *testing.T) {
	t.Parallel()
	env := map[string]string{"REQUEST_METHOD": "POST", "REQUEST_URI": "/", "CONTENT_LENGTH": "10"}
	cancelled := false
	br := bufio.NewReader(strings.NewReader("abc"))
	r, b, err := newStreamRequest(context.Background(), func() { cancelled = true }, env, br)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated body: err = %v, want io.ErrUnexpectedEOF", err)
	}
	if !cancelled {
		t.Error("connection failure did not cancel the request context")
	}
	if n := b.detach(); n != 7 {
		t.Errorf("unread = %d, want 7", n)
	}
}

func TestNewRequestRejects(t *testing.T) {
	t.Parallel()
	base := func(k, v string) map[string]string {
		env := map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/"}
		env[k] = v
		return env
	}
	tests := []struct {
		name string
		env  map[string]string
		want error
	}{
		{"negative length", base("CONTENT_LENGTH", "-1"), ErrBadContentLength},
		{"signed length", base("CONTENT_LENGTH", "+5"), ErrBadContentLength},
		{"word length", base("CONTENT_LENGTH", "abc"), ErrBadContentLength},
		{"overflowing length", base("CONTENT_LENGTH", "99999999999999999999"), ErrBadContentLength},
		{"no method", map[string]string{"REQUEST_URI": "/"}, ErrBadVariables},
		{"bad protocol", base("SERVER_PROTOCOL", "SPDY"), ErrBadVariables},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := build(t, tt.env, ""); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// net/http/cgi quotes the offending REQUEST_URI in its errors; ours must not,
// since errors are logged and a query string may hold a secret.
func TestNewRequestErrorHidesValues(t *testing.T) {
	t.Parallel()
	env := map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/%zz?password=hunter2"}
	_, _, err := build(t, env, "")
	if !errors.Is(err, ErrBadVariables) {
		t.Fatalf("err = %v, want ErrBadVariables", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error quotes the request URI: %v", err)
	}
}
