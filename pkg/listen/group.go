package listen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/regtoken/regtoken/pkg/fastcgi"
	"github.com/regtoken/regtoken/pkg/gateway"
	"github.com/regtoken/regtoken/pkg/httpfront"
	"github.com/regtoken/regtoken/pkg/uwsgi"
	"github.com/regtoken/regtoken/scgi"
)

// Defaults for zero Limits fields; the same as package gateway's, so every
// transport enforces the same limits.
const (
	DefaultTimeout        = 30 * time.Second
	DefaultMaxHeaderBytes = 64 << 10
	DefaultMaxBodyBytes   = 1 << 20
	DefaultMaxConns       = 1024
)

// Limits apply to every listener alike.
type Limits struct {
	// Timeout bounds a request from its first byte to its last response
	// byte (the request context gets this deadline too), and how long a
	// kept-alive HTTP or FastCGI connection may idle.
	Timeout time.Duration
	// MaxHeaderBytes caps the request head (HTTP) or variable block
	// (SCGI netstring, uwsgi vars, FastCGI params).
	MaxHeaderBytes int
	// MaxBodyBytes caps the request body; a larger declared body gets 413.
	MaxBodyBytes int64
	// MaxConns caps the connections served at once, per listener.
	MaxConns int
}

func (l Limits) withDefaults() Limits {
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
	return l
}

// server is what scgi.Server, uwsgi.Server, fastcgi.Server and
// httpfront.Server have in common.
type server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// Group runs one server per listener, all with the same handler.
type Group struct {
	// Stats counts requests every transport of the group refused, by reason.
	Stats gateway.Stats

	servers  []server
	stopping atomic.Bool
	done     sync.WaitGroup
	errs     chan error

	mu       sync.Mutex
	failures []error
}

// Start starts a server for each listener, speaking its spec's protocol to
// handler; log receives the servers' connection-level errors (nil means
// slog.Default()). From now on the group owns the listeners: Shutdown and
// Close close them (removing unix socket files regtoken created, never
// activated ones).
func Start(listeners []Listener, handler http.Handler, log *slog.Logger, limits Limits) (*Group, error) {
	if handler == nil {
		return nil, errors.New("listen: Start needs a handler")
	}
	if log == nil {
		log = slog.Default()
	}
	limits = limits.withDefaults()
	g := &Group{errs: make(chan error, len(listeners))}
	for _, l := range listeners {
		srv, err := newServer(l.Spec, handler, log, limits, &g.Stats)
		if err != nil {
			return nil, err
		}
		g.servers = append(g.servers, srv)
	}
	for i, l := range listeners {
		g.done.Add(1)
		go g.serve(g.servers[i], l, limits)
	}
	return g, nil
}

func newServer(s Spec, h http.Handler, log *slog.Logger, lim Limits, st *gateway.Stats) (server, error) {
	log = log.With("listener", s.String())
	switch canonicalProtocol(s.Protocol) {
	case SCGI:
		return &scgi.Server{Handler: h, ErrorLog: log, Timeout: lim.Timeout,
			MaxHeaderBytes: lim.MaxHeaderBytes, MaxBodyBytes: lim.MaxBodyBytes, MaxConns: lim.MaxConns, Stats: st}, nil
	case UWSGI:
		return &uwsgi.Server{Handler: h, ErrorLog: log, Timeout: lim.Timeout,
			MaxHeaderBytes: lim.MaxHeaderBytes, MaxBodyBytes: lim.MaxBodyBytes, MaxConns: lim.MaxConns, Stats: st}, nil
	case FastCGI:
		return &fastcgi.Server{Handler: limitBody(h, lim.MaxBodyBytes, st), ErrorLog: log,
			Timeout: lim.Timeout, MaxHeaderBytes: lim.MaxHeaderBytes}, nil
	case HTTP:
		return &httpfront.Server{Handler: limitBody(h, lim.MaxBodyBytes, st), ErrorLog: log,
			Timeout: lim.Timeout, MaxHeaderBytes: lim.MaxHeaderBytes, TrustProxyHeaders: s.TrustProxyHeaders}, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownProtocol, s.Protocol)
}

// serve runs one server until it stops; a stop that Shutdown or Close did
// not ask for is a failure.
func (g *Group) serve(srv server, l Listener, lim Limits) {
	defer g.done.Done()
	var nl net.Listener = l.Listener
	if p := canonicalProtocol(l.Spec.Protocol); p == FastCGI || p == HTTP {
		nl = limitConns(nl, lim.MaxConns, &g.Stats) // scgi and uwsgi enforce MaxConns themselves
	}
	err := srv.Serve(nl)
	if g.stopping.Load() {
		return
	}
	err = fmt.Errorf("listen: %s stopped serving: %w", l.Spec, err)
	g.mu.Lock()
	g.failures = append(g.failures, err)
	g.mu.Unlock()
	g.errs <- err
}

// Errors delivers the error of each server that stops on its own, for
// example because its listener failed. Nothing arrives after Shutdown or
// Close. The other servers keep running; the caller decides whether to shut
// the group down.
func (g *Group) Errors() <-chan error { return g.errs }

// Wait blocks until every server has stopped and returns the failures that
// Errors delivered, joined.
func (g *Group) Wait() error {
	g.done.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	return errors.Join(g.failures...)
}

// Shutdown stops every server at once: no new connections, requests in
// flight finish. It returns when all are done, or, when ctx ends first,
// after closing the connections left, with ctx's error.
func (g *Group) Shutdown(ctx context.Context) error {
	g.stopping.Store(true)
	errs := make([]error, len(g.servers))
	var wg sync.WaitGroup
	for i, srv := range g.servers {
		wg.Go(func() { errs[i] = srv.Shutdown(ctx) })
	}
	wg.Wait()
	g.done.Wait()
	return errors.Join(errs...)
}

// Close stops every server and closes every connection at once.
func (g *Group) Close() error {
	g.stopping.Store(true)
	errs := make([]error, len(g.servers))
	for i, srv := range g.servers {
		errs[i] = srv.Close()
	}
	g.done.Wait()
	return errors.Join(errs...)
}
