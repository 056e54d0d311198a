package gateway

import (
	"errors"
	"net/http"
)

// ErrServerClosed is returned by [Server.Serve] after [Server.Shutdown] or
// [Server.Close]. It is http.ErrServerClosed, so a main that runs HTTP and
// gateway listeners side by side can test every Serve result the same way.
var ErrServerClosed = http.ErrServerClosed

// Errors for request heads that cannot be served; the server answers them
// with 400. (A body over the limit is a servable request, answered 413.)
var (
	// ErrHeaderTooLarge: the variable block is larger than MaxHeaderBytes.
	ErrHeaderTooLarge = errors.New("gateway: request variables exceed the size limit")
	// ErrBadContentLength: CONTENT_LENGTH is neither empty nor a decimal number.
	ErrBadContentLength = errors.New("gateway: CONTENT_LENGTH is not a decimal number")
	// ErrConflictingContentLength: CONTENT_LENGTH appears twice with two values,
	// so the body boundary is ambiguous.
	ErrConflictingContentLength = errors.New("gateway: CONTENT_LENGTH appears twice with different values")
	// ErrBadVariables: the variables do not describe an HTTP request
	// (no REQUEST_METHOD, bad SERVER_PROTOCOL, unparsable REQUEST_URI).
	ErrBadVariables = errors.New("gateway: CGI variables do not form a request")
)

// errWriteAfterReturn is returned by a ResponseWriter used after its handler
// returned; its buffers may already belong to another connection.
var errWriteAfterReturn = errors.New("gateway: ResponseWriter used after ServeHTTP returned")
