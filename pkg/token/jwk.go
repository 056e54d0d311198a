package token

import (
	"crypto"
	"encoding/json"
	"fmt"
)

// JWK is a public key as RFC 7517 writes it, with the members a registry's
// JWKS file needs: distribution 3.x (go-jose) trusts each key under its
// "kid", whatever that string is, and zot takes a JWKS of one key as its
// cert.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

// JWKS is a JSON Web Key Set (RFC 7517 §5).
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// PublicJWK returns pub as a JWK for signature verification: its kid is the
// standard RFC 7638 thumbprint (EC coordinates zero-padded), alg the one
// regtoken signs with for that key, use "sig".
func PublicJWK(pub crypto.PublicKey) (JWK, error) {
	alg, err := algorithmFor(pub)
	if err != nil {
		return JWK{}, err
	}
	jwk, err := requiredMembers(pub, true)
	if err != nil {
		return JWK{}, err
	}
	if jwk.Kid, err = RFC7638Thumbprint(pub); err != nil {
		return JWK{}, err
	}
	jwk.Alg, jwk.Use = alg, "sig"
	return jwk, nil
}

// marshalJWKS renders the public keys as an indented JWKS, in order.
func marshalJWKS(pubs []crypto.PublicKey) ([]byte, error) {
	set := JWKS{Keys: make([]JWK, 0, len(pubs))}
	for i, pub := range pubs {
		jwk, err := PublicJWK(pub)
		if err != nil {
			return nil, fmt.Errorf("token: key %d of the JWKS: %w", i+1, err)
		}
		set.Keys = append(set.Keys, jwk)
	}
	out, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
