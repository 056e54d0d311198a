package ldapauth

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// errBusy means every connection of a pool stayed in use for the whole
// wait.
var errBusy = errors.New("every directory connection is busy")

// pool keeps a few connections open, so that a login costs the directory
// operations it needs and no connection set-up (a TCP and a TLS handshake,
// and the service bind). It bounds the connections in use too: a flood of
// logins waits for one, up to a deadline, instead of opening hundreds.
type pool struct {
	dial  func(context.Context) (*ldap.Conn, error)
	wait  time.Duration
	slots chan struct{}   // one per connection in use
	idle  chan *ldap.Conn // open connections not in use

	mu     sync.Mutex
	closed bool
}

func newPool(size int, wait time.Duration, dial func(context.Context) (*ldap.Conn, error)) *pool {
	return &pool{dial: dial, wait: wait, slots: make(chan struct{}, size), idle: make(chan *ldap.Conn, size)}
}

// run calls fn with a connection. A pooled connection may have been closed
// by the server while idle (an idle timeout, a restart); when fn fails on
// one with a network error, it runs once more on a new connection.
func (p *pool) run(ctx context.Context, fn func(*ldap.Conn) error) error {
	if err := p.acquire(ctx); err != nil {
		return err
	}
	defer func() { <-p.slots }()
	c, reused, err := p.take(ctx)
	if err != nil {
		return err
	}
	err = fn(c)
	if err != nil && reused && brokenConnection(err) {
		c.Close()
		if c, err = p.dial(ctx); err != nil {
			return err
		}
		err = fn(c)
	}
	p.giveBack(c, err)
	return err
}

func (p *pool) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	timer := time.NewTimer(p.wait)
	defer timer.Stop()
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-timer.C:
		return errBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

// take returns an idle connection that is still open, or a new one.
func (p *pool) take(ctx context.Context) (c *ldap.Conn, reused bool, err error) {
	for {
		select {
		case c = <-p.idle:
			if !c.IsClosing() {
				return c, true, nil
			}
			c.Close()
		default:
			c, err = p.dial(ctx)
			return c, false, err
		}
	}
}

// giveBack keeps c for the next caller unless it broke or the pool closed.
func (p *pool) giveBack(c *ldap.Conn, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || c.IsClosing() || err != nil && brokenConnection(err) {
		c.Close()
		return
	}
	select {
	case p.idle <- c:
	default:
		c.Close()
	}
}

// close closes the idle connections now, and the busy ones as they come
// back.
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for {
		select {
		case c := <-p.idle:
			c.Close()
		default:
			return
		}
	}
}

// brokenConnection reports whether err says the connection itself failed,
// rather than the directory answering.
func brokenConnection(err error) bool {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return false
	}
	return le.ResultCode == ldap.ErrorNetwork || le.ResultCode == ldap.LDAPResultServerDown
}
