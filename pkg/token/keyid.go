package token

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// KeyIDFormat selects how the "kid" header is computed. Registries ignore
// kid when x5c is present; it matters only for kid-only setups.
type KeyIDFormat string

const (
	// KeyIDLibtrust is the registry 2.x format: base32 of
	// sha256(SPKI DER)[:30], 12 groups of 4. Registry 3.x only accepts it
	// if a jwks file lists the key under that literal kid.
	KeyIDLibtrust KeyIDFormat = "libtrust"
	// KeyIDThumbprint is the RFC 7638 thumbprint as distribution v3.1
	// computes it: EC X/Y are NOT zero-padded (X.Bytes()), so for about
	// one P-256 key in 128 it differs from standard RFC 7638 libraries.
	KeyIDThumbprint KeyIDFormat = "thumbprint"
	// KeyIDRFC7638 is the standard RFC 7638 thumbprint (EC coordinates
	// zero-padded), the kid regtoken's JWKS lists every key under: the
	// format for registries that trust regtoken through a jwks file only.
	KeyIDRFC7638 KeyIDFormat = "rfc7638"
)

// ErrUnknownKeyIDFormat reports a KeyIDFormat other than the constants.
var ErrUnknownKeyIDFormat = errors.New("token: unknown key ID format")

// KeyID computes the key ID of pub in format f.
func KeyID(pub crypto.PublicKey, f KeyIDFormat) (string, error) {
	switch f {
	case KeyIDLibtrust:
		return LibtrustKeyID(pub)
	case KeyIDThumbprint:
		return ThumbprintKeyID(pub)
	case KeyIDRFC7638:
		return RFC7638Thumbprint(pub)
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownKeyIDFormat, string(f))
}

// LibtrustKeyID computes the key ID of docker/libtrust (util.go keyIDFromCryptoKey),
// which registry 2.x uses to look up certificates of its rootcertbundle:
// the first 240 bits of sha256 over the DER SubjectPublicKeyInfo, in
// base32, as 12 colon-separated groups of 4 characters.
func LibtrustKeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnsupportedKey, err)
	}
	sum := sha256.Sum256(der)
	s := base32.StdEncoding.EncodeToString(sum[:30]) // 240 bits: 48 characters, no padding
	var b strings.Builder
	b.Grow(len(s) + len(s)/4 - 1)
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(s[i : i+4])
	}
	return b.String(), nil
}

// ThumbprintKeyID computes the RFC 7638 JWK thumbprint of an RSA, ECDSA or
// Ed25519 key the way distribution v3.1 does for the certificates of its
// rootcertbundle (registry/auth/token/util.go GetJWKThumbprint): sha256 over
// the canonical JSON members in lexical order, unpadded base64url. RSA
// matches RFC 7638 exactly. For EC keys the coordinates are encoded from
// X.Bytes() and Y.Bytes(), without the left zero-padding RFC 7518 asks for,
// because that is the value the registry looks up. Ed25519 keys have a
// fixed size, so theirs is the standard one.
func ThumbprintKeyID(pub crypto.PublicKey) (string, error) {
	return thumbprint(pub, false)
}

// RFC7638Thumbprint computes the standard RFC 7638 JWK thumbprint of an
// RSA, ECDSA or Ed25519 key: sha256 over the required members of its JWK
// in lexical order, EC coordinates zero-padded to the curve's size as RFC
// 7518 §6.2.1.2 asks, in unpadded base64url.
func RFC7638Thumbprint(pub crypto.PublicKey) (string, error) {
	return thumbprint(pub, true)
}

func thumbprint(pub crypto.PublicKey, padded bool) (string, error) {
	jwk, err := requiredMembers(pub, padded)
	if err != nil {
		return "", err
	}
	var canonical string
	switch jwk.Kty {
	case "RSA":
		canonical = `{"e":"` + jwk.E + `","kty":"RSA","n":"` + jwk.N + `"}`
	case "EC":
		canonical = `{"crv":"` + jwk.Crv + `","kty":"EC","x":"` + jwk.X + `","y":"` + jwk.Y + `"}`
	case "OKP":
		canonical = `{"crv":"` + jwk.Crv + `","kty":"OKP","x":"` + jwk.X + `"}`
	}
	sum := sha256.Sum256([]byte(canonical))
	return b64url(sum[:]), nil
}

// requiredMembers returns the members of pub's JWK that RFC 7638 hashes;
// padded says whether EC coordinates keep their leading zero bytes.
func requiredMembers(pub crypto.PublicKey, padded bool) (JWK, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		return JWK{Kty: "RSA", E: b64url(big.NewInt(int64(pub.E)).Bytes()), N: b64url(pub.N.Bytes())}, nil
	case *ecdsa.PublicKey:
		x, y, err := ecCoordinates(pub, padded)
		if err != nil {
			return JWK{}, err
		}
		return JWK{Kty: "EC", Crv: pub.Curve.Params().Name, X: b64url(x), Y: b64url(y)}, nil
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return JWK{}, fmt.Errorf("%w: Ed25519 key of %d bytes", ErrUnsupportedKey, len(pub))
		}
		return JWK{Kty: "OKP", Crv: "Ed25519", X: b64url(pub)}, nil
	}
	return JWK{}, fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
}

// ecCoordinates returns X and Y of pub as big-endian bytes, zero-padded to
// the curve's size or, unpadded, without leading zeros: the form of
// big.Int.Bytes that distribution v3.1 encodes.
func ecCoordinates(pub *ecdsa.PublicKey, padded bool) (x, y []byte, err error) {
	if _, err := algorithmFor(pub); err != nil {
		return nil, nil, err
	}
	point, err := pub.Bytes() // 0x04 || X || Y, each coordinate zero-padded
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrUnsupportedKey, err)
	}
	size := (len(point) - 1) / 2
	x, y = point[1:1+size], point[1+size:]
	if !padded {
		x, y = bytes.TrimLeft(x, "\x00"), bytes.TrimLeft(y, "\x00")
	}
	return x, y, nil
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
