package httpfront

import (
	"cmp"
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/regtoken/regtoken/pkg/gateway"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = http.ErrServerClosed

// DefaultReadHeaderTimeout applies when ReadHeaderTimeout is zero.
const DefaultReadHeaderTimeout = 5 * time.Second

// Server serves HTTP/1.1 requests to Config.Handler (nil answers 404).
// Config applies as on every transport: Limits.RequestTimeout bounds reading
// a whole request and writing its response, and is the request context's
// deadline; Limits.IdleTimeout bounds the wait for the next request on a
// kept-alive connection; Limits.MaxHeaderBytes caps the request head; a full
// listener closes idle connections and cuts slow fresh ones to make room. Fields must be set before
// the first Serve; a Server must not be copied after first use.
type Server struct {
	gateway.Config

	// TrustProxyHeaders makes the client address come from X-Real-IP, or
	// else the last X-Forwarded-For entry (the one nginx appended), and
	// X-Forwarded-Proto: https mark the request as TLS, as HTTPS=on does on
	// the gateway protocols. Without it those headers are removed before the
	// handler runs, so nothing downstream can trust them by mistake.
	TrustProxyHeaders bool

	// ReadHeaderTimeout bounds reading a request head; zero means
	// DefaultReadHeaderTimeout.
	ReadHeaderTimeout time.Duration

	once sync.Once
	srv  *http.Server

	mu        sync.Mutex
	closing   bool
	listeners []net.Listener
	fresh     map[net.Conn]struct{} // accepted, first request not read yet
}

// Serve accepts connections on l until Shutdown or Close, after which it
// returns ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	srv := s.server()
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	// Shutdown closes l first (to stop accepting) and net/http closes it
	// again; the limit listener closes once, so that is no error.
	l = s.Config.LimitListener(l)
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	err := srv.Serve(l)
	if s.isClosing() {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops accepting, ends keep-alive, waits for requests in progress
// and returns nil; if ctx ends first it closes every connection and returns
// ctx.Err().
//
// net/http drops, unanswered, a request it reads after its own Shutdown has
// begun, so a connection accepted just before SIGTERM would get nothing (nginx
// answers 502). Shutdown therefore first stops accepting and waits until every
// accepted connection has had its request read, and only then lets net/http
// drain.
func (s *Server) Shutdown(ctx context.Context) error {
	srv := s.server()
	srv.SetKeepAlivesEnabled(false)
	s.closeListeners()
	s.waitFresh(ctx)
	err := srv.Shutdown(ctx)
	if err != nil {
		srv.Close()
	}
	return err
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	s.closing = true
	ls := s.listeners
	s.listeners = nil
	s.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
}

// waitFresh waits until no accepted connection is still waiting for its first
// request to be read, or ctx ends. ReadHeaderTimeout bounds the wait too.
func (s *Server) waitFresh(ctx context.Context) {
	for {
		s.mu.Lock()
		n := len(s.fresh)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// trackState remembers connections that have not started a request yet,
// and tells the connection cap what each connection is doing: net/http
// reports a request active once its head is read, and a kept-alive
// connection idle until then, so a slow head on a fresh connection counts as
// reading and one on a kept connection as idle.
func (s *Server) trackState(c net.Conn, state http.ConnState) {
	switch state {
	case http.StateActive:
		gateway.SetPhase(c, gateway.PhaseBusy)
	case http.StateIdle:
		gateway.SetPhase(c, gateway.PhaseIdle)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if state == http.StateNew {
		s.fresh[c] = struct{}{}
	} else {
		delete(s.fresh, c)
	}
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.closeListeners()
	return s.server().Close()
}

func (s *Server) server() *http.Server {
	s.once.Do(func() {
		log := s.ErrorLog
		if log == nil {
			log = slog.Default()
		}
		lim := s.Limits.WithDefaults()
		s.fresh = make(map[net.Conn]struct{})
		s.srv = &http.Server{
			ConnState:         s.trackState,
			Handler:           s.handler(),
			ReadHeaderTimeout: cmp.Or(s.ReadHeaderTimeout, DefaultReadHeaderTimeout),
			ReadTimeout:       lim.RequestTimeout,
			WriteTimeout:      lim.RequestTimeout,
			IdleTimeout:       lim.IdleTimeout,
			MaxHeaderBytes:    lim.MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
	})
	return s.srv
}

// handler puts the wrappers around Handler: proxy headers first, so the
// gateway's handler (limits, recovery, buffering) already sees the client's
// address.
func (s *Server) handler() http.Handler {
	c := s.Config
	if c.Handler == nil {
		c.Handler = http.NotFoundHandler()
	}
	h := c.WrapHandler()
	if s.TrustProxyHeaders {
		return useProxyHeaders(h)
	}
	return dropProxyHeaders(h)
}
