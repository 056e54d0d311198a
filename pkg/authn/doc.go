// Package authn is the authentication step of a token request: it turns the
// credentials a request presented into an Identity, or says why it cannot.
//
// Everything the token endpoint needs to know about credentials is here,
// behind one type, Authenticator:
//   - reading HTTP Basic credentials (BasicCredentials), and what an empty
//     user name or docker's "<token>" user means: the password is a refresh
//     token;
//   - the password check: throttling of failed logins (package throttle),
//     with its tarpit, consulted before any password is looked at, and
//     admitting each bcrypt check as a failure in waiting, so that a burst
//     of guesses gets no more checks than one at a time; the bcrypt check
//     with its keyed cache, its memory of refused passwords, one comparison
//     for identical checks in flight, a queue that serves the least suspect
//     clients first, and its idle-class helper process (Verifier, Worker);
//   - refresh tokens: verifying the ones presented against the user's current
//     entry (which revokes them), and issuing new ones (refresh.go);
//   - a typed failure (Error) whose Reason says what the caller should be
//     told: wrong credentials, expired, throttled, or unavailable.
//
// The endpoint parses requests, asks Authenticate who is asking, asks the
// rules what that Identity may do, and answers; it never sees a password
// hash. An identity source added later (robot accounts, OIDC tokens as
// passwords, LDAP) belongs behind Authenticate too, returning the same
// Identity and Error, so that the endpoint, the rules and the audit line stay
// as they are.
//
// What this package must not do: know HTTP answers (status codes and bodies
// are the endpoint's), decide what an identity may do (package acl), read
// files or the environment, or log. It never stores a password or a hash it
// was not given, and hands passwords to no one but its own helper process,
// over a pipe.
package authn
