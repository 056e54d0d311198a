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

	"github.com/regtoken/regtoken/pkg/fastcgi"
	"github.com/regtoken/regtoken/pkg/gateway"
	"github.com/regtoken/regtoken/pkg/httpfront"
	"github.com/regtoken/regtoken/pkg/limits"
	"github.com/regtoken/regtoken/pkg/uwsgi"
	"github.com/regtoken/regtoken/scgi"
)

// server is what the gateway core (SCGI, uwsgi, FastCGI) and
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
// handler within lim (zero fields take the defaults of package limits), each
// listener with its own connection cap; log receives the servers'
// connection-level errors (nil means slog.Default()). From now on the group
// owns the listeners: Shutdown and Close close them (removing unix socket
// files regtoken created, never activated ones).
func Start(listeners []Listener, handler http.Handler, log *slog.Logger, lim limits.Transport) (*Group, error) {
	if handler == nil {
		return nil, errors.New("listen: Start needs a handler")
	}
	if log == nil {
		log = slog.Default()
	}
	g := &Group{errs: make(chan error, len(listeners))}
	cfg := gateway.Config{Handler: handler, Limits: lim, Stats: &g.Stats}
	for _, l := range listeners {
		cfg.ErrorLog = log.With("listener", l.Spec.String())
		srv, err := newServer(l.Spec, cfg)
		if err != nil {
			return nil, err
		}
		g.servers = append(g.servers, srv)
	}
	for i, l := range listeners {
		g.done.Add(1)
		go g.serve(g.servers[i], l)
	}
	return g, nil
}

// newServer returns the server for s's protocol. All four take the same
// Config, so they enforce the same limits in the same way and count what
// they refuse in the same Stats.
func newServer(s Spec, cfg gateway.Config) (server, error) {
	switch canonicalProtocol(s.Protocol) {
	case SCGI:
		return gateway.NewServer(scgi.Protocol{}, cfg), nil
	case UWSGI:
		return gateway.NewServer(uwsgi.Protocol{}, cfg), nil
	case FastCGI:
		return gateway.NewSessionServer(fastcgi.Protocol{}, cfg), nil
	case HTTP:
		return &httpfront.Server{Config: cfg, TrustProxyHeaders: s.TrustProxyHeaders}, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownProtocol, s.Protocol)
}

// serve runs one server until it stops; a stop that Shutdown or Close did
// not ask for is a failure.
func (g *Group) serve(srv server, l Listener) {
	defer g.done.Done()
	err := srv.Serve(l.Listener)
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
