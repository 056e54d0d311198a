// Package fastcgi implements the responder side of FastCGI 1.0 for any
// http.Handler, the way net/http/fcgi does, for nginx's fastcgi_pass (with
// or without fastcgi_keep_conn), Apache's mod_proxy_fcgi and Caddy's
// FastCGI transport.
//
// The wire format is written from the specification and lives here: records
// (wire.go), and one connection's requests (session.go): FCGI_BEGIN_REQUEST
// with FCGI_KEEP_CONN, the PARAMS and STDIN streams, name-value pairs with
// 1- and 4-byte lengths, the STDOUT stream and FCGI_END_REQUEST, answers to
// FCGI_GET_VALUES (FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS=0),
// FCGI_ABORT_REQUEST, and FCGI_UNKNOWN_TYPE for records a responder has no
// use for. A connection carries one request at a time, as nginx sends them:
// a second request ID while one is open is answered FCGI_CANT_MPX_CONN, so a
// connection costs one goroutine and one set of buffers however many IDs it
// opens. Serving, limits, deadlines (absolute per request, idle between
// requests), graceful shutdown, panic recovery and the buffered response
// with Content-Length come from the gateway core that regtoken's SCGI,
// uwsgi and HTTP transports share; this package's API shows none of its
// types. Responses start with a CGI "Status: NNN Reason" line.
//
// The package must not read the environment or configuration files, and must
// never log variable values: HTTP_AUTHORIZATION and HTTP_COOKIE arrive there.
package fastcgi
