package token

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ResourceActions is one entry of the "access" claim (distribution's
// ResourceActions). The class field is left out: distribution ignores it
// and its scope spec (scope.md) asks token services not to send it.
type ResourceActions struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"` // never null in JSON: [] when empty
}

// MarshalJSON encodes nil Actions as [] rather than null: an empty grant is
// a valid answer (distribution's token.md), and [] is what other token
// services send.
func (ra ResourceActions) MarshalJSON() ([]byte, error) {
	return json.Marshal(ra.wire())
}

// wireResourceActions has the fields and tags of ResourceActions but no
// MarshalJSON method, so encoding it does not recurse.
type wireResourceActions ResourceActions

func (ra ResourceActions) wire() wireResourceActions {
	if ra.Actions == nil {
		ra.Actions = []string{}
	}
	return wireResourceActions(ra)
}

// ClaimSet mirrors distribution's ClaimSet, with the JSON names of jwt.md.
type ClaimSet struct {
	Issuer     string            `json:"iss"`
	Subject    string            `json:"sub"`
	Audience   string            `json:"aud"` // a plain string: registry 2.8 rejects arrays
	Expiration int64             `json:"exp"`
	NotBefore  int64             `json:"nbf"`
	IssuedAt   int64             `json:"iat"`
	JWTID      string            `json:"jti"`
	Access     []ResourceActions `json:"access"` // [] not null
}

// wireClaimSet is ClaimSet as it goes on the wire: Access entries without a
// MarshalJSON method, so that encoding a whole claim set takes one pass.
type wireClaimSet struct {
	Issuer     string                `json:"iss"`
	Subject    string                `json:"sub"`
	Audience   string                `json:"aud"`
	Expiration int64                 `json:"exp"`
	NotBefore  int64                 `json:"nbf"`
	IssuedAt   int64                 `json:"iat"`
	JWTID      string                `json:"jti"`
	Access     []wireResourceActions `json:"access"`
}

// MarshalJSON encodes c with "access" as [] rather than null when empty, and
// every entry's "actions" likewise.
func (c ClaimSet) MarshalJSON() ([]byte, error) {
	return json.Marshal(c.wire())
}

func (c *ClaimSet) wire() wireClaimSet {
	access := make([]wireResourceActions, len(c.Access))
	for i, ra := range c.Access {
		access[i] = ra.wire()
	}
	return wireClaimSet{
		Issuer:     c.Issuer,
		Subject:    c.Subject,
		Audience:   c.Audience,
		Expiration: c.Expiration,
		NotBefore:  c.NotBefore,
		IssuedAt:   c.IssuedAt,
		JWTID:      c.JWTID,
		Access:     access,
	}
}

// DefaultClockSkew is how far nbf and iat are backdated when the
// configuration does not say: a registry whose clock runs a little behind
// ours must not see a fresh token as not yet valid (moby/moby#22158).
// distribution allows 60 s of leeway on nbf and ignores iat, but zot allows
// none on either, so the margin is what keeps zot working. docker_auth uses
// the same 10 s for nbf.
const DefaultClockSkew = 10 * time.Second

// MaxClockSkew bounds the margin: clocks further apart than minutes are a
// broken NTP setup to fix, not one to paper over, and tokens dated that far
// back trip verifiers that compare iat with other times (Harbor refuses
// tokens issued before a project existed).
const MaxClockSkew = 5 * time.Minute

// ErrClockSkew reports a clock-skew margin outside 0..MaxClockSkew.
var ErrClockSkew = errors.New("token: clock skew out of range")

// ValidateClockSkew checks a clock-skew margin: 0 (no backdating, for a
// registry on the same host) up to MaxClockSkew.
func ValidateClockSkew(d time.Duration) error {
	if d < 0 || d > MaxClockSkew {
		return fmt.Errorf("%w: %s is outside 0s..%s (it backdates nbf and iat; fix the clocks with NTP beyond that)",
			ErrClockSkew, d, MaxClockSkew)
	}
	return nil
}

// NewClaims returns the claims of an access token: exp = now+lifetime,
// nbf = iat = now-skew (so that a verifier whose clock is up to skew behind
// accepts it at once), all in whole seconds, and jti = 16 random bytes in
// unpadded base64url. A nil access list becomes empty, so that the token of
// a login request (no scope) carries "access":[].
func NewClaims(issuer, subject, audience string, access []ResourceActions, now time.Time, lifetime, skew time.Duration) *ClaimSet {
	if access == nil {
		access = []ResourceActions{}
	}
	backdated := now.Add(-skew).Unix()
	return &ClaimSet{
		Issuer:     issuer,
		Subject:    subject,
		Audience:   audience,
		Expiration: now.Add(lifetime).Unix(),
		NotBefore:  backdated,
		IssuedAt:   backdated,
		JWTID:      newJWTID(),
		Access:     access,
	}
}

// newJWTID returns 128 random bits, enough that two tokens never share a
// jti. crypto/rand.Read never fails since Go 1.24.
func newJWTID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
