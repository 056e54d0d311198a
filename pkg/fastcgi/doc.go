// Package fastcgi serves an http.Handler over FastCGI (the "fastcgi_pass"
// side of nginx) with the standard library's net/http/fcgi, and adds what
// that package lacks for a long-running service: graceful Shutdown, idle
// timeouts, a cap on the parameter block, folding of repeated headers, and
// the limits, panic recovery and buffered response with Content-Length that
// every regtoken transport shares (package gateway).
//
// net/http/fcgi stays in charge of the wire format and of calling the
// handler. This package only wraps the listener, each connection, and the
// handler around it:
//
//   - the listener wrapper caps the open connections, as the gateway does
//     for every transport, and registers every accepted connection, so
//     Shutdown can find connections that nginx keeps open
//     (fastcgi_keep_conn on);
//   - the connection wrapper follows the record stream in both directions:
//     it knows which requests are open (BEGIN_REQUEST read, END_REQUEST not
//     yet written), so Shutdown closes a connection only after its last
//     response has been written in full; it also merges repeated parameters
//     (nginx before 1.23 sends a repeated header as repeated HTTP_* keys,
//     which fcgi's map would reduce to the last one);
//   - the handler wrapper is the gateway's: the body limit, panic recovery,
//     and a buffered response with Content-Length, because fcgi never sets
//     one, and nginx would otherwise chunk the reply.
//
// The package must not know anything about tokens or registries, must not
// read configuration on its own, and must never log request headers (they
// carry Authorization).
package fastcgi
