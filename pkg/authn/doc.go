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
//   - a directory's passwords (an LDAP server behind the PasswordSource of
//     package ldapauth): the same throttle, admission and keyed memory, the
//     directory asked only on a miss, its groups handed to the rules
//     (directory.go);
//   - refresh tokens: verifying the ones presented against the user's current
//     entry (which revokes them), and issuing new ones (refresh.go);
//   - machines (machine.go): a CI job's or a pod's OIDC ID token, as a
//     password or exchanged, verified by package oidc, and robot accounts'
//     secrets, checked by package robot; neither runs bcrypt, and both are
//     throttled like passwords;
//   - a typed failure (Error) whose Reason says what the caller should be
//     told: wrong credentials, expired, throttled, or unavailable.
//
// The endpoint parses requests, asks Authenticate who is asking, asks the
// rules what that Identity may do, and answers; it never sees a password
// hash. Every identity source (the files, robots, OIDC tokens, a directory,
// and any added later) sits behind Authenticate, returning the same Identity and
// Error, so that the endpoint, the rules and the audit line stay as they
// are.
//
// What this package must not do: know HTTP answers (status codes and bodies
// are the endpoint's), decide what an identity may do (package acl), read
// files or the environment, or log. It never stores a password or a hash it
// was not given, and hands passwords to no one but its own helper process,
// over a pipe.
package authn
