package oidc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Kind says why a token was refused, which decides what the caller is told.
type Kind uint8

const (
	// Malformed: not a compact, signed JWT.
	Malformed Kind = iota + 1
	// UnknownIssuer: its "iss" is no configured issuer.
	UnknownIssuer
	// BadSignature: signed with an algorithm the issuer is not allowed, by
	// a key the issuer does not publish, or not validly.
	BadSignature
	// Expired: past its "exp" (and the clock skew).
	Expired
	// Invalid: genuine, but not for us or not yet: audience, nbf, iat, or
	// a claim that must be there is missing.
	Invalid
	// NoRule: genuine and valid, but no rule of its issuer grants it
	// anything.
	NoRule
	// Unavailable: the issuer's keys could not be fetched yet.
	Unavailable
)

// Error is a refused token. Message is meant for the client; it names the
// issuer and what was wrong, never the token.
type Error struct {
	Kind    Kind
	Message string
}

func (e *Error) Error() string { return "oidc: " + e.Message }

func refuse(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Verifier checks tokens against the configured issuers. It is immutable
// and safe for concurrent use; Keys makes one per configuration load.
type Verifier struct {
	file    string // the configuration file, named in rule references
	issuers map[string]*trusted
	names   []string
	now     func() time.Time
	memo    memo // tokens accepted, until they expire
}

// trusted is an issuer with its keys.
type trusted struct {
	Issuer
	keys *keySource
}

// Issuer returns the configured issuer named name.
func (v *Verifier) Issuer(name string) (*Issuer, bool) {
	for _, t := range v.issuers {
		if t.Name == name {
			return &t.Issuer, true
		}
	}
	return nil, false
}

// IssuerFor returns the configured issuer whose URL is iss.
func (v *Verifier) IssuerFor(iss string) (*Issuer, bool) {
	t, ok := v.issuers[iss]
	if !ok {
		return nil, false
	}
	return &t.Issuer, true
}

// Names lists the configured issuers' names, in configuration order.
func (v *Verifier) Names() []string { return slices.Clone(v.names) }

// KeyStats returns the key fetch counters of the issuer named name.
func (v *Verifier) KeyStats(name string) *KeyStats {
	for _, t := range v.issuers {
		if t.Name == name {
			return &t.keys.Stats
		}
	}
	return nil
}

// Verify checks a token: compact JWS, a configured issuer, an allowed
// algorithm, a key the issuer publishes, a valid signature (jwx's jws), exp,
// nbf, iat within the clock skew, an accepted audience, a subject, and then
// the issuer's rules. Refusals are *Error; the Login that comes with one names
// issuer and subject as far as they are known.
func (v *Verifier) Verify(ctx context.Context, raw string) (Login, error) {
	now := v.now()
	key := sha256.Sum256([]byte(raw))
	if login, ok := v.memo.get(key, now); ok {
		return login, nil
	}
	login, expires, err := v.verify(ctx, raw, now)
	if err == nil {
		v.memo.put(key, login, expires)
	}
	return login, err
}

// verify runs every check; expires is when the token stops being accepted.
func (v *Verifier) verify(ctx context.Context, raw string, now time.Time) (Login, time.Time, error) {
	msg, err := jws.ParseString(raw)
	if err != nil || len(msg.Signatures()) != 1 || !LooksLikeJWT(raw) {
		return Login{}, time.Time{}, refuse(Malformed, "not a signed JWT")
	}
	claims, err := parseClaims(msg.Payload())
	if err != nil {
		return Login{}, time.Time{}, refuse(Malformed, "the token's claims are not a JSON object: %v", err)
	}
	iss, _ := claims["iss"].(string)
	t, ok := v.issuers[iss]
	if !ok {
		return Login{}, time.Time{}, refuse(UnknownIssuer, "token issuer %q is not configured here", clip(iss))
	}
	login := Login{Issuer: t.Name}
	login.Subject, _ = claims["sub"].(string)
	if err := t.checkSignature(ctx, raw, msg.Signatures()[0].ProtectedHeaders()); err != nil {
		return login, time.Time{}, err
	}
	if err := t.validate(claims, now); err != nil {
		return login, time.Time{}, err
	}
	login, err = t.Apply(claims, v.file)
	if err != nil {
		return login, time.Time{}, refuse(NoRule, "token of issuer %s with subject %q %v", t.Name, clip(login.Subject), err)
	}
	exp, _ := numericDate(claims["exp"])
	return login, exp.Add(t.ClockSkew), nil
}

// parseClaims decodes the payload, numbers kept as written.
func parseClaims(payload []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the claims")
	}
	return claims, nil
}

// checkSignature verifies the signature with a key the issuer publishes
// for the header's algorithm. A kid not among the keys may be a key the
// issuer just started to use: the keys are fetched again (rate-limited)
// before the token is refused.
func (t *trusted) checkSignature(ctx context.Context, raw string, h jws.Headers) error {
	alg := h.Algorithm()
	if !slices.Contains(t.Algorithms, alg.String()) {
		return refuse(BadSignature, "token of issuer %s is signed with %q, which is not allowed for it", t.Name, clip(alg.String()))
	}
	keys, err := t.keys.current(ctx)
	if err != nil {
		return err
	}
	candidates := keysFor(keys, h.KeyID(), alg)
	if len(candidates) == 0 {
		candidates = keysFor(t.keys.fresher(ctx), h.KeyID(), alg)
	}
	if len(candidates) == 0 {
		return refuse(BadSignature, "token of issuer %s is signed by a key the issuer does not publish (kid %q)", t.Name, clip(h.KeyID()))
	}
	for _, k := range candidates {
		if _, err := jws.Verify([]byte(raw), jws.WithKey(alg, k)); err == nil {
			return nil
		}
	}
	return refuse(BadSignature, "the signature of a token of issuer %s does not verify", t.Name)
}

// keysFor returns the keys that may have signed with alg: the one with
// that kid, or without a kid, every key; a key that names another
// algorithm never counts.
func keysFor(set jwk.Set, kid string, alg jwa.SignatureAlgorithm) []jwk.Key {
	if set == nil {
		return nil
	}
	var out []jwk.Key
	for i := range set.Len() {
		k, _ := set.Key(i)
		if kid != "" && k.KeyID() != kid {
			continue
		}
		if a := k.Algorithm(); a != nil && a.String() != "" && a.String() != alg.String() {
			continue
		}
		out = append(out, k)
	}
	return out
}

// validate checks the registered claims: exp (required), nbf and iat
// within the clock skew, an accepted aud, a sub. They are read from the
// claims already decoded for the rules: handing the payload to jwx's
// jwt.Parse and Validate as well cost 40 % of a whole verification.
func (t *trusted) validate(claims map[string]any, now time.Time) error {
	exp, hasExp := numericDate(claims["exp"])
	nbf, hasNbf := numericDate(claims["nbf"])
	iat, hasIat := numericDate(claims["iat"])
	switch {
	case !hasExp:
		return refuse(Invalid, "token of issuer %s has no expiry (exp)", t.Name)
	case !now.Before(exp.Add(t.ClockSkew)):
		return refuse(Expired, "token of issuer %s expired at %s", t.Name, exp.UTC().Format(time.RFC3339))
	case hasNbf && now.Add(t.ClockSkew).Before(nbf):
		return refuse(Invalid, "token of issuer %s is not valid before %s", t.Name, nbf.UTC().Format(time.RFC3339))
	case hasIat && now.Add(t.ClockSkew).Before(iat):
		return refuse(Invalid, "token of issuer %s is issued in the future (%s)", t.Name, iat.UTC().Format(time.RFC3339))
	case !hasAudience(claims["aud"], t.Audiences):
		return refuse(Invalid, "token of issuer %s is for audience %s, which is not accepted here", t.Name, describeAudience(claims["aud"]))
	}
	if sub, _ := claims["sub"].(string); sub == "" {
		return refuse(Invalid, "token of issuer %s has no subject (sub)", t.Name)
	}
	return nil
}

// numericDate reads a JWT NumericDate: seconds since the epoch, perhaps
// with a fraction.
func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// hasAudience reports whether aud, a string or a list of strings, holds
// one of the accepted audiences.
func hasAudience(aud any, accepted []string) bool {
	switch a := aud.(type) {
	case string:
		return slices.Contains(accepted, a)
	case []any:
		for _, v := range a {
			if s, ok := v.(string); ok && slices.Contains(accepted, s) {
				return true
			}
		}
	}
	return false
}

func describeAudience(aud any) string {
	b, _ := json.Marshal(aud)
	return clip(string(b))
}

// LooksLikeJWT reports whether s has the shape of a compact JWS whose
// header is a JSON object: three base64url parts, the first beginning with
// `{"` encoded. A password of that shape is taken for a token.
func LooksLikeJWT(s string) bool {
	if !strings.HasPrefix(s, "eyJ") || strings.Count(s, ".") != 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return !strings.Contains(s, "..") && !strings.HasSuffix(s, ".")
}

// PeekIssuer returns the "iss" of a JWT-shaped s without verifying
// anything: enough to tell whose token it is, never to trust it.
func PeekIssuer(s string) string {
	_, rest, _ := strings.Cut(s, ".")
	payload, _, _ := strings.Cut(rest, ".")
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return ""
	}
	var c struct {
		Issuer string `json:"iss"`
	}
	json.Unmarshal(b, &c)
	return c.Issuer
}
