package gateway

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"strings"
	"sync"
)

type envKey struct{}

// Env returns the CGI variables the request arrived with, repeated keys
// already folded (see [AddVar]), for a protocol package's ProcessEnv. It
// keeps what http.Request has no field for: SERVER_NAME, SERVER_PORT,
// DOCUMENT_URI, PATH_INFO, SCRIPT_NAME, REMOTE_USER. The map holds
// credentials (HTTP_AUTHORIZATION, HTTP_COOKIE): never log it whole. Callers
// must not modify it. Env returns nil for requests that did not come through
// a gateway [Server].
func Env(r *http.Request) map[string]string {
	env, _ := r.Context().Value(envKey{}).(map[string]string)
	return env
}

// hopHeaders describe the hop between the client and nginx, not this one.
// nginx forwards them as HTTP_* all the same; Transfer-Encoding is the
// dangerous one, since the body we get is already de-chunked.
var hopHeaders = []string{
	"Connection", "Expect", "Keep-Alive", "Proxy-Connection",
	"Te", "Transfer-Encoding", "Upgrade",
}

// newStreamRequest turns variables into a request whose body is the next
// CONTENT_LENGTH bytes of br, as SCGI and uwsgi send it; see newRequest.
func newStreamRequest(ctx context.Context, cancel context.CancelFunc, env map[string]string,
	br *bufio.Reader) (*http.Request, *body, error) {
	length, err := parseLength(env["CONTENT_LENGTH"])
	if err != nil {
		return nil, nil, err
	}
	return newRequest(ctx, cancel, env, br, length)
}

// newReadRequest turns variables into a request whose body a [Session] has
// read already: the first bytes of body, size bytes in all (more than the
// body holds when it was over the limit). The body framing, not
// CONTENT_LENGTH, says where a framed body ends, so size is the request's
// ContentLength. (Caddy sends CONTENT_LENGTH=-1 with a body of unknown
// length.)
func newReadRequest(ctx context.Context, cancel context.CancelFunc, env map[string]string,
	body []byte, size int64) (*http.Request, *body, error) {
	var src io.Reader = http.NoBody
	if len(body) > 0 {
		src = bytes.NewReader(body)
	}
	r, b, err := newRequest(ctx, cancel, env, src, int64(len(body)))
	if err == nil {
		r.ContentLength = size
	}
	return r, b, err
}

// newRequest turns variables into a request whose body is the next length
// bytes of src. ctx becomes the request's context and cancel is called if
// reading the body fails, so a handler waiting on ctx learns that the
// connection is gone. env is completed in place (SERVER_PROTOCOL and
// HTTP_HOST defaults).
func newRequest(ctx context.Context, cancel context.CancelFunc, env map[string]string,
	src io.Reader, length int64) (*http.Request, *body, error) {
	if env["SERVER_PROTOCOL"] == "" {
		env["SERVER_PROTOCOL"] = "HTTP/1.1" // hand-written configs omit it; RequestFromMap needs it
	}
	if env["HTTP_HOST"] == "" && env["SERVER_NAME"] != "" {
		env["HTTP_HOST"] = env["SERVER_NAME"] // RequestFromMap reads only HTTP_HOST
	}
	r, err := cgi.RequestFromMap(env)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrBadVariables, withoutValue(err))
	}
	r.RequestURI = env["REQUEST_URI"]
	if r.RequestURI == "" {
		r.RequestURI = r.URL.RequestURI()
	}
	for _, h := range hopHeaders {
		r.Header.Del(h)
	}
	// CONTENT_TYPE and HTTP_CONTENT_TYPE both become Content-Type; keep the
	// first, which RequestFromMap takes from CONTENT_TYPE.
	if ct := r.Header["Content-Type"]; len(ct) > 1 {
		r.Header["Content-Type"] = ct[:1]
	}
	b := &body{src: src, remaining: length, onError: cancel}
	if length > 0 {
		r.Body = b
	} else {
		r.Body = http.NoBody
	}
	return r.WithContext(context.WithValue(ctx, envKey{}, env)), b, nil
}

// withoutValue shortens a net/http/cgi error to its description: those
// messages end in the offending value, and a REQUEST_URI may hold a secret.
func withoutValue(err error) string {
	msg := strings.TrimPrefix(err.Error(), "cgi: ")
	msg, _, _ = strings.Cut(msg, ": ")
	return msg
}

// body is a request body: exactly CONTENT_LENGTH bytes of the connection, or
// the body a Session read. It stops working once the handler has returned,
// because the buffers underneath are then reused for other requests.
type body struct {
	mu        sync.Mutex
	src       io.Reader
	remaining int64
	closed    bool
	onError   context.CancelFunc
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.remaining <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.src.Read(p)
	b.remaining -= int64(n)
	switch {
	case err == io.EOF && b.remaining > 0:
		err = io.ErrUnexpectedEOF
		b.onError()
	case err != nil && err != io.EOF:
		b.onError()
	case err == nil && b.remaining == 0:
		err = io.EOF
	}
	return n, err
}

// Close marks the body closed for the handler; the server still drains
// what is left (see detach).
func (b *body) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// detach closes the body and returns how many bytes of it are still unread
// on the connection.
func (b *body) detach() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return b.remaining
}
