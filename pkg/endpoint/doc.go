// Package endpoint is the token endpoint: one http.Handler that answers a
// registry client's token request.
//
// A request flows one way: parse the parameters, authenticate the caller
// (Basic auth, or anonymous), ask the rules which of the requested actions the
// caller gets, sign a token for exactly that, and answer in the JSON form every
// client family reads. The handler never knows which transport (SCGI, uwsgi,
// FastCGI, HTTP) carried the request, never reads files (the rules and the
// signer arrive as a State, swapped atomically on reload), and never logs a
// password, hash or token.
//
// Status codes follow what real clients need (see the notes in
// token-protocol.md): success is exactly 200; a partial or empty grant is still
// 200; wrong credentials are 401 with a JSON errors body; a malformed request is
// 400; POST answers a JSON 404 so clients fall back to GET when OAuth2 is off.
package endpoint
