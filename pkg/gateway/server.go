package gateway

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// Server serves one request per connection for a [Protocol], or a
// connection's requests in turn for a [SessionProtocol]. It may serve
// several listeners at once; Shutdown and Close affect all of them.
type Server struct {
	proto        Protocol        // for NewServer
	session      SessionProtocol // for NewSessionServer
	statusPrefix string
	cfg          Config

	// baseCtx parents every request context; cancelling it tells handlers
	// that their connection is being force-closed.
	baseCtx    context.Context
	cancelBase context.CancelFunc

	mu        sync.Mutex
	closing   bool
	done      chan struct{} // closed when closing becomes true
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	inFlight  sync.WaitGroup // one count per tracked conn; Add only while !closing
}

// NewServer returns a server for p configured by c.
func NewServer(p Protocol, c Config) *Server {
	s := newServer(p.Name(), p.StatusPrefix(), c)
	s.proto = p
	return s
}

func newServer(name, statusPrefix string, c Config) *Server {
	c = c.WithDefaults()
	c.ErrorLog = c.ErrorLog.With("protocol", name)
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		statusPrefix: statusPrefix,
		cfg:          c,
		baseCtx:      ctx,
		cancelBase:   cancel,
		done:         make(chan struct{}),
		listeners:    make(map[net.Listener]struct{}),
		conns:        make(map[net.Conn]struct{}),
	}
}

// Serve accepts connections on l, at most Limits.MaxConnections at once,
// and serves each in its own goroutine until Shutdown or Close, when it
// returns [ErrServerClosed]. Other accept errors end Serve, except temporary
// ones (EMFILE and the like), which are retried with backoff as net/http
// does. Serve closes l when it returns.
func (s *Server) Serve(l net.Listener) error {
	ol := s.cfg.LimitListener(l) // Serve and Shutdown may both close it
	defer ol.Close()
	if !s.trackListener(ol, true) {
		return ErrServerClosed
	}
	defer s.trackListener(ol, false)

	var backoff time.Duration
	for {
		c, err := ol.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			if !isTemporary(err) {
				return err
			}
			backoff = nextBackoff(backoff)
			s.cfg.ErrorLog.Error("gateway: accept failed; retrying", "err", err, "retry_in", backoff)
			if !s.sleep(backoff) {
				return ErrServerClosed
			}
			continue
		}
		backoff = 0
		if !s.trackConn(c, true) {
			c.Close()
			return ErrServerClosed
		}
		if s.session != nil {
			go s.serveSession(c)
		} else {
			go s.serveConn(c)
		}
	}
}

// Shutdown stops the server gracefully: it closes all listeners and the
// connections idle between requests, then waits for the connections in
// flight to finish their current request. If ctx ends first, it closes the
// remaining connections, cancels their request contexts and returns
// ctx.Err(). Otherwise it returns the first error from closing a listener.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.stopAccepting()
	s.closeIdleConns()
	idle := make(chan struct{})
	go func() {
		s.inFlight.Wait()
		close(idle)
	}()
	select {
	case <-idle:
		return err
	case <-ctx.Done():
		s.closeConns()
		return ctx.Err()
	}
}

// Close closes all listeners and connections at once, cancelling the
// request contexts of handlers still running.
func (s *Server) Close() error {
	err := s.stopAccepting()
	s.closeConns()
	return err
}

func (s *Server) stopAccepting() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closing {
		s.closing = true
		close(s.done)
	}
	var err error
	for l := range s.listeners {
		if cerr := l.Close(); cerr != nil && err == nil {
			err = cerr
		}
		delete(s.listeners, l)
	}
	return err
}

func (s *Server) closeConns() {
	s.cancelBase()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) trackListener(l net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, l)
		return true
	}
	if s.closing {
		return false
	}
	s.listeners[l] = struct{}{}
	return true
}

// trackConn registers or forgets a connection. Registration fails once
// shutdown has begun, which keeps inFlight.Add from racing with Wait.
func (s *Server) trackConn(c net.Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, c)
		s.inFlight.Done()
		return true
	}
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	s.inFlight.Add(1)
	return true
}

// sleep waits d unless the server starts closing first.
func (s *Server) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return 5 * time.Millisecond
	}
	return min(2*d, time.Second)
}

// isTemporary reports accept errors that go away by themselves: descriptor
// or memory exhaustion, and timeouts from a listener deadline.
func isTemporary(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM} {
		if errors.Is(err, errno) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
