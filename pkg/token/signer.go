package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// ErrInvalidPayload reports a SignJSON payload that is not valid JSON.
var ErrInvalidPayload = errors.New("token: payload is not valid JSON")

// Signer signs tokens with one key. Everything that does not depend on the
// claims, the encoded header above all, is computed once by NewSigner, so
// that signing costs one JSON encoding, two base64 encodings and the
// signature. Apart from a bounded memo of the tokens it verified, a Signer
// is immutable; it is safe for concurrent use.
type Signer struct {
	key       crypto.Signer
	signKey   any // key as handed to jwx, see signingKeyFor
	alg       jwa.SignatureAlgorithm
	jwsSigner jws.Signer
	kid       string
	certs     []*x509.Certificate
	header    string // base64url of the JSON header, the first segment of every token
	verified  *verifiedMemo
}

// header is the JOSE header of every token. "jwk" is deliberately absent:
// registry 2.8 trusts an embedded key that 3.x refuses unless the key names
// the kid of a trusted one, so the same token would pass one and fail the
// other.
type header struct {
	Alg string   `json:"alg"`
	Typ string   `json:"typ"`
	Kid string   `json:"kid,omitempty"`
	X5c []string `json:"x5c,omitempty"`
}

// NewSigner prepares signing with key, whose algorithm follows from its type:
// ES256/ES384/ES512 by curve, RS256 for RSA of at least 2048 bits
// (ErrWeakKey below), EdDSA for Ed25519 (registry 3.x and zot only);
// ErrUnsupportedKey for anything else. The key may be
// any crypto.Signer holding such a key, an HSM's for instance.
//
// chain, leaf first, goes into the x5c header, which every registry
// version verifies against its rootcertbundle; chain[0] must hold the
// key's public key (ErrKeyMismatch). chain may be empty, for kid-only setups.
//
// The kid header is always set. kidFormat chooses its format; "" means
// KeyIDThumbprint with a chain (registries ignore kid when x5c is present)
// and KeyIDLibtrust without one (what registry 2.x looks up).
func NewSigner(key crypto.Signer, chain []*x509.Certificate, kidFormat KeyIDFormat) (*Signer, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: nil key", ErrUnsupportedKey)
	}
	pub := key.Public()
	alg, err := algorithmFor(pub)
	if err != nil {
		return nil, err
	}
	if err := checkChain(pub, chain); err != nil {
		return nil, err
	}
	if kidFormat == "" {
		kidFormat = KeyIDLibtrust
		if len(chain) > 0 {
			kidFormat = KeyIDThumbprint
		}
	}
	kid, err := KeyID(pub, kidFormat)
	if err != nil {
		return nil, err
	}
	jwsSigner, err := jws.NewSigner(jwa.SignatureAlgorithm(alg))
	if err != nil {
		return nil, fmt.Errorf("token: %s signer: %w", alg, err)
	}
	s := &Signer{
		key:       key,
		signKey:   signingKeyFor(key),
		alg:       jwa.SignatureAlgorithm(alg),
		jwsSigner: jwsSigner,
		kid:       kid,
		certs:     append([]*x509.Certificate(nil), chain...),
		verified:  newVerifiedMemo(verifiedMemoSize),
	}
	if s.header, err = s.encodeHeader(); err != nil {
		return nil, err
	}
	return s, nil
}

// opaqueSigner hides the concrete type of a key from jwx.
type opaqueSigner struct{ crypto.Signer }

// signingKeyFor returns the key to give jwx. Given an *ecdsa.PrivateKey,
// jwx copies the struct before every signature, which defeats the
// per-key cache of crypto/ecdsa (keyed by pointer) and makes each token pay
// for a key check with a scalar multiplication: twice the cost and dozens
// of allocations. Through the crypto.Signer interface jwx uses the key in
// place. RSA keys already take that path.
func signingKeyFor(key crypto.Signer) any {
	if _, ok := key.(*ecdsa.PrivateKey); ok {
		return opaqueSigner{key}
	}
	return key
}

// checkChain makes sure that chain[0] is the certificate of pub, since a
// registry would otherwise reject every token with "token signed by
// untrusted key" (distribution#1143).
func checkChain(pub crypto.PublicKey, chain []*x509.Certificate) error {
	for i, cert := range chain {
		if cert == nil {
			return fmt.Errorf("token: certificate %d of the chain is nil", i)
		}
	}
	if len(chain) == 0 {
		return nil
	}
	p, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !p.Equal(chain[0].PublicKey) {
		return ErrKeyMismatch
	}
	return nil
}

// encodeHeader returns the first segment of every token. x5c entries are
// standard base64 WITH padding, as RFC 7515 §4.1.6 and both registry
// versions (v2.8 parseAndVerifyCertChain, go-jose) require.
func (s *Signer) encodeHeader() (string, error) {
	h := header{Alg: string(s.alg), Typ: "JWT", Kid: s.kid}
	for _, cert := range s.certs {
		h.X5c = append(h.X5c, base64.StdEncoding.EncodeToString(cert.Raw))
	}
	raw, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("token: encoding header: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

// Sign returns claims as a compact JWS: unpadded base64url segments, and
// for ECDSA a raw R||S signature of fixed length, as registries require.
// The claims are encoded with "access":[] rather than null, and every
// "actions" likewise.
func (s *Signer) Sign(claims *ClaimSet) (string, error) {
	if claims == nil {
		return "", errors.New("token: nil claims")
	}
	payload, err := json.Marshal(claims.wire())
	if err != nil {
		return "", fmt.Errorf("token: encoding claims: %w", err)
	}
	return s.sign(payload)
}

// SignJSON signs an arbitrary JSON payload with the same header, for tokens
// whose claims are not a ClaimSet (refresh tokens). The payload is signed
// byte for byte, so it must be valid JSON (ErrInvalidPayload otherwise).
func (s *Signer) SignJSON(payload []byte) (string, error) {
	if !json.Valid(payload) {
		return "", ErrInvalidPayload
	}
	return s.sign(payload)
}

// signingBuffers recycles the buffer in which the signing input and then
// the token are assembled, so that a token costs a single allocation for
// its string.
var signingBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuffer keeps freak payloads from pinning memory in the pool.
const maxPooledBuffer = 64 << 10

func (s *Signer) sign(payload []byte) (string, error) {
	bufp := signingBuffers.Get().(*[]byte)
	buf := append((*bufp)[:0], s.header...)
	buf = append(buf, '.')
	buf = base64.RawURLEncoding.AppendEncode(buf, payload)
	sig, err := s.jwsSigner.Sign(buf, s.signKey)
	if err == nil {
		buf = append(buf, '.')
		buf = base64.RawURLEncoding.AppendEncode(buf, sig)
	}
	compact := string(buf)
	if cap(buf) <= maxPooledBuffer {
		*bufp = buf
		signingBuffers.Put(bufp)
	}
	if err != nil {
		return "", fmt.Errorf("token: signing: %w", err)
	}
	return compact, nil
}

// Algorithm returns the JWS "alg" of every token: ES256, ES384, ES512, RS256 or EdDSA.
func (s *Signer) Algorithm() string { return string(s.alg) }

// KeyID returns the "kid" header of every token.
func (s *Signer) KeyID() string { return s.kid }

// Certificates returns a copy of the x5c chain, leaf first; nil without one.
func (s *Signer) Certificates() []*x509.Certificate {
	if len(s.certs) == 0 {
		return nil
	}
	return append([]*x509.Certificate(nil), s.certs...)
}

// PublicKey returns the public half of the signing key.
func (s *Signer) PublicKey() crypto.PublicKey { return s.key.Public() }

// SameKey reports whether s and o sign with the same key: a registry that
// trusts one trusts the other's tokens.
func (s *Signer) SameKey(o *Signer) bool { return samePublic(s.PublicKey(), o.PublicKey()) }
