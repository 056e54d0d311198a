package config

import (
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/token"
)

func TestParseRotationAndLifetimes(t *testing.T) {
	cfg, err := Parse("/etc/regtoken/regtoken.toml", []byte(`
[token]
issuer = "i"
services = ["s", "zot"]
key = "current.key"
certificate = "current.crt"
previous = ["old.crt", "/abs/older.crt"]
promoted_at = "2026-12-05T08:00:00Z"
[token.next]
key = "next.key"
certificate = "next.crt"
[token.lifetime]
pull = "5m"
push = "30m"
[token.service.zot]
key = "zot.key"
[token.service.zot.next]
key = "zot-next.key"
[refresh]
key = "refresh.key"
[acl]
users = "u"
`))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Token.Rotation
	if r.Next == nil || r.Next.Key != "/etc/regtoken/next.key" || r.Next.Certificate != "/etc/regtoken/next.crt" {
		t.Errorf("next %+v", r.Next)
	}
	if len(r.Previous) != 2 || r.Previous[0] != "/etc/regtoken/old.crt" || r.Previous[1] != "/abs/older.crt" {
		t.Errorf("previous %v", r.Previous)
	}
	if !r.PromotedAt.Equal(time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)) || r.Stage() != StagePromotedWithNext {
		t.Errorf("promoted at %v, stage %s", r.PromotedAt, r.Stage())
	}
	if zot := cfg.Token.ServiceKeys["zot"].Rotation; zot.Next == nil || zot.Next.Key != "/etc/regtoken/zot-next.key" || zot.Stage() != StageNextPublished {
		t.Errorf("zot's rotation %+v", zot)
	}
	want := token.Lifetimes{Default: DefaultLifetime, Pull: 5 * time.Minute, Push: 30 * time.Minute}
	if cfg.Token.Lifetimes != want || cfg.Token.Lifetimes.Default != DefaultLifetime {
		t.Errorf("lifetimes %+v", cfg.Token.Lifetimes)
	}
	// retire after the promotion + the longest token (30m) + the registries' 60 s leeway
	if got := r.RetireAfter(cfg.Token.Lifetimes); !got.Equal(r.PromotedAt.Add(31 * time.Minute)) {
		t.Errorf("retire after %v", got)
	}
	if cfg.Refresh.Key != "/etc/regtoken/refresh.key" {
		t.Errorf("refresh key %q", cfg.Refresh.Key)
	}
}

func TestScalarLifetimeStillWorks(t *testing.T) {
	cfg, err := Parse("/x/regtoken.toml", []byte("[token]\nissuer='i'\nservices=['s']\nkey='k'\nlifetime='15m'\n[acl]\nusers='u'\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Token.Lifetimes.Default != 15*time.Minute || cfg.Token.Lifetimes != (token.Lifetimes{Default: 15 * time.Minute}) ||
		cfg.Token.Rotation.Stage() != StageSteady {
		t.Errorf("lifetime %s, lifetimes %+v, stage %s", cfg.Token.Lifetimes.Default, cfg.Token.Lifetimes, cfg.Token.Rotation.Stage())
	}
}

func TestRotationProblems(t *testing.T) {
	const base = "[acl]\nusers='u'\n[token]\nissuer='i'\nservices=['s']\nkey='k'\n"
	expectProblems(t, []problemCase{
		{"next without key", base + "[token.next]\ncertificate='n.crt'\n", []string{"token.next.key: required"}},
		{"bad promoted_at", base + "promoted_at='yesterday'\n", []string{`token.promoted_at: "yesterday" is not an RFC 3339 time`}},
		{"empty previous", base + "previous=['']\n", []string{"token.previous: entry 1 is empty"}},
		{"short push lifetime", base + "[token.lifetime]\npush='30s'\n", []string{"token.lifetime.push: token: lifetime out of range: 30s"}},
		{"lifetime of the wrong type", base + "lifetime=5\n", []string{"token.lifetime: want a duration string like \"5m\" or a table of them by action, got an integer (5)"}},
		{"unknown action", base + "[token.lifetime]\npul='5m'\n", []string{"token.lifetime.pul: unknown key; did you mean token.lifetime.pull?"}},
		{"bad kid", base + "kid='x5t'\n", []string{`"rfc7638"`}},
	})
}
