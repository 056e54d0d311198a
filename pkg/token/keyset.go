package token

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// PublishedKey is a key that registries are told to trust: its public half
// and the certificates that carry it, leaf first (none for a bare public key).
type PublishedKey struct {
	Public       crypto.PublicKey
	Certificates []*x509.Certificate
}

// ParsePublishedKey reads a key that is published but no longer (or not
// yet) signs: a certificate file (leaf first, then its chain), else a
// "PUBLIC KEY" block, else a private key, whose public half is published
// (what a setup without certificates keeps of a key that stopped signing).
func ParsePublishedKey(pemBytes []byte) (PublishedKey, error) {
	certs, err := ParseCertificates(pemBytes)
	if err == nil {
		return PublishedKey{Public: certs[0].PublicKey, Certificates: certs}, nil
	}
	for rest := pemBytes; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			if key, kerr := ParsePrivateKey(pemBytes); kerr == nil {
				return PublishedKey{Public: key.Public()}, nil
			}
			return PublishedKey{}, err // the certificates' error says more
		}
		if block.Type != "PUBLIC KEY" {
			continue
		}
		pub, perr := x509.ParsePKIXPublicKey(block.Bytes)
		if perr != nil {
			return PublishedKey{}, fmt.Errorf("token: parsing PUBLIC KEY: %w", perr)
		}
		if _, aerr := algorithmFor(pub); aerr != nil {
			return PublishedKey{}, aerr
		}
		return PublishedKey{Public: pub}, nil
	}
}

// KeySet is the keys of one signing identity (regtoken's, or one service's):
// the current key, which signs; optionally the next one, which registries
// are told to trust before it signs; and the previous ones, which no longer
// sign but whose tokens may still be in use. Rotation moves next to current
// and current to previous, so a registry that loaded the set before the
// move trusts the tokens of either side of it.
type KeySet struct {
	Current  *Signer
	Next     *Signer // nil: none
	Previous []PublishedKey
}

// published returns every key of the set, current first, then next, then
// previous; a key listed twice (a previous that is the current one again)
// is listed once.
func (k *KeySet) published() []PublishedKey {
	var out []PublishedKey
	add := func(p PublishedKey) {
		for _, q := range out {
			if samePublic(p.Public, q.Public) {
				return
			}
		}
		out = append(out, p)
	}
	for _, s := range []*Signer{k.Current, k.Next} {
		if s != nil {
			add(PublishedKey{Public: s.PublicKey(), Certificates: s.Certificates()})
		}
	}
	for _, p := range k.Previous {
		add(p)
	}
	return out
}

// Bundle returns every certificate of the published keys as PEM, each once,
// for a registry's rootcertbundle (distribution) or for zot's cert (which
// takes one). A registry that trusts the bundle verifies the x5c of tokens
// signed by any key of the set. Keys without a certificate are not in it.
func (k *KeySet) Bundle() []byte {
	var buf bytes.Buffer
	var seen [][]byte
	for _, p := range k.published() {
		for _, c := range p.Certificates {
			if containsBytes(seen, c.Raw) {
				continue
			}
			seen = append(seen, c.Raw)
			pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
	}
	return buf.Bytes()
}

// JWKS returns the public keys of the set as a JWKS for distribution 3.x's
// auth.token.jwks, each under its RFC 7638 kid (see PublicJWK).
func (k *KeySet) JWKS() ([]byte, error) {
	var pubs []crypto.PublicKey
	for _, p := range k.published() {
		pubs = append(pubs, p.Public)
	}
	return marshalJWKS(pubs)
}

func samePublic(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

func containsBytes(list [][]byte, b []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}
