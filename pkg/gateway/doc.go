// Package gateway is the serving half shared by the SCGI and uwsgi responders
// (packages scgi and uwsgi). Both protocols carry one request per connection:
// a block of CGI variables, then exactly CONTENT_LENGTH bytes of body, then a
// response and a close. Only the framing of the variables and the first line
// of the response differ, so each protocol supplies those two pieces as a
// [Protocol] and everything else lives here once:
//
//   - [Server]: the accept loop with a connection cap, an absolute
//     per-connection deadline, retry on temporary accept errors, and
//     graceful [Server.Shutdown];
//   - turning the variables into an *http.Request with
//     net/http/cgi.RequestFromMap, plus the fixes that function leaves to its
//     caller (RequestURI, Host fallback, hop-by-hop headers, a bounded body);
//   - a fully buffered http.ResponseWriter that always sends Content-Length
//     and never chunks, because nginx passes chunk framing from SCGI and uwsgi
//     upstreams through to the client as body bytes.
//
// The package must not know about any one protocol's wire format, must not
// read the environment or configuration files, and must never log request
// variables or header values: they carry credentials (HTTP_AUTHORIZATION,
// HTTP_COOKIE).
package gateway
