// Package registrycheck reads a registry's own configuration and tells
// whether that registry will accept regtoken's tokens.
//
// The pairing between a registry and its token service is what operators
// get wrong most often: an issuer or service spelled differently on each
// side, a realm clients cannot use, a rootcertbundle that does not hold the
// signing certificate, a kid-only setup that registry 3.x cannot resolve.
// Each side starts without complaint, and the first sign is a client's
// "unauthorized". This package compares the two configurations key by key
// ([Compare]) and then verifies a sample token the way each registry
// version does ([Verify]): distribution 2.8 (x5c chain to the bundle, else
// the libtrust kid of a bundle certificate), distribution 3.1 (x5c chain,
// else a kid looked up among the bundle's RFC 7638 thumbprints, computed as
// 3.1 does, and the jwks file), and zot (the one configured key; no issuer
// or audience check; exp, nbf and iat without leeway).
//
// It reads distribution's config.yml (2.x and 3.x share the format) with
// the REGISTRY_* environment overrides distribution applies, from an env
// file as docker --env-file takes it, and zot's JSON configuration. It must
// not read regtoken's own configuration (the caller hands over what regtoken
// signs with), contact a registry, or print anything: it returns findings
// for the caller to show.
package registrycheck
