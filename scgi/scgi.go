// Package scgi implements the responder side of SCGI, the Simple Common
// Gateway Interface, for any http.Handler, the way net/http/fcgi does for
// FastCGI. nginx's scgi_pass and Apache's mod_proxy_scgi are the clients.
//
// The wire format (a netstring of NUL-separated CGI variables, then
// CONTENT_LENGTH bytes of body) is parsed here, in wire.go. Serving, limits,
// deadlines, graceful shutdown, panic recovery and the buffered response
// come from the gateway core that regtoken's uwsgi, FastCGI and HTTP
// transports share, and this package's API shows none of its types.
// Responses start with a CGI "Status: NNN Reason" line, the only form Apache
// accepts; nginx accepts it too.
//
// The package must not read the environment or configuration files, and must
// never log variable values: HTTP_AUTHORIZATION and HTTP_COOKIE arrive there.
package scgi

import (
	"bufio"
	"context"
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

// Serve accepts SCGI connections on l and serves each with handler until l
// fails; see [Server.Serve]. A nil handler means http.DefaultServeMux.
func Serve(l net.Listener, handler http.Handler) error {
	return (&Server{Handler: handler}).Serve(l)
}

// ProcessEnv returns the CGI variables r arrived with, repeated names
// folded: what http.Request has no field for, such as SCRIPT_NAME,
// DOCUMENT_ROOT or REMOTE_USER. It returns nil for a request that this
// package did not serve. The map holds the request's credentials
// (HTTP_AUTHORIZATION, HTTP_COOKIE): never log it whole, and do not modify it.
func ProcessEnv(r *http.Request) map[string]string { return gateway.Env(r) }

// Server is an SCGI server. Zero fields take the defaults of package
// [limits]. Fields must not change once Serve, Shutdown or Close was called.
type Server struct {
	Handler        http.Handler  // nil means http.DefaultServeMux
	MaxHeaderBytes int           // cap on the netstring ([limits.DefaultMaxHeaderBytes])
	MaxBodyBytes   int64         // a larger CONTENT_LENGTH gets 413 ([limits.DefaultMaxBodyBytes])
	Timeout        time.Duration // absolute per-connection deadline ([limits.DefaultRequestTimeout])
	ErrorLog       *slog.Logger  // malformed streams and panics; nil means slog.Default()
	MaxConns       int           // connections served at once ([limits.DefaultMaxConnections])

	once sync.Once
	core *gateway.Server
}

// Serve accepts connections on l, one goroutine and one request per
// connection, until Shutdown or Close, when it returns ErrServerClosed.
// Serve closes l when it returns.
func (s *Server) Serve(l net.Listener) error { return s.server().Serve(l) }

// Shutdown closes the listeners, waits for requests in flight, and when ctx
// ends first, closes the remaining connections and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error { return s.server().Shutdown(ctx) }

// Close closes the listeners and every connection immediately.
func (s *Server) Close() error { return s.server().Close() }

func (s *Server) server() *gateway.Server {
	s.once.Do(func() {
		s.core = gateway.NewServer(Protocol{}, gateway.Config{
			Handler: s.Handler,
			Limits: limits.Transport{RequestTimeout: s.Timeout, MaxHeaderBytes: s.MaxHeaderBytes,
				MaxBodyBytes: s.MaxBodyBytes, MaxConnections: s.MaxConns},
			ErrorLog: s.ErrorLog,
		})
	})
	return s.core
}

// Protocol is SCGI as a value for a server core that serves several gateway
// protocols alike, as regtoken's listeners do; [Server] uses it too.
type Protocol struct{}

// Name is "scgi".
func (Protocol) Name() string { return "scgi" }

// ReadHeaders reads one request head, as the function [ReadHeaders] does.
func (Protocol) ReadHeaders(br *bufio.Reader, maxBytes int) (map[string]string, error) {
	return ReadHeaders(br, maxBytes)
}

// StatusPrefix is "Status: ": an SCGI response starts with a CGI header.
func (Protocol) StatusPrefix() string { return "Status: " }
