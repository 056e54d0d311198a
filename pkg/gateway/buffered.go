package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// BufferResponses wraps h for the transports that hand replies to a
// ResponseWriter of the standard library (FastCGI and HTTP), so that they
// behave like the SCGI and uwsgi ones: every response leaves with an exact
// Content-Length (net/http/fcgi never sets one and nginx then chunks the reply;
// net/http chunks bodies over 2 KiB, and a token with its certificate chain
// can exceed that), the request gets a deadline, and a panicking handler
// yields a 500 instead of a dropped connection or a crashed process. The
// token endpoint's replies are small, so holding one in memory is cheaper than
// streaming it.
func BufferResponses(h http.Handler, timeout time.Duration, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if timeout > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		buf := &bufferedResponse{header: w.Header()}
		if !serveRecovering(h, buf, r, log) {
			buf.reset(http.StatusInternalServerError)
		}
		buf.sendTo(w, r.Method == http.MethodHead)
	})
}

// serveRecovering runs the handler and reports false if it panicked.
func serveRecovering(h http.Handler, w http.ResponseWriter, r *http.Request, log *slog.Logger) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				log.Error("handler panicked", "panic", p, "uri", r.URL.Path)
			}
			ok = false
		}
	}()
	h.ServeHTTP(w, r)
	return true
}

// bufferedResponse collects status and body; headers go straight into the
// real writer's map.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 && code >= 200 { // interim 1xx answers are not kept
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	if !bodyAllowed(b.status) {
		return 0, http.ErrBodyNotAllowed
	}
	return b.body.Write(p)
}

// reset replaces whatever a panicking handler left with a bare status.
func (b *bufferedResponse) reset(code int) {
	clear(b.header)
	b.status = code
	b.body.Reset()
}

// sendTo writes the buffered response with an exact Content-Length. For
// HEAD the length is announced and the body left out.
func (b *bufferedResponse) sendTo(w http.ResponseWriter, head bool) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	b.header.Del("Transfer-Encoding")
	if bodyAllowed(b.status) {
		b.header.Set("Content-Length", strconv.Itoa(b.body.Len()))
	} else {
		b.header.Del("Content-Length")
	}
	w.WriteHeader(b.status)
	if !head && b.body.Len() > 0 {
		w.Write(b.body.Bytes()) // a write error means the client left
	}
}
