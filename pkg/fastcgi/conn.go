package fastcgi

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// conn is what fcgi sees of one connection. Reads go through a recordReader
// (which merges repeated parameters), writes are followed record by record,
// and together they tell Shutdown whether a response is still owed.
type conn struct {
	net.Conn
	srv      *Server
	accepted time.Time
	reader   *recordReader
	written  recordScanner // guarded by mu

	mu      sync.Mutex
	open    map[uint16]struct{} // request IDs begun and not yet ended
	started bool                // at least one byte arrived
	midRead bool                // a record is partly read
	once    sync.Once
	err     error
}

func newConn(nc net.Conn, srv *Server) *conn {
	c := &conn{Conn: nc, srv: srv, accepted: time.Now(), open: make(map[uint16]struct{})}
	src := bufio.NewReader(deadlineReader{c})
	c.reader = newRecordReader(src, srv.bounds().MaxHeaderBytes, c)
	return c
}

func (c *conn) Read(p []byte) (int, error) { return c.reader.Read(p) }

// Write passes p on and then notes every END_REQUEST record in it; a
// request counts as finished only once its last record is on the wire.
func (c *conn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.srv.bounds().RequestTimeout))
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.written.scan(p[:n], c.recordWritten)
	c.mu.Unlock()
	return n, err
}

// Close closes the connection once and forgets it; fcgi and Shutdown may
// both call it.
func (c *conn) Close() error {
	c.once.Do(func() {
		c.err = c.Conn.Close()
		c.srv.removeConn(c)
	})
	return c.err
}

// recordWritten runs with c.mu held.
func (c *conn) recordWritten(typ uint8, id uint16) {
	if typ == typeEndRequest {
		delete(c.open, id)
	}
}

// The recordReader reports reading progress through these three methods.

func (c *conn) recordStarted() {
	c.mu.Lock()
	c.started, c.midRead = true, true
	c.mu.Unlock()
}

func (c *conn) recordDone(typ uint8, id uint16) {
	c.mu.Lock()
	c.midRead = false
	if typ == typeBeginRequest {
		c.open[id] = struct{}{}
	}
	c.mu.Unlock()
}

// idle reports whether closing c now loses nothing: no request open, no
// record half read, and either a request was served already or the
// connection has been silent for longer than grace.
func (c *conn) idle(grace time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.open) > 0 || c.midRead {
		return false
	}
	return c.started || time.Since(c.accepted) > grace
}

// deadlineReader extends the read deadline before every read, which makes
// Limits.RequestTimeout an idle timeout.
type deadlineReader struct{ c *conn }

func (d deadlineReader) Read(p []byte) (int, error) {
	d.c.Conn.SetReadDeadline(time.Now().Add(d.c.srv.bounds().RequestTimeout))
	return d.c.Conn.Read(p)
}
