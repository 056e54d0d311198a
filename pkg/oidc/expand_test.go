package oidc

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/oidc/oidctest"
)

func TestLookupByPath(t *testing.T) {
	claims := decode(t, map[string]any{
		"sub":           "x",
		"kubernetes.io": map[string]any{"namespace": "ci", "pod": map[string]any{"name": "p"}},
		"kubernetes":    map[string]any{"io": map[string]any{"namespace": "shadow"}},
		"a.b":           "flat",
		"a":             map[string]any{"b": "nested", "c": "deep"},
		"n":             42,
	})
	for path, want := range map[string]string{
		"sub": "x", "kubernetes.io.namespace": "ci", "kubernetes.io.pod.name": "p",
		"a.b": "flat", "a.c": "deep", "n": "42",
	} {
		v, ok := lookup(claims, path)
		s, _ := scalar(v)
		if !ok || s != want {
			t.Errorf("%s: %v %v, want %q", path, v, ok, want)
		}
	}
	for _, path := range []string{"missing", "kubernetes.io.nope", "sub.x", "a.b.c"} {
		if v, ok := lookup(claims, path); ok {
			t.Errorf("%s found: %v", path, v)
		}
	}
}

func TestExpand(t *testing.T) {
	claims := decode(t, map[string]any{
		"owner": "Acme", "repo": "acme/app", "ns": "team-1", "ref": "refs/heads/x",
		"star": "*", "dots": "..", "empty": "", "slash": "/etc", "list": []string{"a"}, "n": 7,
		"upper": "App", "trail": "a/",
	})
	ok := map[string]string{
		"${owner:lower}/**":    "acme/**",
		"${repo:path}/*":       "acme/app/*",
		"k8s/${ns}/**":         "k8s/team-1/**",
		"ci/${n}":              "ci/7",
		"${repo:lower:path}/x": "acme/app/x",
		"plain/*":              "plain/*",
	}
	for pattern, want := range ok {
		got, err := expand(pattern, claims)
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", pattern, got, err, want)
		}
	}
	refused := map[string]string{
		"${owner}/**":        "lower-case",
		"${repo}/**":         `contains "/"`,
		"x/${star}":          "lower-case",
		"x/${dots}/y":        "lower-case",
		"x/${empty}":         "lower-case",
		"x/${slash:path}":    "lower-case",
		"x/${trail:path}":    "lower-case",
		"x/${list}":          "not a string",
		"x/${missing}":       "missing",
		"${upper:path}/x":    "lower-case",
		"x/${ns:shout}":      "unknown modifier",
		"x/${ns":             "closing",
		"x/${}":              "claim path",
		"${ns}-${ns}/a**b/c": "whole path component",
	}
	for pattern, words := range refused {
		got, err := expand(pattern, claims)
		if err == nil || !strings.Contains(err.Error(), words) {
			t.Errorf("%s: %q %v, want an error saying %q", pattern, got, err, words)
		}
	}
}

func TestValidate(t *testing.T) {
	good := githubIssuer("https://token.actions.githubusercontent.com")
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	loop := githubIssuer("http://127.0.0.1:8080")
	if err := loop.Validate(); err != nil {
		t.Errorf("plain http on loopback: %v", err)
	}
	bad := Issuer{Name: "Git Hub", URL: "http://example.com", JWKSURL: "ftp://x", JWKSFile: "f",
		Algorithms: []string{"HS256", "none"}, ClockSkew: time.Hour, Refresh: time.Second,
		Rules: []Rule{{Repositories: map[string][]string{"${x:bad}": {"pull"}, "a": {"fly"}}}, {Claims: map[string][]string{"a": {""}}}}}
	err := bad.Validate()
	for _, words := range []string{"name", "issuer", "audiences", "not both", "jwks_url", `"HS256"`, `"none"`,
		"clock_skew", "refresh", "rules[0]: claims: name at least one", "unknown modifier", `unknown action "fly"`,
		"rules[1]: grants nothing", `rules[1]: claims: "a"`} {
		if err == nil || !strings.Contains(err.Error(), words) {
			t.Errorf("Validate does not say %q: %v", words, err)
		}
	}
	if !errors.Is(err, ErrInvalid) {
		t.Error("not ErrInvalid")
	}
	if err := (Issuer{Name: "x", URL: "https://x", Audiences: []string{"a"}}).Validate(); err == nil || !strings.Contains(err.Error(), "no rules") {
		t.Errorf("no rules: %v", err)
	}
}

// FuzzExpand checks that no claim value can widen a pattern: whatever the
// value, an expansion that succeeds is a valid grant pattern whose
// wildcards are exactly the pattern's own, with the value standing as
// whole path components.
func FuzzExpand(f *testing.F) {
	for _, seed := range [][2]string{
		{"k8s/${ns}/**", "team-1"}, {"${ns:path}/**", "group/project"}, {"x/${ns:lower}", "Acme"},
		{"x/${ns}", "*"}, {"x/${ns:path}", "../a"}, {"${ns}", "a/**"}, {"a-${ns}-b/*", "x"},
		{"${ns:path}", "a//b"}, {"x/${ns}", "a:5000"}, {"${ns}/y", "."},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, value string) {
		tpl, err := parseTemplate(pattern)
		if err != nil {
			return
		}
		got, err := expand(pattern, map[string]any{"ns": value})
		if err != nil {
			return
		}
		if err := acl.CheckGrant(acl.Grant{Pattern: got}); err != nil {
			t.Fatalf("%q with %q expanded to %q, not a valid pattern: %v", pattern, value, got, err)
		}
		literalStars := strings.Count(strings.Join(tpl.literals, ""), "*")
		if strings.Count(got, "*") != literalStars {
			t.Fatalf("%q with %q expanded to %q: the value added a wildcard", pattern, value, got)
		}
		if len(tpl.vars) > 0 && (strings.Contains(value, "*") || strings.Contains(value, "..") ||
			strings.HasPrefix(value, "/") || strings.HasSuffix(value, "/") || strings.Contains(value, "//")) {
			t.Fatalf("%q accepted the value %q", pattern, value)
		}
		for _, v := range tpl.vars {
			if !v.path && strings.Contains(value, "/") {
				t.Fatalf("%q took %q with a slash without :path", pattern, value)
			}
		}
	})
}

func TestReadClaims(t *testing.T) {
	want := map[string]any{"iss": "https://x", "sub": "s", "n": 1}
	raw := oidctestToken(t, want)
	for name, data := range map[string]string{"json": `{"iss": "https://x", "sub": "s", "n": 1}`, "jwt": raw + "\n"} {
		c, err := ReadClaims([]byte(data))
		if err != nil || c["iss"] != "https://x" || c["sub"] != "s" || c["n"].(json.Number) != "1" {
			t.Errorf("%s: %v %v", name, c, err)
		}
	}
	for _, bad := range []string{"", "[]", "eyJhbGciOiJub25lIn0.!!!.x", "{} {}"} {
		if _, err := ReadClaims([]byte(bad)); err == nil {
			t.Errorf("%q read as claims", bad)
		}
	}
}

func oidctestToken(t *testing.T, claims map[string]any) string {
	t.Helper()
	return oidctest.SignWith(oidctest.NewKey(), claims)
}
