package oidc

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/oidc/oidctest"
)

const testAudience = "https://registry.example.com"

// githubIssuer trusts the test issuer like a GitHub Actions issuer: acme's
// jobs push to their repository's space, main may also push to release/.
func githubIssuer(url string) Issuer {
	return Issuer{Name: "github", URL: url, Audiences: []string{testAudience}, Rules: []Rule{
		{Claims: map[string][]string{"repository_owner": {"acme"}},
			Repositories: map[string][]string{"${repository:path}/**": {"pull", "push"}, "base/*": {"pull"}}},
		{Claims: map[string][]string{"repository_owner": {"acme"}, "ref": {"refs/heads/main"}},
			Repositories: map[string][]string{"release/${repository_owner}/*": {"pull", "push"}}},
	}}
}

func newVerifier(t *testing.T, issuers ...Issuer) *Verifier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := NewKeys(ctx).Verifier(issuers, "regtoken.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func kind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func TestVerifyGitHubToken(t *testing.T) {
	iss := oidctest.New(false)
	defer iss.Close()
	v := newVerifier(t, githubIssuer(iss.URL))
	raw := iss.Sign(oidctest.GitHubClaims(testAudience, "acme/app", "refs/heads/main", time.Now()))
	login, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := login.Name(), "github:repo:acme/app:ref:refs/heads/main"; got != want {
		t.Errorf("name %q, want %q", got, want)
	}
	var patterns []string
	for _, g := range login.Grants {
		patterns = append(patterns, g.Pattern+"="+strings.Join(g.Actions, ","))
	}
	want := []string{"acme/app/**=pull,push", "base/*=pull", "release/acme/*=pull,push"}
	if !slices.Equal(patterns, want) {
		t.Errorf("grants %v, want %v", patterns, want)
	}
	if ref := login.Grants[0].Ref.String(); ref != `regtoken.toml: oidc github rule 1, key "${repository:path}/**"` {
		t.Errorf("rule reference %s", ref)
	}
}

func TestVerifyRefusals(t *testing.T) {
	iss := oidctest.New(true)
	defer iss.Close()
	cfg := githubIssuer(iss.URL)
	cfg.CA = iss.CAPEM()
	v := newVerifier(t, cfg)
	now := time.Now()
	good := func() map[string]any { return oidctest.GitHubClaims(testAudience, "acme/app", "refs/heads/main", now) }
	with := func(name string, value any) map[string]any { c := good(); c[name] = value; return c }
	other := oidctest.New(false)
	defer other.Close()
	cases := []struct {
		name  string
		raw   string
		kind  Kind
		words string
	}{
		{"other audience", iss.Sign(with("aud", "https://elsewhere")), Invalid, `audience "https://elsewhere"`},
		{"expired", iss.Sign(with("exp", now.Add(-2*time.Minute).Unix())), Expired, "expired at"},
		{"not yet valid", iss.Sign(with("nbf", now.Add(10*time.Minute).Unix())), Invalid, "not valid before"},
		{"unknown key", oidctest.SignWith(oidctest.NewKey(), with("iss", iss.URL)), BadSignature, "does not publish"},
		{"issuer not configured", other.Sign(good()), UnknownIssuer, "is not configured"},
		{"no rule", iss.Sign(oidctest.GitHubClaims(testAudience, "evil/app", "refs/heads/main", now)), NoRule, `subject "repo:evil/app:ref:refs/heads/main" matches no rule`},
		{"no subject", iss.Sign(with("sub", nil)), Invalid, "sub"},
		{"unsigned", unsigned(t, good()), Malformed, "not a signed JWT"},
		{"not a JWT", "eyJhbGciOiJSUzI1NiJ9.e30", Malformed, "not a signed JWT"},
		{"exp not a number", iss.Sign(with("exp", "soon")), Invalid, "no expiry"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), c.raw)
			if kind(err) != c.kind || !strings.Contains(err.Error(), c.words) {
				t.Errorf("got %v (kind %d), want kind %d saying %q", err, kind(err), c.kind, c.words)
			}
			if err != nil && strings.Contains(err.Error(), c.raw) {
				t.Error("the error holds the token")
			}
		})
	}
}

// unsigned is a token with alg "none", which no configuration may accept.
func unsigned(t *testing.T, claims map[string]any) string {
	tok := jwt.New()
	for k, v := range claims {
		tok.Set(k, v)
	}
	b, err := jwt.Sign(tok, jwt.WithInsecureNoSignature())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestVerifyAfterRotation(t *testing.T) {
	iss := oidctest.New(false)
	defer iss.Close()
	v := newVerifier(t, githubIssuer(iss.URL))
	claims := func() map[string]any {
		return oidctest.GitHubClaims(testAudience, "acme/app", "refs/heads/main", time.Now())
	}
	if _, err := v.Verify(context.Background(), iss.Sign(claims())); err != nil {
		t.Fatal(err)
	}
	iss.Rotate()
	iss.Retire()
	// The first fetch was a moment ago: a new kid may not trigger another
	// one this soon, so the token is refused, without a fetch.
	fetches := iss.JWKS.Load()
	if _, err := v.Verify(context.Background(), iss.Sign(claims())); kind(err) != BadSignature {
		t.Fatalf("a key not fetched yet: %v", err)
	}
	if iss.JWKS.Load() != fetches {
		t.Error("an unknown kid right after a fetch fetched again")
	}
	// Later, the same token makes regtoken fetch the keys and pass.
	src := v.issuers[iss.URL].keys
	src.mu.Lock()
	src.lastAttempt = time.Now().Add(-unknownKeyInterval)
	src.mu.Unlock()
	if _, err := v.Verify(context.Background(), iss.Sign(claims())); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
}

func TestIssuerDownKeepsKeys(t *testing.T) {
	iss := oidctest.New(false)
	defer iss.Close()
	v := newVerifier(t, githubIssuer(iss.URL))
	raw := iss.Sign(oidctest.GitHubClaims(testAudience, "acme/app", "refs/heads/main", time.Now()))
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	iss.SetDown(true)
	src := v.issuers[iss.URL].keys
	if err := src.fetch(context.Background()); err == nil {
		t.Fatal("a fetch from an issuer that is down succeeded")
	}
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatalf("with the issuer down: %v", err)
	}
	if src.Stats.Failures.Load() == 0 || !strings.Contains(src.Stats.LastError(), "503") {
		t.Errorf("failures %d, last error %q", src.Stats.Failures.Load(), src.Stats.LastError())
	}
}

func TestIssuerDownFromTheStart(t *testing.T) {
	iss := oidctest.New(false)
	defer iss.Close()
	iss.SetDown(true)
	v := newVerifier(t, githubIssuer(iss.URL))
	raw := iss.Sign(oidctest.GitHubClaims(testAudience, "acme/app", "refs/heads/main", time.Now()))
	if _, err := v.Verify(context.Background(), raw); kind(err) != Unavailable {
		t.Fatalf("no keys yet: %v", err)
	}
}

func TestKeysFromFileAndURL(t *testing.T) {
	iss := oidctest.New(false)
	defer iss.Close()
	jwks := httpGet(t, iss.URL+"/keys")
	fromFile := githubIssuer("https://kubernetes.default.svc")
	fromFile.Name, fromFile.JWKSFile, fromFile.JWKS = "k8s", "jwks.json", jwks
	fromFile.Rules = []Rule{{Claims: map[string][]string{"kubernetes.io.serviceaccount.name": {"builder"}},
		Repositories: map[string][]string{"k8s/${kubernetes.io.namespace}/**": {"pull"}}}}
	fromURL := githubIssuer("https://token.example.com")
	fromURL.JWKSURL = iss.URL + "/keys"
	v := newVerifier(t, fromFile, fromURL)

	claims := oidctest.KubernetesClaims(testAudience, "ci", "builder", time.Now())
	claims["iss"] = "https://kubernetes.default.svc"
	login, err := v.Verify(context.Background(), iss.Sign(claims))
	if err != nil || len(login.Grants) != 1 || login.Grants[0].Pattern != "k8s/ci/**" {
		t.Fatalf("kubernetes token: %+v %v", login, err)
	}
	gh := oidctest.GitHubClaims(testAudience, "acme/app", "refs/heads/dev", time.Now())
	gh["iss"] = "https://token.example.com"
	if _, err := v.Verify(context.Background(), iss.Sign(gh)); err != nil {
		t.Fatalf("keys from jwks_url: %v", err)
	}
	if iss.Discovery.Load() != 0 {
		t.Error("discovery ran although jwks_url was set")
	}
}

func TestDiscoveryMustNameTheIssuer(t *testing.T) {
	iss := oidctest.New(false)
	defer iss.Close()
	cfg := githubIssuer(strings.Replace(iss.URL, "127.0.0.1", "localhost", 1))
	v := newVerifier(t, cfg)
	claims := oidctest.GitHubClaims(testAudience, "acme/app", "refs/heads/main", time.Now())
	claims["iss"] = cfg.URL
	if _, err := v.Verify(context.Background(), iss.Sign(claims)); kind(err) != Unavailable {
		t.Fatalf("keys from a discovery document naming another issuer: %v", err)
	}
	if e := v.KeyStats("github").LastError(); !strings.Contains(e, "names issuer") {
		t.Errorf("last error %q", e)
	}
}

func TestOnlyAllowedAlgorithms(t *testing.T) {
	iss := oidctest.New(false)
	defer iss.Close()
	cfg := githubIssuer(iss.URL)
	cfg.Algorithms = []string{"ES256"}
	v := newVerifier(t, cfg)
	raw := iss.Sign(oidctest.GitHubClaims(testAudience, "acme/app", "refs/heads/main", time.Now()))
	if _, err := v.Verify(context.Background(), raw); kind(err) != BadSignature || !strings.Contains(err.Error(), `"RS256"`) {
		t.Fatalf("RS256 with only ES256 allowed: %v", err)
	}
	// HS256 signed with a public key's bytes (the classic confusion) is
	// refused for its algorithm before any key is looked at.
	tok := jwt.New()
	tok.Set("iss", iss.URL)
	b, _ := jwt.Sign(tok, jwt.WithKey(jwa.HS256, []byte("secret")))
	if _, err := v.Verify(context.Background(), string(b)); kind(err) != BadSignature {
		t.Fatalf("HS256: %v", err)
	}
	_ = jws.WithKey
}

func TestLooksLikeJWT(t *testing.T) {
	iss := oidctest.New(false)
	defer iss.Close()
	raw := iss.Sign(oidctest.GitHubClaims(testAudience, "acme/app", "refs/heads/main", time.Now()))
	if !LooksLikeJWT(raw) || PeekIssuer(raw) != iss.URL {
		t.Errorf("a token: shape %v, issuer %q", LooksLikeJWT(raw), PeekIssuer(raw))
	}
	for _, s := range []string{"", "hunter2", "eyJ.a", "eyJa..b", "eyJa.b.", "eyJa.b.c d", "regtoken_abc"} {
		if LooksLikeJWT(s) {
			t.Errorf("%q taken for a JWT", s)
		}
	}
}

func TestLoginGroupsAndCatalog(t *testing.T) {
	iss := Issuer{Name: "gitlab", Rules: []Rule{
		{Claims: map[string][]string{"namespace_path": {"team"}}, Groups: []string{"readers"}, Catalog: true},
		{Claims: map[string][]string{"ref_protected": {"true"}, "environment": {"prod*"}},
			Repositories: map[string][]string{"${project_path:path}/**": {"pull", "push"}, "${project_path:path}/cache": {}}},
	}}
	claims := decode(t, oidctest.GitLabClaims(testAudience, "team/app", "main", time.Now()))
	l, err := iss.Apply(claims, "regtoken.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l.Groups, []string{"readers"}) || !slices.Equal(l.Matched, []int{0, 1}) || len(l.Grants) != 3 {
		t.Fatalf("login %+v", l)
	}
	if !l.Grants[0].Catalog || l.Grants[1].Pattern != "team/app/**" || l.Grants[2].Pattern != "team/app/cache" || len(l.Grants[2].Actions) != 0 {
		t.Errorf("grants %+v", l.Grants)
	}
	// The grants decide like users.json keys: the deny is more specific.
	rules, err := acl.Parse([]byte(`{}`), nil, []byte(`{"readers": {"repositories": {"shared/*": ["pull"]}}}`), nil, acl.Files{})
	if err != nil {
		t.Fatal(err)
	}
	s := acl.Subject{Name: l.Name(), Grants: l.Grants, Groups: l.Groups}
	for name, want := range map[string][]string{"team/app/x": {"pull", "push"}, "team/app/cache": {}, "shared/a": {"pull"}, "team/other": {}} {
		if d := rules.Decide(s, "repository", name, []string{"pull", "push"}); !slices.Equal(d.Granted, want) {
			t.Errorf("%s: %v, want %v", name, d.Granted, want)
		}
	}
}

// BenchmarkVerify is the cost of one ID token: the first time (RS256
// signature, claims, rules, with the keys in memory), and again (the memo).
func BenchmarkVerify(b *testing.B) {
	iss := oidctest.New(false)
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := NewKeys(ctx).Verifier([]Issuer{githubIssuer(iss.URL)}, "regtoken.toml", nil)
	if err != nil {
		b.Fatal(err)
	}
	raw := iss.Sign(oidctest.GitHubClaims(testAudience, "acme/app", "refs/heads/main", time.Now()))
	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := v.verify(ctx, raw, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("again", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A remembered token is still refused once it expires.
func TestMemoHonoursExpiry(t *testing.T) {
	iss := oidctest.New(false)
	defer iss.Close()
	now := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := NewKeys(ctx).Verifier([]Issuer{githubIssuer(iss.URL)}, "regtoken.toml", func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	raw := iss.Sign(oidctest.GitHubClaims(testAudience, "acme/app", "refs/heads/main", now)) // exp: now + 5m
	for range 2 {
		if _, err := v.Verify(ctx, raw); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(5*time.Minute + DefaultClockSkew)
	if _, err := v.Verify(ctx, raw); kind(err) != Expired {
		t.Fatalf("a remembered token after its expiry: %v", err)
	}
}
