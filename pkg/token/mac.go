package token

import (
	"crypto"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrKeyNotExportable reports a signing key whose private half regtoken
// cannot read (a key held by an HSM), from which no MAC key can be derived.
var ErrKeyNotExportable = errors.New("token: the signing key cannot be read, so no MAC key can be derived from it")

// MACSigner signs and verifies tokens that only regtoken itself reads
// (refresh tokens) with HMAC-SHA256, under a key derived from the access
// tokens' signing key. No registry can accept such a token as an access
// token: distribution 2.8 knows no HMAC, 3.x holds only public keys to
// verify with, and zot allows no HS256; and no registry checks a refresh
// token's aud as a guard, since zot checks no aud at all. Deriving the key
// (HKDF-SHA256 over the private key's PKCS #8 encoding) means replicas that
// share the signing key agree on it without sharing anything new.
//
// A MACSigner is immutable and safe for concurrent use. It never exposes
// its key.
type MACSigner struct {
	key []byte
}

// macInfo binds the derived key to its one use: a key derived for another
// purpose from the same signing key, later, must differ.
const macInfo = "regtoken refresh token HMAC-SHA256 key v1"

// macHeader is the first segment of every MAC token: {"alg":"HS256","typ":"JWT"}.
var macHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// NewMACSigner derives the MAC key from signingKey, which must be a key
// whose private half can be read (ECDSA, RSA or Ed25519 in memory);
// ErrKeyNotExportable otherwise.
func NewMACSigner(signingKey crypto.Signer) (*MACSigner, error) {
	der, err := x509.MarshalPKCS8PrivateKey(signingKey)
	if err != nil {
		return nil, fmt.Errorf("%w (%T)", ErrKeyNotExportable, signingKey)
	}
	key, err := hkdf.Key(sha256.New, der, nil, macInfo, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("token: deriving the MAC key: %w", err)
	}
	return &MACSigner{key: key}, nil
}

// MACSigner derives the MAC signer of s's key (see NewMACSigner), without
// letting the key out of s.
func (s *Signer) MACSigner() (*MACSigner, error) { return NewMACSigner(s.key) }

// SignJSON returns payload, which must be valid JSON (ErrInvalidPayload),
// as a compact JWS with alg HS256.
func (m *MACSigner) SignJSON(payload []byte) (string, error) {
	if !json.Valid(payload) {
		return "", ErrInvalidPayload
	}
	input := macHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	return input + "." + base64.RawURLEncoding.EncodeToString(m.mac(input)), nil
}

// Verify checks that compact is a token SignJSON made with this key and
// returns its payload; ErrInvalidToken otherwise. The header must be
// exactly the one SignJSON writes, so no other algorithm can be slipped in.
func (m *MACSigner) Verify(compact string) ([]byte, error) {
	if len(compact) > maxVerifyLength {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, maxVerifyLength)
	}
	input, sig64, ok := cutLast(compact, '.')
	if !ok || !strings.HasPrefix(input, macHeader+".") || strings.Count(compact, ".") != 2 {
		return nil, fmt.Errorf("%w: not an HS256 token of ours", ErrInvalidToken)
	}
	sig, err := base64.RawURLEncoding.DecodeString(sig64)
	if err != nil || !hmac.Equal(sig, m.mac(input)) {
		return nil, fmt.Errorf("%w: bad MAC", ErrInvalidToken)
	}
	payload, err := base64.RawURLEncoding.DecodeString(input[len(macHeader)+1:])
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrInvalidToken, err)
	}
	return payload, nil
}

// IsMACToken reports whether compact claims to be a MAC token (its header
// is the one SignJSON writes), whether or not its MAC is good: what tells a
// refresh token of this kind from one an earlier regtoken signed with the
// access-token key.
func IsMACToken(compact string) bool { return strings.HasPrefix(compact, macHeader+".") }

func (m *MACSigner) mac(input string) []byte {
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte(input))
	return h.Sum(nil)
}

func cutLast(s string, sep byte) (before, after string, ok bool) {
	i := strings.LastIndexByte(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}
