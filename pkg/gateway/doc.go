// Package gateway is the core that regtoken's four transports share, so that
// a request is bounded, answered and counted the same way whichever protocol
// carried it:
//
//   - [Config]: the handler, the limits (read from package limits, the one
//     table), the error log and the [Stats] of refused requests;
//   - one connection cap ([Config.LimitListener]) that, when full, makes room
//     by closing idle kept-alive connections and cutting slow request heads
//     (see [Phase]); one body limit and one panic recovery; and one buffered
//     http.ResponseWriter that always sends an exact Content-Length and never
//     chunks (nginx passes chunk framing from SCGI and uwsgi upstreams
//     through to the client as body bytes);
//   - [Server]: the accept loop with retry on temporary errors, absolute
//     per-request deadlines, graceful [Server.Shutdown], and the CGI
//     variables turned into an *http.Request with
//     net/http/cgi.RequestFromMap plus the fixes that function leaves to its
//     caller (RequestURI, Host fallback, hop-by-hop headers, a bounded body).
//     A protocol supplies its wire format: SCGI and uwsgi, one request per
//     connection, as a [Protocol] ([NewServer]); FastCGI, framed records and
//     requests in turn on a kept connection, as a [SessionProtocol]
//     ([NewSessionServer]);
//   - [Config.WrapHandler], the same limits, recovery and buffering for the
//     HTTP front, whose server comes from the standard library.
//
// Its exported names serve those two sides only: the protocol packages
// (Protocol, SessionProtocol, Session, AddVar, ReadString, Env and the
// errors) and the listeners (Config, Phase, SetPhase, Stats).
// Package scgi, which other programs may import, shows none of its types.
//
// The package must not know about any one protocol's wire format, must not
// read the environment or configuration files, and must never log request
// variables or header values: they carry credentials (HTTP_AUTHORIZATION,
// HTTP_COOKIE).
package gateway
