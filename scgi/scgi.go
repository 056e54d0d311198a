// Package scgi implements the responder side of SCGI, the Simple Common
// Gateway Interface, for any http.Handler, the way net/http/fcgi does for
// FastCGI. nginx's scgi_pass and Apache's mod_proxy_scgi are the clients.
//
// The wire format (a netstring of NUL-separated CGI variables, then
// CONTENT_LENGTH bytes of body) is parsed here; serving, limits, deadlines,
// graceful shutdown and the buffered response come from package gateway and
// are shared with package uwsgi. Responses start with a CGI "Status: NNN
// Reason" line, the only form Apache accepts; nginx accepts it too.
//
// The package must not read the environment or configuration files, and must
// never log variable values: HTTP_AUTHORIZATION and HTTP_COOKIE arrive there.
package scgi

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/regtoken/regtoken/pkg/gateway"
)

// ErrServerClosed is returned by Serve after Shutdown or Close. It is
// http.ErrServerClosed.
var ErrServerClosed = gateway.ErrServerClosed

// protocol is what SCGI contributes to the shared gateway server.
var protocol = gateway.Protocol{
	Name:        "scgi",
	ReadHeaders: ReadHeaders,
	AppendStatusLine: func(dst []byte, code int) []byte {
		return gateway.AppendStatusLine(dst, "Status: ", code)
	},
}

// Serve accepts SCGI connections on l and serves each with handler until l
// fails; see [Server.Serve]. A nil handler means http.DefaultServeMux.
func Serve(l net.Listener, handler http.Handler) error {
	return (&Server{Handler: handler}).Serve(l)
}

// Server is an SCGI server. Zero fields take the defaults of package
// gateway. Fields must not change once Serve, Shutdown or Close was called.
type Server struct {
	Handler        http.Handler  // nil means http.DefaultServeMux
	MaxHeaderBytes int           // netstring cap, default 64 KiB
	MaxBodyBytes   int64         // default 1 MiB; larger CONTENT_LENGTH gets 413
	Timeout        time.Duration // absolute per-connection deadline, default 30 s
	ErrorLog       *slog.Logger  // malformed streams and panics; nil means slog.Default()
	MaxConns       int           // connections served at once, default 1024
	// Stats, when set, counts refused requests by reason (may be shared).
	Stats *gateway.Stats

	once sync.Once
	gw   *gateway.Server
}

func (s *Server) gateway() *gateway.Server {
	s.once.Do(func() {
		s.gw = gateway.NewServer(protocol, gateway.Config{
			Handler:        s.Handler,
			MaxHeaderBytes: s.MaxHeaderBytes,
			MaxBodyBytes:   s.MaxBodyBytes,
			Timeout:        s.Timeout,
			ErrorLog:       s.ErrorLog,
			MaxConns:       s.MaxConns,
			Stats:          s.Stats,
		})
	})
	return s.gw
}

// Serve accepts connections on l, one goroutine and one request per
// connection, until Shutdown or Close, when it returns ErrServerClosed.
// Serve closes l when it returns.
func (s *Server) Serve(l net.Listener) error { return s.gateway().Serve(l) }

// Shutdown closes the listeners, waits for requests in flight, and when ctx
// ends first, closes the remaining connections and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error { return s.gateway().Shutdown(ctx) }

// Close closes the listeners and every connection immediately.
func (s *Server) Close() error { return s.gateway().Close() }
