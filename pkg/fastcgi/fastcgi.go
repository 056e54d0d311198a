package fastcgi

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/regtoken/regtoken/pkg/gateway"
	"github.com/regtoken/regtoken/pkg/limits"
)

// ErrServerClosed is returned by Serve after Shutdown or Close. It is
// http.ErrServerClosed.
var ErrServerClosed = http.ErrServerClosed

// Serve accepts FastCGI connections on l and serves each with handler until
// l fails; see [Server.Serve]. A nil handler means http.DefaultServeMux.
func Serve(l net.Listener, handler http.Handler) error {
	return (&Server{Handler: handler}).Serve(l)
}

// ProcessEnv returns the FastCGI parameters r arrived with, repeated names
// folded: what http.Request has no field for, such as SCRIPT_NAME,
// DOCUMENT_ROOT or REMOTE_USER. It returns nil for a request that this
// package did not serve. The map holds the request's credentials
// (HTTP_AUTHORIZATION, HTTP_COOKIE): never log it whole, and do not modify it.
func ProcessEnv(r *http.Request) map[string]string { return gateway.Env(r) }

// Server is a FastCGI server. Zero fields take the defaults of package
// [limits]. Fields must not change once Serve, Shutdown or Close was called.
type Server struct {
	Handler        http.Handler  // nil means http.DefaultServeMux
	MaxHeaderBytes int           // cap on one request's PARAMS ([limits.DefaultMaxHeaderBytes])
	MaxBodyBytes   int64         // a larger body gets 413 ([limits.DefaultMaxBodyBytes])
	Timeout        time.Duration // absolute per-request deadline ([limits.DefaultRequestTimeout])
	IdleTimeout    time.Duration // wait for the next request on a kept connection ([limits.DefaultIdleTimeout])
	ErrorLog       *slog.Logger  // malformed streams and panics; nil means slog.Default()
	MaxConns       int           // connections served at once ([limits.DefaultMaxConnections])

	once sync.Once
	core *gateway.Server
}

// Serve accepts connections on l, one goroutine per connection, until
// Shutdown or Close, when it returns ErrServerClosed. Serve closes l when it
// returns.
func (s *Server) Serve(l net.Listener) error { return s.server().Serve(l) }

// Shutdown closes the listeners and the connections idle between requests,
// waits for requests in flight, and when ctx ends first, closes the
// remaining connections and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error { return s.server().Shutdown(ctx) }

// Close closes the listeners and every connection immediately.
func (s *Server) Close() error { return s.server().Close() }

func (s *Server) server() *gateway.Server {
	s.once.Do(func() {
		s.core = gateway.NewSessionServer(Protocol{}, gateway.Config{
			Handler: s.Handler,
			Limits: limits.Transport{RequestTimeout: s.Timeout, IdleTimeout: s.IdleTimeout,
				MaxHeaderBytes: s.MaxHeaderBytes, MaxBodyBytes: s.MaxBodyBytes, MaxConnections: s.MaxConns},
			ErrorLog: s.ErrorLog,
		})
	})
	return s.core
}

// Protocol is FastCGI as a value for a server core that serves several
// gateway protocols alike, as regtoken's listeners do; [Server] uses it too.
type Protocol struct{}

// Name is "fastcgi".
func (Protocol) Name() string { return "fastcgi" }

// StatusPrefix is "Status: ": a FastCGI response starts with a CGI header.
func (Protocol) StatusPrefix() string { return "Status: " }

// NewSession starts FastCGI on one connection.
func (Protocol) NewSession(w io.Writer, br *bufio.Reader, lim limits.Transport) gateway.Session {
	return newSession(w, br, lim)
}
