// Package token parses registry scopes and signs the JWTs that registries
// (distribution 2.8/3.x, zot) accept.
//
// It has two halves. The scope half (scope.go, name.go) turns the raw
// `scope` request parameters of the token endpoint into [Scope] values,
// following the grammar of distribution's docs/content/spec/auth/scope.md:
// the type is the text before the first ':', the actions the text after the
// last ':', and the name everything in between, so that "host:port/repo"
// names survive. The signing half (claims.go, keys.go, keyid.go, signer.go)
// builds the claim set of distribution's jwt.md and signs it as a compact JWS
// whose header carries an x5c chain. That chain is the one key reference
// registry 2.8 and 3.x verify alike, for RSA and EC keys, against the same
// rootcertbundle. The kid formats they expect differ (a libtrust ID for 2.8,
// an RFC 7638 thumbprint for 3.x), so a token signed without a certificate,
// which carries only a kid, suits one of them: the caller picks which.
//
// A [KeySet] (keyset.go, jwk.go) is what registries are told to trust:
// the current key, the next one and the previous ones, rendered as a PEM
// bundle for rootcertbundle and as a JWKS whose kids are standard RFC 7638
// thumbprints, so that a signing key can change without a failed request.
//
// What this package must not do: decide who may do what (that is package
// acl, the rules step), read configuration files or the environment, log
// anything, or emit a "jwk" header. Everything it signs goes out over the
// wire, so a [Signer] never holds anything but the key, the certificates,
// the precomputed header and a bounded memo of the tokens it verified (their
// SHA-256 and payload, never the token); it is safe for concurrent use.
package token
