package token

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jws"
)

// ErrInvalidToken reports a token that Verify rejects: not a compact JWS,
// another algorithm, or a signature not made by this signer's key.
var ErrInvalidToken = errors.New("token: invalid token")

// maxVerifyLength bounds the work Verify does on client input: ggcr reads at
// most 64 KiB of a token response, so no token of ours is longer.
const maxVerifyLength = 64 << 10

// Verify checks that compact is a compact JWS signed by this signer's key
// with this signer's algorithm, and returns its payload. It checks nothing
// inside the payload (exp, aud, ...): that is the caller's job. Package
// authn uses it to read the refresh tokens it issued.
//
// A token verified once is remembered (see verifiedMemo), so presenting it
// again costs a SHA-256 instead of a signature check.
func (s *Signer) Verify(compact string) ([]byte, error) {
	if len(compact) > maxVerifyLength {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, maxVerifyLength)
	}
	key := sha256.Sum256([]byte(compact))
	if payload, ok := s.verified.get(key); ok {
		return bytes.Clone(payload), nil
	}
	payload, err := s.verify(compact)
	if err != nil {
		return nil, err
	}
	s.verified.put(key, bytes.Clone(payload))
	return payload, nil
}

// verify checks the signature and the header of compact.
func (s *Signer) verify(compact string) ([]byte, error) {
	if strings.Count(compact, ".") != 2 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrInvalidToken)
	}
	var msg jws.Message
	payload, err := jws.Verify([]byte(compact),
		jws.WithCompact(), jws.WithKey(s.alg, s.key.Public()), jws.WithMessage(&msg))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	// jws.WithKey verifies with the algorithm it is given, whatever the
	// header says; insist that the header says the same, and that it uses
	// no extension we never emit.
	sigs := msg.Signatures()
	if len(sigs) != 1 {
		return nil, fmt.Errorf("%w: %d signatures", ErrInvalidToken, len(sigs))
	}
	h := sigs[0].ProtectedHeaders()
	if h.Algorithm() != s.alg {
		return nil, fmt.Errorf("%w: algorithm %q", ErrInvalidToken, h.Algorithm())
	}
	if _, ok := h.Get("b64"); ok || len(h.Critical()) > 0 {
		return nil, fmt.Errorf("%w: unexpected header extension", ErrInvalidToken)
	}
	return payload, nil
}
