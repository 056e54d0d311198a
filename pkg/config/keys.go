package config

import (
	"fmt"
	"time"

	"github.com/regtoken/regtoken/pkg/token"
)

// Signing keys: rotation and lifetimes.
//
// Each signing key (token.key, and each [token.service.NAME]'s) may have a
// next key ([token.next] key and certificate: published in the bundle and
// the JWKS, not signing yet), previous certificates (token.previous: still
// published, no longer signing) and the time the current key was promoted
// (token.promoted_at, which regtoken key promote writes), after which the
// previous ones may be retired once the longest token has expired.

// Rotation is one signing key's next and previous keys.
type Rotation struct {
	// Next is the key that signs after the next promotion; nil for none.
	// Its Rotation is empty.
	Next *KeyFiles
	// Previous are certificate files (or PEM public keys, or, without
	// certificates, the old private key files) of keys that no longer
	// sign but whose tokens may still be presented.
	Previous []string
	// PromotedAt is when the current key started signing; zero: unknown.
	PromotedAt time.Time
}

// Stage names where a key is in its rotation, as check reports it.
type Stage string

const (
	// StageSteady: one key, nothing published beside it.
	StageSteady Stage = "steady"
	// StageNextPublished: a next key is published; once every registry
	// trusts it, promote.
	StageNextPublished Stage = "next published"
	// StagePromoted: the previous keys are still published; retire them
	// once the longest token signed with them has expired.
	StagePromoted Stage = "promoted"
	// StagePromotedWithNext: both at once.
	StagePromotedWithNext Stage = "promoted, next published"
)

// Stage returns where r is in its rotation.
func (r Rotation) Stage() Stage {
	switch {
	case r.Next != nil && len(r.Previous) > 0:
		return StagePromotedWithNext
	case r.Next != nil:
		return StageNextPublished
	case len(r.Previous) > 0:
		return StagePromoted
	}
	return StageSteady
}

// RetireAfter is the earliest time the previous keys may be retired: the
// promotion, plus the longest lifetime a token may have had, plus the
// registries' 60 s of leeway on exp. Zero when PromotedAt is unknown.
func (r Rotation) RetireAfter(l token.Lifetimes) time.Time {
	if r.PromotedAt.IsZero() {
		return time.Time{}
	}
	return r.PromotedAt.Add(l.Longest() + RegistryLeeway)
}

// RegistryLeeway is how long after its exp distribution still accepts a
// token.
const RegistryLeeway = 60 * time.Second

// Main returns token.key's files with their rotation.
func (t Token) Main() KeyFiles {
	return KeyFiles{Key: t.Key, Certificate: t.Certificate, Rotation: t.Rotation}
}

// keyPairSection is a [token.next] table: a key and its certificate.
type keyPairSection struct {
	Key         string `toml:"key"`
	Certificate string `toml:"certificate"`
}

// rotation checks one key's next, previous and promoted_at (prefix is the
// key's table: "token" or token.service."NAME").
func (v *validator) rotation(prefix string, next *keyPairSection, previous []string, promotedAt string) Rotation {
	var out Rotation
	if next != nil {
		if next.Key == "" {
			v.problem(prefix+".next.key", "required: the PEM private key that signs after the next promotion")
		}
		out.Next = &KeyFiles{Key: v.path(next.Key), Certificate: v.path(next.Certificate)}
	}
	for i, p := range previous {
		if p == "" {
			v.problem(prefix+".previous", "entry %d is empty", i+1)
			continue
		}
		out.Previous = append(out.Previous, v.path(p))
	}
	if promotedAt != "" {
		t, err := time.Parse(time.RFC3339, promotedAt)
		if err != nil {
			v.problem(prefix+".promoted_at", "%q is not an RFC 3339 time like \"2026-12-05T08:00:00Z\"", promotedAt)
		}
		out.PromotedAt = t
	}
	return out
}

// lifetimeSection is token.lifetime: one duration ("5m", every token) or a
// table of them by action (default, pull, push, delete).
type lifetimeSection struct {
	Default duration `toml:"default"`
	Pull    duration `toml:"pull"`
	Push    duration `toml:"push"`
	Delete  duration `toml:"delete"`
}

func (l *lifetimeSection) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		return l.Default.UnmarshalText([]byte(v))
	case map[string]any:
		for name, d := range map[string]*duration{"default": &l.Default, "pull": &l.Pull, "push": &l.Push, "delete": &l.Delete} {
			if s, ok := v[name].(string); ok {
				if err := d.UnmarshalText([]byte(s)); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
		}
		return nil
	}
	return fmt.Errorf("want a duration string or a table of them, got %v", v)
}

// lifetimes checks token.lifetime, each duration with token.ValidateLifetime.
func (v *validator) lifetimes(l lifetimeSection) token.Lifetimes {
	out := token.Lifetimes{Default: DefaultLifetime,
		Pull: l.Pull.Duration, Push: l.Push.Duration, Delete: l.Delete.Duration}
	if l.Default.set {
		out.Default = l.Default.Duration
		v.invalid("token.lifetime", token.ValidateLifetime(out.Default))
	}
	for _, x := range []struct {
		name string
		d    duration
	}{{"pull", l.Pull}, {"push", l.Push}, {"delete", l.Delete}} {
		if x.d.set {
			v.invalid("token.lifetime."+x.name, token.ValidateLifetime(x.d.Duration))
		}
	}
	return out
}
