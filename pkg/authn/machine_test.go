package authn

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/oidc"
	"github.com/regtoken/regtoken/pkg/oidc/oidctest"
	"github.com/regtoken/regtoken/pkg/robot"
	"github.com/regtoken/regtoken/pkg/throttle"
)

const testAudience = "https://registry.example.com"

// machineSource is testSource with a robot "ci" (secret returned, rules
// team/app/**: pull, push) and, when iss is not nil, a GitHub-like issuer.
func machineSource(t testing.TB, iss *oidctest.Issuer, robotExpires time.Time) (*Source, string) {
	t.Helper()
	src := testSource(t)
	path := filepath.Join(t.TempDir(), "robots.json")
	secret := robot.NewSecret()
	err := robot.Update(path, func(rs []robot.Robot) ([]robot.Robot, error) {
		return append(rs, robot.Robot{Name: "ci", SecretHash: robot.HashSecret(secret), Created: time.Now().Add(-time.Hour),
			Expires: robotExpires, Rules: map[string][]string{"team/app/**": {"pull", "push"}}}), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if src.Robots, err = robot.Load(path); err != nil {
		t.Fatal(err)
	}
	if iss != nil {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		src.Issuers, err = oidc.NewKeys(ctx).Verifier([]oidc.Issuer{{Name: "github", URL: iss.URL,
			Audiences: []string{testAudience}, Rules: []oidc.Rule{{
				Claims:       map[string][]string{"repository_owner": {"acme"}},
				Repositories: map[string][]string{"${repository:path}/**": {"pull", "push"}},
			}}}}, "regtoken.toml", nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	return src, secret
}

func TestRobotLogin(t *testing.T) {
	a, _ := newTestAuthenticator(nil)
	src, secret := machineSource(t, nil, time.Time{})
	ctx := context.Background()
	id, err := a.Authenticate(ctx, src, basic("ci", secret))
	if err != nil {
		t.Fatal(err)
	}
	s := id.Subject()
	if id.Name != "robot:ci" || id.Method != Robot || !s.NotInFiles || len(s.Grants) != 1 || s.Grants[0].Pattern != "team/app/**" {
		t.Errorf("robot identity %+v", id)
	}
	if r, err := a.RefreshFor(src, &id, "registry"); r != (Refresh{}) || err != nil {
		t.Errorf("a robot got a refresh token: %+v %v", r, err)
	}
	id, err = a.Authenticate(ctx, src, password("ci", robot.NewSecret()))
	if e := wantRefusal(t, err, WrongCredentials); e.Message != "incorrect username or password" || id.Name != "robot:ci" {
		t.Errorf("wrong secret: %+v %q", id, e.Message)
	}
	if n := a.Verifier().Stats.BcryptChecks.Load(); n != 0 {
		t.Errorf("robot logins ran bcrypt %d times", n)
	}
}

func TestExpiredRobot(t *testing.T) {
	l := throttle.New(throttle.Policy{PairThreshold: 1})
	a, _ := newTestAuthenticator(l)
	src, secret := machineSource(t, nil, time.Now().Add(-time.Minute))
	for range 3 {
		_, err := a.Authenticate(context.Background(), src, basic("ci", secret))
		if e := wantRefusal(t, err, Expired); !strings.Contains(e.Message, "robot ci expired at") {
			t.Errorf("message %q", e.Message)
		}
	}
	if l.Stats.Failures.Load() != 0 {
		t.Error("an expired robot's right secret counted as failed logins")
	}
}

func TestIDTokenAsPassword(t *testing.T) {
	iss := oidctest.New(false)
	defer iss.Close()
	l := throttle.New(throttle.Policy{})
	a, _ := newTestAuthenticator(l)
	src, _ := machineSource(t, iss, time.Time{})
	ctx := context.Background()
	raw := iss.Sign(oidctest.GitHubClaims(testAudience, "acme/app", "refs/heads/main", time.Now()))
	for _, c := range []Credentials{basic("anything", raw), password("x", raw), {Method: IDToken, Secret: raw}, basic("", raw)} {
		id, err := a.Authenticate(ctx, src, c)
		if err != nil {
			t.Fatalf("%+v: %v", c.Method, err)
		}
		s := id.Subject()
		if id.Name != "github:repo:acme/app:ref:refs/heads/main" || id.Method != IDToken || !s.NotInFiles ||
			len(s.Grants) != 1 || s.Grants[0].Pattern != "acme/app/**" {
			t.Errorf("identity %+v", id)
		}
	}
	// Refused tokens name their issuer and subject, count once for the
	// throttle however often they come, and never cost a bcrypt check.
	bad := iss.Sign(oidctest.GitHubClaims(testAudience, "evil/app", "refs/heads/main", time.Now()))
	for range 3 {
		id, err := a.Authenticate(ctx, src, basic("x", bad))
		if e := wantRefusal(t, err, WrongCredentials); !strings.Contains(e.Message, "matches no rule") || id.Name != "github:repo:evil/app:ref:refs/heads/main" {
			t.Errorf("no rule: %+v %q", id, e.Message)
		}
	}
	if l.Stats.Failures.Load() != 1 {
		t.Errorf("%d failures counted for one refused token sent three times", l.Stats.Failures.Load())
	}
	expired := iss.Sign(oidctest.GitHubClaims(testAudience, "acme/app", "refs/heads/main", time.Now().Add(-time.Hour)))
	_, err := a.Authenticate(ctx, src, basic("x", expired))
	wantRefusal(t, err, Expired)
	if n := a.Verifier().Stats.BcryptChecks.Load(); n != 0 {
		t.Errorf("ID tokens ran bcrypt %d times", n)
	}
}

// Our own refresh tokens are JWTs too: they must still work as Basic
// passwords with OIDC issuers configured, and without issuers a JWT is a
// password like any other.
func TestRefreshTokenIsNoIDToken(t *testing.T) {
	iss := oidctest.New(false)
	defer iss.Close()
	a, _ := newTestAuthenticator(nil)
	src, _ := machineSource(t, iss, time.Time{})
	_, rt := login(t, a, src, "foo", "foo")
	id, err := a.Authenticate(context.Background(), src, basic("", rt.Token))
	if err != nil || id.Method != RefreshToken || id.Name != "foo" {
		t.Fatalf("refresh token as Basic password: %+v %v", id, err)
	}
	src.Issuers = nil
	raw := iss.Sign(oidctest.GitHubClaims(testAudience, "acme/app", "refs/heads/main", time.Now()))
	id, err = a.Authenticate(context.Background(), src, password("foo", raw))
	wantRefusal(t, err, WrongCredentials)
	if id.Method != Password {
		t.Errorf("without issuers a JWT password went to %d", id.Method)
	}
	_, err = a.Authenticate(context.Background(), src, Credentials{Method: IDToken, Secret: raw})
	if e := wantRefusal(t, err, WrongCredentials); e != errNoIssuers {
		t.Errorf("exchange without issuers: %v", e)
	}
}

func TestMachinesAreThrottled(t *testing.T) {
	l := throttle.New(throttle.Policy{PairThreshold: 2, TarpitSlots: -1})
	a, _ := newTestAuthenticator(l)
	src, secret := machineSource(t, nil, time.Time{})
	for range 2 {
		a.Authenticate(context.Background(), src, basic("ci", robot.NewSecret()))
	}
	_, err := a.Authenticate(context.Background(), src, basic("ci", secret))
	wantRefusal(t, err, Throttled)
}

// BenchmarkLogin compares what a login costs: a robot's secret against a
// password found in the verifier's cache, each through Authenticate with
// the throttle on, as the endpoint calls it.
func BenchmarkLogin(b *testing.B) {
	a, _ := newTestAuthenticator(throttle.New(throttle.Policy{}))
	src, secret := machineSource(b, nil, time.Time{})
	iss := oidctest.New(false)
	defer iss.Close()
	withIssuer, _ := machineSource(b, iss, time.Time{})
	raw := iss.Sign(oidctest.GitHubClaims(testAudience, "acme/app", "refs/heads/main", time.Now()))
	for _, c := range []struct {
		name  string
		src   *Source
		creds Credentials
	}{
		{"cached-bcrypt-user", src, password("bar", "bar")},
		{"robot", src, basic("ci", secret)},
		{"oidc-token-again", withIssuer, basic("ci-job", raw)}, // the first one: oidc.BenchmarkVerify/first
	} {
		b.Run(c.name, func(b *testing.B) {
			if _, err := a.Authenticate(context.Background(), c.src, c.creds); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Authenticate(context.Background(), c.src, c.creds); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
