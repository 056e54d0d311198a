package fastcgi

import (
	"net"
	"time"
)

// listener registers every accepted connection with the server and hides
// temporary accept errors from fcgi.Serve, which would otherwise stop
// serving for good on the first EMFILE.
type listener struct {
	net.Listener
	srv *Server
}

func (l *listener) Accept() (net.Conn, error) {
	var backoff time.Duration
	for {
		nc, err := l.Listener.Accept()
		if err == nil {
			return l.wrap(nc)
		}
		if !isTemporary(err) || l.srv.isClosed() {
			return nil, err
		}
		backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
		l.srv.logger().Warn("fastcgi: accept failed; retrying", "err", err, "retry_in", backoff)
		time.Sleep(backoff)
	}
}

func (l *listener) wrap(nc net.Conn) (net.Conn, error) {
	c := newConn(nc, l.srv)
	if !l.srv.addConn(c) {
		nc.Close()
		return nil, errListenerClosed
	}
	return c, nil
}

// isTemporary reports whether an accept error is worth retrying, using the
// same (deprecated but still implemented) test as net/http.
func isTemporary(err error) bool {
	te, ok := err.(interface{ Temporary() bool })
	return ok && te.Temporary()
}
