package gateway

import (
	"bytes"
	"context"
	"net/http"
	"runtime/debug"
)

// WrapHandler returns c.Handler for a transport whose ResponseWriter comes
// from the standard library (HTTP through net/http), so that it treats a
// request exactly as [Server] does for SCGI, uwsgi and FastCGI: the same
// body limit, panic recovery and request deadline, and a buffered answer
// with an exact Content-Length. net/http chunks bodies over 2 KiB, which a
// token with its certificate chain can exceed; the token endpoint's replies
// are small, so holding one in memory is cheaper than streaming it.
func (c Config) WrapHandler() http.Handler {
	c = c.WithDefaults()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), c.Limits.RequestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		buf := newResponse(new(bytes.Buffer))
		if aborted := c.serve(buf, r); aborted {
			// Dropping the connection is not ours to do here.
			buf.reset(http.StatusInternalServerError)
		}
		buf.sendTo(w, r.Method)
	})
}

// serve runs the handler for one request the same way on every transport.
// A declared body over MaxBodyBytes is answered 413 without calling the
// handler (counted and logged), and a body of unknown length is cut off
// there. A panic becomes a plain 500, logged with its stack and counted, so
// one bad request cannot take the process down. serve reports whether the
// handler aborted with http.ErrAbortHandler, after which no reply is due.
// c must have its defaults.
func (c *Config) serve(w *response, r *http.Request) (aborted bool) {
	if max := c.Limits.MaxBodyBytes; r.ContentLength > max {
		c.Stats.BodyTooLarge.Add(1)
		c.ErrorLog.Info("request body too large",
			"remote", r.RemoteAddr, "content_length", r.ContentLength, "max", max)
		w.reset(http.StatusRequestEntityTooLarge)
		return false
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, c.Limits.MaxBodyBytes)
	}
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if p == http.ErrAbortHandler {
			aborted = true
			return
		}
		// Only the path: the query string and headers may carry credentials.
		c.Stats.Panics.Add(1)
		c.ErrorLog.Error("handler panic", "remote", r.RemoteAddr, "method", r.Method,
			"path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
		w.reset(http.StatusInternalServerError)
	}()
	c.Handler.ServeHTTP(w, r)
	return false
}
