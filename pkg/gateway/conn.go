package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

const (
	readBufferSize = 4 << 10 // holds a typical nginx variable block whole
	// maxPooledBuffer keeps one huge reply from pinning memory in the pool.
	maxPooledBuffer = 64 << 10
	// maxDrainBytes bounds how much unread body is swallowed before closing.
	// Closing with unread input makes the kernel reset the connection, and
	// nginx may then report a 502 instead of our reply (golang.org/issue/4183).
	maxDrainBytes = 8 << 20
	// smallBody is the largest body copied behind the head rather than
	// sent with writev, which allocates per connection.
	smallBody = 16 << 10
)

// connBuffers are the per-connection buffers, recycled through a pool:
// nginx opens a connection per request, so they would otherwise be garbage
// thousands of times a second.
type connBuffers struct {
	br   *bufio.Reader
	head bytes.Buffer
	body bytes.Buffer
}

var buffersPool = sync.Pool{New: func() any {
	return &connBuffers{br: bufio.NewReaderSize(nil, readBufferSize)}
}}

func getBuffers(c net.Conn) *connBuffers {
	b := buffersPool.Get().(*connBuffers)
	b.br.Reset(c)
	return b
}

func putBuffers(b *connBuffers) {
	if b.head.Cap() > maxPooledBuffer || b.body.Cap() > maxPooledBuffer {
		return
	}
	b.br.Reset(nil)
	b.head.Reset()
	b.body.Reset()
	buffersPool.Put(b)
}

// serveConn serves the one request a connection carries, then closes it.
func (s *Server) serveConn(c net.Conn) {
	defer s.trackConn(c, false)
	defer c.Close()

	deadline := time.Now().Add(s.cfg.Limits.RequestTimeout)
	c.SetDeadline(deadline)
	ctx, cancel := context.WithDeadline(s.baseCtx, deadline)
	defer cancel()
	bufs := getBuffers(c)
	defer putBuffers(bufs)

	env, err := s.proto.ReadHeaders(bufs.br, s.cfg.Limits.MaxHeaderBytes)
	if err != nil {
		s.rejectHead(c, bufs, nil, nil, err)
		return
	}
	awaitBody(bufs.br, env)
	SetPhase(c, PhaseBusy)
	req, reqBody, err := newStreamRequest(ctx, cancel, env, bufs.br)
	if err != nil {
		s.cfg.Stats.Malformed.Add(1)
		s.logConn(slog.LevelWarn, "gateway: malformed request", c, env, err)
		s.sendError(c, bufs, nil, http.StatusBadRequest)
		return
	}
	w := newResponse(&bufs.body)
	aborted := s.cfg.serve(w, req)
	// From here on the pooled buffers must be out of the handler's reach.
	unread := reqBody.detach()
	if aborted {
		w.finished = true
		return // http.ErrAbortHandler: drop the connection without a reply
	}
	sendBody := w.finish(&bufs.head, s.statusPrefix, req.Method)
	if err := s.send(c, bufs, sendBody); err != nil {
		s.logConn(slog.LevelWarn, "gateway: writing response failed", c, env, err)
		return
	}
	// A refused body (413) is swallowed here too, within bounds.
	drain(bufs.br, unread)
}

// awaitBody waits until the body has arrived, as far as the read buffer
// holds it: a token request's form fits, and nginx sends the body with the
// head, so a connection that trickles it counts as slow while it does (see
// PhaseReading). Errors are left to the handler's reads.
func awaitBody(br *bufio.Reader, env map[string]string) {
	if n, err := parseLength(env["CONTENT_LENGTH"]); err == nil && n > 0 {
		br.Peek(int(min(n, int64(br.Size()))))
	}
}

// rejectHead handles a request head that could not be read (sess is nil on
// the one-request protocols). A peer that closed without sending anything
// is not an error; a timeout leaves no time to reply; anything else is
// malformed and gets a 400.
func (s *Server) rejectHead(c net.Conn, bufs *connBuffers, sess Session, env map[string]string, err error) {
	if err == io.EOF {
		return
	}
	s.logConn(slog.LevelWarn, "gateway: malformed request", c, env, err)
	if isTimeout(err) {
		s.cfg.Stats.TimedOut.Add(1)
		return
	}
	s.cfg.Stats.Malformed.Add(1)
	s.sendError(c, bufs, sess, http.StatusBadRequest)
}

// sendError writes a short plain-text reply with the given status: through
// the session, which answers its current request if it has one, or straight
// onto the connection.
func (s *Server) sendError(c net.Conn, bufs *connBuffers, sess Session, code int) {
	bufs.head.Reset()
	bufs.body.Reset()
	w := newResponse(&bufs.body)
	w.reset(code)
	w.finish(&bufs.head, s.statusPrefix, http.MethodGet)
	if sess != nil {
		sess.WriteResponse(bufs.head.Bytes(), bufs.body.Bytes())
		return
	}
	s.send(c, bufs, true)
}

// send writes the head and, if asked, the body. A small body is copied
// behind the head for a single write; a large one goes out with writev.
func (s *Server) send(c net.Conn, bufs *connBuffers, withBody bool) error {
	if !withBody || bufs.body.Len() == 0 {
		_, err := c.Write(bufs.head.Bytes())
		return err
	}
	if bufs.body.Len() <= smallBody {
		bufs.head.Write(bufs.body.Bytes())
		_, err := c.Write(bufs.head.Bytes())
		return err
	}
	out := net.Buffers{bufs.head.Bytes(), bufs.body.Bytes()}
	_, err := out.WriteTo(c)
	return err
}

// drain discards up to maxDrainBytes of body the handler left unread, so
// the peer has finished sending before we close.
func drain(br *bufio.Reader, unread int64) {
	if unread > 0 && unread <= maxDrainBytes {
		br.Discard(int(unread))
	}
}

// logConn logs one line about a connection: peer and reason (the logger
// names the protocol). The
// peer is REMOTE_ADDR when known; on a unix socket the connection's own
// address only says "@". Variable values are never logged.
func (s *Server) logConn(level slog.Level, msg string, c net.Conn, env map[string]string, err error) {
	remote := env["REMOTE_ADDR"]
	if remote == "" && c.RemoteAddr() != nil {
		remote = c.RemoteAddr().String()
	}
	s.cfg.ErrorLog.Log(context.Background(), level, msg, "remote", remote, "err", err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
