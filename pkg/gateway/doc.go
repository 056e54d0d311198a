// Package gateway is the core that regtoken's four transports share, so that
// a request is bounded, answered and counted the same way whichever protocol
// carried it:
//
//   - [Config]: the handler, the limits (read from package limits, the one
//     table), the error log and the [Stats] of refused requests;
//   - one connection cap ([Config.LimitListener]), one body limit and one
//     panic recovery, and one buffered http.ResponseWriter that always sends
//     an exact Content-Length and never chunks (nginx passes chunk framing
//     from SCGI and uwsgi upstreams through to the client as body bytes);
//   - [Server], for the one-request-per-connection protocols SCGI and uwsgi:
//     the accept loop with retry on temporary errors, an absolute
//     per-connection deadline, graceful [Server.Shutdown], and the CGI
//     variables turned into an *http.Request with
//     net/http/cgi.RequestFromMap plus the fixes that function leaves to its
//     caller (RequestURI, Host fallback, hop-by-hop headers, a bounded body).
//     Each protocol supplies its wire format as a [Protocol];
//   - [Config.WrapHandler], the same limits, recovery and buffering for the
//     FastCGI and HTTP fronts, whose servers come from the standard library.
//
// Its exported names serve those two sides only: the protocol packages
// (Protocol, AddVar, ReadString, Env and the errors) and the listeners.
// Package scgi, which other programs may import, shows none of its types.
//
// The package must not know about any one protocol's wire format, must not
// read the environment or configuration files, and must never log request
// variables or header values: they carry credentials (HTTP_AUTHORIZATION,
// HTTP_COOKIE).
package gateway
