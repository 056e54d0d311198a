package fastcgi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/fcgi"
	"sync"
	"time"

	"github.com/regtoken/regtoken/pkg/gateway"
	"github.com/regtoken/regtoken/pkg/limits"
)

// ErrServerClosed is returned by Serve after Shutdown or Close. It is
// http.ErrServerClosed, so callers can treat every front the same way.
var ErrServerClosed = http.ErrServerClosed

// newConnGrace is how long Shutdown leaves a connection alone that has not
// sent a single byte yet: its first request may be on the way. net/http
// waits the same 5 seconds for connections in StateNew.
const newConnGrace = 5 * time.Second

// Server serves FastCGI requests to Config.Handler (nil answers 404), which
// sees an ordinary *http.Request, as built by net/http/cgi.RequestFromMap.
// Config applies as on every transport: Limits.RequestTimeout bounds each
// request and is also the idle limit of a connection (a read or write that
// makes no progress for this long closes it); Limits.MaxHeaderBytes caps the
// parameter block of one request (over it, the connection is closed and
// nginx answers 502). A Server must not be copied after first use.
type Server struct {
	gateway.Config

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
}

// Serve accepts connections on l and serves them until l fails, or until
// Shutdown or Close, after which it returns ErrServerClosed. Temporary accept
// errors (for example EMFILE) are retried with a back-off, as net/http does.
func (s *Server) Serve(l net.Listener) error {
	tl := &listener{Listener: s.Config.LimitListener(l), srv: s}
	if !s.track(tl) {
		return ErrServerClosed
	}
	defer s.untrack(tl)
	err := fcgi.Serve(tl, s.handler())
	if s.isClosed() {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops accepting, waits until every connection has written its
// last response, closes connections as they fall idle (including those kept
// open by fastcgi_keep_conn), and returns nil. If ctx ends first, it closes
// the remaining connections and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeListeners()
	poll := time.Millisecond
	timer := time.NewTimer(poll)
	defer timer.Stop()
	for {
		if s.closeIdleConns() {
			return nil
		}
		select {
		case <-ctx.Done():
			s.closeAllConns()
			return ctx.Err()
		case <-timer.C:
		}
		poll = min(2*poll, 100*time.Millisecond)
		timer.Reset(poll)
	}
}

// Close stops accepting and closes every connection at once. Requests in
// progress lose their responses.
func (s *Server) Close() error {
	s.closeListeners()
	s.closeAllConns()
	return nil
}

func (s *Server) handler() http.Handler {
	c := s.Config
	if c.Handler == nil {
		c.Handler = http.NotFoundHandler()
	}
	c.Handler = withRequestURI(c.Handler)
	return c.WrapHandler()
}

// withRequestURI sets RequestURI, which cgi.RequestFromMap leaves empty and
// loggers read.
func withRequestURI(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.RequestURI == "" {
			r.RequestURI = r.URL.RequestURI()
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) logger() *slog.Logger {
	if s.ErrorLog != nil {
		return s.ErrorLog
	}
	return slog.Default()
}

// bounds are the transport limits with the defaults filled in.
func (s *Server) bounds() limits.Transport { return s.Limits.WithDefaults() }

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// track registers a listener; it reports false once the server is closed.
func (s *Server) track(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) untrack(l net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.listeners, l)
}

// addConn registers c; it reports false once the server is closed, so a
// connection accepted during Shutdown is not served.
func (s *Server) addConn(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
}

// closeIdleConns closes the connections with no request in progress and
// reports whether none are left.
func (s *Server) closeIdleConns() bool {
	s.mu.Lock()
	var idle []*conn
	for c := range s.conns {
		if c.idle(newConnGrace) {
			idle = append(idle, c)
		}
	}
	left := len(s.conns) - len(idle)
	s.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
	return left == 0
}

func (s *Server) closeAllConns() {
	s.mu.Lock()
	all := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		all = append(all, c)
	}
	s.mu.Unlock()
	for _, c := range all {
		c.Close()
	}
}

// errListenerClosed is what a wrapped Accept returns when it refuses a
// connection because the server is shutting down.
var errListenerClosed = errors.New("fastcgi: server closed")
