package gateway

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/regtoken/regtoken/pkg/limits"
)

// SessionProtocol is a gateway protocol whose messages are framed, so that a
// connection may carry one request after another, as FastCGI's does with
// FCGI_KEEP_CONN. The [Server] made by [NewSessionServer] owns the
// connection, its deadlines and the handler; the protocol only reads and
// writes its frames.
type SessionProtocol interface {
	// Name labels log lines, e.g. "fastcgi".
	Name() string
	// StatusPrefix starts the first line of every response head, as for
	// [Protocol].
	StatusPrefix() string
	// NewSession starts the protocol on one connection: it reads from br
	// and writes to w, within lim (defaults filled in).
	NewSession(w io.Writer, br *bufio.Reader, lim limits.Transport) Session
}

// Session is one connection's worth of a [SessionProtocol]. The server calls
// ReadRequest and WriteResponse in turn, never at the same time.
type Session interface {
	// ReadRequest reads the next request whole: its variables (repeated
	// keys folded with [AddVar]) and its body, of which it keeps at most
	// Limits.MaxBodyBytes+1 bytes while size counts all of it. It answers
	// whatever else arrives meanwhile itself. It returns io.EOF, and only
	// io.EOF, when the peer closed the connection before a request began;
	// [ErrHeaderTooLarge] and the other errors of this package for a head it
	// cannot serve. The returned slices stay valid until the next call.
	// Errors must not quote variable values.
	ReadRequest() (env map[string]string, body []byte, size int64, err error)
	// WriteResponse sends the response to the request ReadRequest returned,
	// or began when it failed: head is the response head (from
	// StatusPrefix to the empty line), body what follows it. It reports
	// whether the connection may carry another request.
	WriteResponse(head, body []byte) (keep bool, err error)
	// Close releases the session's buffers. The server closes the
	// connection itself.
	Close()
}

// NewSessionServer returns a server for p configured by c. Every connection
// carries requests until the protocol says otherwise: the first request's
// deadline runs from accept, as on [NewServer]'s; between requests a
// connection may idle for Limits.IdleTimeout, and each further request gets
// Limits.RequestTimeout from its first byte. Shutdown closes idle
// connections at once and the others after their current request.
func NewSessionServer(p SessionProtocol, c Config) *Server {
	s := newServer(p.Name(), p.StatusPrefix(), c)
	s.session = p
	return s
}

// serveSession serves the requests of one connection, one at a time.
func (s *Server) serveSession(c net.Conn) {
	defer s.trackConn(c, false)
	defer c.Close()
	bufs := getBuffers(c)
	defer putBuffers(bufs)
	sess := s.session.NewSession(c, bufs.br, s.cfg.Limits)
	defer sess.Close()

	deadline := time.Now().Add(s.cfg.Limits.RequestTimeout)
	for {
		c.SetDeadline(deadline)
		if !s.serveNext(c, bufs, sess, deadline) || !s.awaitNext(c, bufs.br) {
			return
		}
		deadline = time.Now().Add(s.cfg.Limits.RequestTimeout)
	}
}

// awaitNext waits, idle, for the first byte of another request. It reports
// false when the connection closed or idled too long, or the server is
// shutting down.
func (s *Server) awaitNext(c net.Conn, br *bufio.Reader) bool {
	SetPhase(c, PhaseIdle)
	// Shutdown marks the server closing before it closes idle connections,
	// and this connection is idle before it looks: one of the two sees the
	// other.
	select {
	case <-s.done:
		return false
	default:
	}
	c.SetReadDeadline(time.Now().Add(s.cfg.Limits.IdleTimeout))
	if _, err := br.Peek(1); err != nil {
		return false
	}
	SetPhase(c, PhaseReading)
	return true
}

// serveNext reads one request, serves it and writes the response. It reports
// whether the connection may carry another.
func (s *Server) serveNext(c net.Conn, bufs *connBuffers, sess Session, deadline time.Time) bool {
	env, reqBody, size, err := sess.ReadRequest()
	if err != nil {
		s.rejectHead(c, bufs, sess, env, err)
		return false
	}
	SetPhase(c, PhaseBusy)
	ctx, cancel := context.WithDeadline(s.baseCtx, deadline)
	defer cancel()
	req, b, err := newReadRequest(ctx, cancel, env, reqBody, size)
	if err != nil {
		s.cfg.Stats.Malformed.Add(1)
		s.logConn(slog.LevelWarn, "gateway: malformed request", c, env, err)
		s.sendError(c, bufs, sess, http.StatusBadRequest)
		return false
	}
	w := newResponse(&bufs.body)
	aborted := s.cfg.serve(w, req)
	b.detach() // the session reuses its body buffer for the next request
	if aborted {
		w.finished = true
		return false
	}
	sendBody := w.finish(&bufs.head, s.statusPrefix, req.Method)
	keep, err := sess.WriteResponse(bufs.head.Bytes(), bodyIf(sendBody, &bufs.body))
	bufs.head.Reset()
	bufs.body.Reset()
	if err != nil {
		s.logConn(slog.LevelWarn, "gateway: writing response failed", c, env, err)
		return false
	}
	return keep
}

func bodyIf(send bool, b interface{ Bytes() []byte }) []byte {
	if !send {
		return nil
	}
	return b.Bytes()
}

// closeIdleConns closes the connections waiting for another request; the
// others close after their current one (see awaitNext).
func (s *Server) closeIdleConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if lc, ok := c.(*limitConn); ok && Phase(lc.phase.Load()) == PhaseIdle {
			c.Close()
		}
	}
}
