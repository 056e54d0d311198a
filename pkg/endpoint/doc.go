// Package endpoint is the token endpoint: one http.Handler that answers a
// registry client's token request.
//
// A request flows one way, and ServeHTTP shows the steps in order: parse the
// request (get.go for the GET form, post.go for the OAuth2 POST form), ask
// package authn who sent it (Basic auth, a password grant, a refresh token,
// or nobody), ask the rules (package acl) which of the requested actions that
// identity gets, sign a token for exactly that (package token), and answer in
// the JSON form every client family reads (issue.go). Each step returns what
// it found; the audit line is made from those results in one place
// (audit.go), after the answer.
//
// The endpoint owns the HTTP side of authentication and nothing else: which
// form fields and headers carry credentials, that a login must carry some,
// and which status each refusal gets. Checking a password or a refresh
// token, throttling failed logins and issuing refresh tokens are authn's.
//
// The handler never knows which transport (SCGI, uwsgi, FastCGI, HTTP)
// carried the request, never reads files (the rules and the signer arrive as
// a State, swapped atomically on reload), and never logs a password, hash or
// token. reuse.go hands out again a token signed seconds ago for the same
// grant; errors.go has the error bodies.
//
// Refresh tokens (State.Refresh) let `docker login` store a token instead of
// the password, and spare bcrypt on every later pull and push. They are
// never rotated: a client that presents one and asks for a refresh token
// gets the same one back. The grant they yield is always computed from the
// current rules.
//
// Status codes follow what registry clients are known to need: success is
// exactly 200, the only success go-containerregistry (crane) and
// containers/image accept; a partial or empty grant is still 200, and the
// registry refuses what was not granted (403 would read as a failed login);
// wrong credentials or a bad refresh token are 401 with a JSON errors body and WWW-Authenticate; a client that
// failed too often gets 429 with Retry-After; a malformed request is 400.
// POST is never answered 403 or 405, and answers a JSON 404 when refresh
// tokens are off: that is the answer after which containerd, BuildKit and
// crane fall back to GET, and 403 or 405 breaks them.
package endpoint
