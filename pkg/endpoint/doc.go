// Package endpoint is the token endpoint: one http.Handler that answers a
// registry client's token request.
//
// A request flows one way: parse the parameters, authenticate the caller
// (Basic auth, a refresh token, or anonymous), ask the rules which of the
// requested actions the caller gets, sign a token for exactly that, and answer
// in the JSON form every client family reads. The handler never knows which
// transport (SCGI, uwsgi, FastCGI, HTTP) carried the request, never reads
// files (the rules and the signer arrive as a State, swapped atomically on
// reload), and never logs a password, hash or token.
//
// The files follow the request: handler.go dispatches by method, get.go is
// the GET form (and the parts both forms share: authentication by password,
// the grant, the answer), post.go the OAuth2 POST form, refresh.go the
// refresh tokens, reuse.go the reuse of a token signed seconds ago for the
// same grant, errors.go the error bodies, audit.go the audit line.
//
// Refresh tokens (State.Refresh) let `docker login` store a token instead of
// the password, and spare bcrypt on every later pull and push. They are
// signed JWTs that no registry accepts as access tokens, never rotated,
// checked against the user's current entry on every use (a changed password
// hash, a removed user or users.json "tokens_not_before" revokes them), and
// the grant they yield is always computed from the current rules.
//
// Status codes follow what the clients in use do with them: success is
// exactly 200, because crane and containers/image take any other code as a
// failure; a partial or empty grant is still 200, as the token spec demands
// and as containerd relies on when it retries a push without a cross-repository
// mount; wrong credentials or a bad refresh token are 401 with a JSON errors
// body; a malformed request is 400; POST is never answered 403 or 405, and
// answers a JSON 404 when refresh tokens are off, so clients fall back to GET.
package endpoint
