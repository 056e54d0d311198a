package listen

import (
	"net"
	"net/http"
	"sync"

	"github.com/regtoken/regtoken/pkg/gateway"
)

// limitBody gives the FastCGI and HTTP fronts the body limit the SCGI and
// uwsgi servers apply themselves: a declared length over max is refused
// with 413 before the handler runs, and an undeclared one is cut off at max
// (the handler's read fails with *http.MaxBytesError).
func limitBody(h http.Handler, max int64, st *gateway.Stats) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			st.BodyTooLarge.Add(1)
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		h.ServeHTTP(w, r)
	})
}

// limitConns lets at most n accepted connections be open at once; Accept
// waits for a slot before taking the next connection from the kernel
// backlog (as golang.org/x/net/netutil.LimitListener does).
func limitConns(l net.Listener, n int, st *gateway.Stats) net.Listener {
	return &limitListener{Listener: l, slots: make(chan struct{}, n), closed: make(chan struct{}), stats: st}
}

type limitListener struct {
	net.Listener
	slots     chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
	stats     *gateway.Stats
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
		return l.accept()
	default:
		l.stats.ConnsWaited.Add(1)
	}
	select {
	case l.slots <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	return l.accept()
}

// accept takes a connection once a slot is held.
func (l *limitListener) accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
