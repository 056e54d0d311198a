package gateway

import (
	"net"
	"sync"
)

// LimitListener wraps l so that at most Limits.MaxConnections accepted
// connections are open at once: Accept waits for one to close before it
// takes the next from the kernel's listen queue, where excess connections
// cost us no memory (as golang.org/x/net/netutil.LimitListener does). Every
// wait is counted in Stats.ConnsWaited. Closing the listener ends a waiting
// Accept with net.ErrClosed. Close closes l once and returns the same result
// every time, so a server and its Shutdown may both close it without the
// second call turning a clean stop into an error.
func (c Config) LimitListener(l net.Listener) net.Listener {
	c = c.WithDefaults()
	return &limitListener{Listener: l, slots: make(chan struct{}, c.Limits.MaxConnections),
		closed: make(chan struct{}), stats: c.Stats}
}

type limitListener struct {
	net.Listener
	slots     chan struct{} // one token per open connection
	closed    chan struct{}
	closeOnce sync.Once
	closeErr  error
	stats     *Stats
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
	l.closeOnce.Do(func() {
		close(l.closed)
		l.closeErr = l.Listener.Close()
	})
	return l.closeErr
}

// limitConn gives its slot back on the first Close.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
