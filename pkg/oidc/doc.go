// Package oidc lets machines log in with the OpenID Connect ID tokens their
// platform already gives them: a GitHub Actions or GitLab CI job's token, a
// Kubernetes projected service-account token. It verifies such a token
// against the issuers the configuration names and turns its claims into
// rules (acl.Grant) by the issuer's claim rules.
//
// The parts, one file each:
//   - options.go: an issuer as configured ([[oidc]]), and its Validate;
//   - keys.go: the issuer's signing keys, found by OIDC discovery (or a JWKS
//     URL or file), kept in memory, refreshed on a schedule and when a token
//     names a key not seen yet, and kept when the issuer is down;
//   - verify.go: signature and claim checks (jwx does the cryptography and
//     the standard claim validation);
//   - claims.go, expand.go, rules.go: claim lookup by path, claim values
//     expanded into repository patterns, and the rules that match claims.
//
// A claim value never widens a pattern: a value expanded into one must be a
// repository path component (or, where the rule says so, a path), so it
// cannot add a wildcard, step up with "..", or reach into another
// component.
//
// What this package must not do: read the configuration or key files
// (the daemon hands it their contents), decide access (package acl does,
// from the grants made here), or log a token. The only I/O it does is
// fetching discovery documents and key sets from the issuers, in the
// background, with the HTTP client it is given.
package oidc
