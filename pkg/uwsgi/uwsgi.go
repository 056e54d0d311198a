// Package uwsgi is the wire format of the uwsgi binary protocol, so nginx's
// uwsgi_pass and Apache's mod_proxy_uwsgi can talk to a Go service
// directly, with existing uWSGI-era nginx configs (uwsgi_modifier1 30,
// UWSGI_* params) working unchanged.
//
// The request head (a 4-byte packet header, then little-endian
// length-prefixed variables, then CONTENT_LENGTH bytes of body) is parsed
// here, in wire.go. [Protocol] hands it to the gateway core that serves SCGI
// the same way, which supplies serving, limits, deadlines, graceful
// shutdown, panic recovery and the buffered response:
//
//	gateway.NewServer(uwsgi.Protocol{}, gateway.Config{Handler: h}).Serve(l)
//
// Responses start with a raw "HTTP/1.1 NNN Reason" line: nginx would pass a
// CGI "Status:" header on to the client, and Apache answers it with 502.
//
// The package must not read the environment or configuration files, and must
// never log variable values: HTTP_AUTHORIZATION and HTTP_COOKIE arrive there.
package uwsgi

import "bufio"

// Protocol is uwsgi as a value for the gateway core (gateway.Protocol).
type Protocol struct{}

// Name is "uwsgi".
func (Protocol) Name() string { return "uwsgi" }

// ReadHeaders reads one request head, as the function [ReadHeaders] does.
func (Protocol) ReadHeaders(br *bufio.Reader, maxBytes int) (map[string]string, error) {
	return ReadHeaders(br, maxBytes)
}

// StatusPrefix is "HTTP/1.1 ": a uwsgi response starts with a raw status line.
func (Protocol) StatusPrefix() string { return "HTTP/1.1 " }
