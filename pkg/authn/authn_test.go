package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/throttle"
	"github.com/regtoken/regtoken/pkg/token"
)

// testUsers are foo (password foo, in group team) and bar (password bar).
func testUsers(t testing.TB) *acl.Rules {
	t.Helper()
	return parseUsers(t, fmt.Sprintf(`{
  "foo": {"pass_hash": %q, "groups": ["team"], "repositories": {}},
  "bar": {"pass_hash": %q, "repositories": {}}
}`, hash(t, "foo"), hash(t, "bar")))
}

func parseUsers(t testing.TB, users string) *acl.Rules {
	t.Helper()
	rules, err := acl.Parse([]byte(users), nil, []byte(`{"team": {"repositories": {}}}`), nil,
		acl.Files{Users: "users.json", Groups: "groups.json"})
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

func testSigner(t testing.TB) *token.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := token.NewSigner(key, nil, token.KeyIDLibtrust)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testSource has refresh tokens on, living a day.
func testSource(t testing.TB) *Source {
	signer := testSigner(t)
	mac, err := signer.MACSigner()
	if err != nil {
		t.Fatal(err)
	}
	return &Source{Users: testUsers(t), Signer: signer, Issuer: "test issuer",
		Refresh: true, RefreshLifetime: 24 * time.Hour, RefreshMAC: mac, LegacyRefresh: true}
}

// clock is a time the test moves.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestAuthenticator(l *throttle.Limiter) (*Authenticator, *clock) {
	c := &clock{t: time.Now()}
	v := New(Options{})
	v.SetDummyCost(bcrypt.MinCost) // unknown users cost what testUsers' hashes cost
	return NewAuthenticator(v, l, c.now), c
}

func password(user, pw string) Credentials {
	return Credentials{Method: Password, User: user, Secret: pw, Client: "192.0.2.1:4711", Service: "registry"}
}

func basic(user, secret string) Credentials {
	c := password(user, secret)
	c.Method = Basic
	return c
}

func refreshCredentials(jwt string) Credentials {
	return Credentials{Method: RefreshToken, Secret: jwt, Client: "192.0.2.1:4711", Service: "registry"}
}

// wantRefusal checks that err is an *Error with the reason.
func wantRefusal(t *testing.T, err error, reason Reason) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *Error", err)
	}
	if e.Reason != reason {
		t.Fatalf("reason %d (%s), want %d", e.Reason, e.Message, reason)
	}
	return e
}

// login authenticates by password and returns a fresh refresh token.
func login(t *testing.T, a *Authenticator, src *Source, user, pw string) (Identity, Refresh) {
	t.Helper()
	id, err := a.Authenticate(context.Background(), src, password(user, pw))
	if err != nil {
		t.Fatal(err)
	}
	r, err := a.RefreshFor(src, &id, "registry")
	if err != nil || r.Token == "" || !r.New || r.ID == "" {
		t.Fatalf("refresh token after a password: %+v %v", r, err)
	}
	return id, r
}

func TestBasicCredentials(t *testing.T) {
	cases := []struct {
		name, user, pass string
		set              bool
		want             Credentials
	}{
		{"no header", "", "", false, Credentials{}},
		{"empty user and password", "", "", true, Credentials{}},
		{"user and password", "foo", "secret", true, Credentials{Method: Basic, User: "foo", Secret: "secret"}},
		{"empty user", "", "a.b.c", true, Credentials{Method: Basic, Secret: "a.b.c"}},
		{"empty password", "foo", "", true, Credentials{Method: Basic, User: "foo"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/token", nil)
			r.RemoteAddr = "192.0.2.1:4711"
			if c.set {
				r.SetBasicAuth(c.user, c.pass)
			}
			c.want.Client, c.want.Service = "192.0.2.1:4711", "registry"
			if got := BasicCredentials(r, "registry"); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestAnonymous(t *testing.T) {
	a, _ := newTestAuthenticator(nil)
	id, err := a.Authenticate(context.Background(), testSource(t), Credentials{Client: "192.0.2.1:4711"})
	if err != nil || id.Method != Anonymous || id.Name != "" || !id.Subject().Anonymous {
		t.Fatalf("no credentials: %+v %v", id, err)
	}
	if r, err := a.RefreshFor(testSource(t), &id, "registry"); r != (Refresh{}) || err != nil {
		t.Errorf("anonymous callers get no refresh token: %+v %v", r, err)
	}
}

func TestPassword(t *testing.T) {
	a, _ := newTestAuthenticator(nil)
	src := testSource(t)
	ctx := context.Background()
	id, err := a.Authenticate(ctx, src, password("foo", "foo"))
	if err != nil {
		t.Fatal(err)
	}
	if id.Name != "foo" || id.Method != Password || fmt.Sprint(id.Groups) != "[team]" || id.RefreshID != "" {
		t.Errorf("identity %+v", id)
	}
	if s := id.Subject(); s.Name != "foo" || s.Anonymous {
		t.Errorf("subject %+v", s)
	}
	// A wrong password and an unknown user get the same refusal, which names
	// the user the credentials claimed to be, for the log.
	for _, c := range []Credentials{password("foo", "bar"), password("mallory", "x"), basic("foo", "")} {
		id, err := a.Authenticate(ctx, src, c)
		e := wantRefusal(t, err, WrongCredentials)
		if e.Message != "incorrect username or password" || id.Name != c.User || id.Method != Password {
			t.Errorf("%s: %+v %q", c.User, id, e.Message)
		}
	}
}

// What a Basic password means depends on the user name and on whether
// refresh tokens are on.
func TestBasicMeaning(t *testing.T) {
	a, _ := newTestAuthenticator(nil)
	src := testSource(t)
	_, rt := login(t, a, src, "foo", "foo")
	off := *src
	off.Refresh = false
	ctx := context.Background()

	for _, user := range []string{"", "<token>"} {
		id, err := a.Authenticate(ctx, src, basic(user, rt.Token))
		if err != nil || id.Name != "foo" || id.Method != RefreshToken || id.RefreshID != rt.ID {
			t.Errorf("refresh on, user %q: %+v %v", user, id, err)
		}
	}
	checks := a.Verifier().Stats.BcryptChecks.Load()
	id, err := a.Authenticate(ctx, &off, basic("", rt.Token))
	wantRefusal(t, err, WrongCredentials)
	if id.Method != Password || id.Name != "" {
		t.Errorf("refresh off, empty user: %+v", id)
	}
	if a.Verifier().Stats.BcryptChecks.Load() != checks {
		t.Error("an empty user name ran bcrypt")
	}
	// With refresh tokens off, "<token>" is a user name like any other.
	id, err = a.Authenticate(ctx, &off, basic("<token>", rt.Token))
	wantRefusal(t, err, WrongCredentials)
	if id.Method != Password || id.Name != "<token>" || a.Verifier().Stats.BcryptChecks.Load() != checks+1 {
		t.Errorf("refresh off, <token>: %+v", id)
	}
}

// After too many failures a client is refused before any check, with how
// long to wait; the same user elsewhere, and the same wrong password again,
// are not held against it.
func TestThrottle(t *testing.T) {
	l := throttle.New(throttle.Policy{PairThreshold: 3, AddressThreshold: 100, Tarpit: time.Millisecond})
	a, _ := newTestAuthenticator(l)
	src := testSource(t)
	ctx := context.Background()
	for range 5 {
		a.Authenticate(ctx, src, password("foo", "stale"))
	}
	if n := l.Stats.Failures.Load(); n != 1 {
		t.Fatalf("the same wrong password five times counted %d failures, want 1", n)
	}
	for i := range 2 {
		a.Authenticate(ctx, src, password("foo", fmt.Sprint("guess-", i)))
	}
	checks := a.Verifier().Stats.BcryptChecks.Load()
	id, err := a.Authenticate(ctx, src, password("foo", "foo"))
	e := wantRefusal(t, err, Throttled)
	if e.Wait <= 0 || e.Message != fmt.Sprintf("too many failed logins; retry after %d s", throttle.RetryAfter(e.Wait)) {
		t.Errorf("throttled: %+v", e)
	}
	if id.Name != "foo" || id.Method != Password {
		t.Errorf("throttled identity %+v", id)
	}
	if a.Verifier().Stats.BcryptChecks.Load() != checks || a.Verifier().Stats.CacheHits.Load() != 0 {
		t.Error("a throttled client's password was checked")
	}
	elsewhere := password("foo", "foo")
	elsewhere.Client = "198.51.100.7:4711"
	if _, err := a.Authenticate(ctx, src, elsewhere); err != nil {
		t.Errorf("the same user from another address: %v", err)
	}
}

// Too many password checks waiting is Unavailable, with a second to wait; a
// request whose context ends while it waits gets the context's error.
func TestUnavailable(t *testing.T) {
	v := New(Options{Concurrency: 1, QueueTimeout: 20 * time.Millisecond})
	v.slots.acquire(context.Background(), place{}) // the only bcrypt slot is taken
	a := NewAuthenticator(v, nil, nil)
	src := testSource(t)
	id, err := a.Authenticate(context.Background(), src, password("foo", "foo"))
	e := wantRefusal(t, err, Unavailable)
	if e.Wait != time.Second || id.Name != "foo" || v.Stats.Rejected.Load() != 1 {
		t.Errorf("busy: %+v %+v, rejected %d", e, id, v.Stats.Rejected.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Authenticate(ctx, src, password("foo", "foo")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while waiting: %v", err)
	}
}

func TestRefreshFor(t *testing.T) {
	a, c := newTestAuthenticator(nil)
	src := testSource(t)
	_, rt := login(t, a, src, "foo", "foo")

	id, err := a.Authenticate(context.Background(), src, refreshCredentials(rt.Token))
	if err != nil || id.Name != "foo" || id.Method != RefreshToken || id.RefreshID != rt.ID || fmt.Sprint(id.Groups) != "[team]" {
		t.Fatalf("refresh token: %+v %v", id, err)
	}
	// Never rotated: asking again hands back the one presented.
	c.t = c.t.Add(time.Hour)
	if again, err := a.RefreshFor(src, &id, "registry"); err != nil || again != (Refresh{Token: rt.Token, ID: rt.ID}) {
		t.Errorf("refresh token rotated: %+v %v", again, err)
	}
	off := *src
	off.Refresh = false
	if r, _ := a.RefreshFor(&off, &id, "registry"); r != (Refresh{}) {
		t.Errorf("refresh token handed out with refresh tokens off: %+v", r)
	}
	if _, err := a.Authenticate(context.Background(), &off, refreshCredentials(rt.Token)); err == nil {
		t.Error("refresh token accepted with refresh tokens off")
	}
}

// Refresh tokens cost no bcrypt and no password cache.
func TestRefreshRunsNoBcrypt(t *testing.T) {
	a, _ := newTestAuthenticator(nil)
	src := testSource(t)
	_, rt := login(t, a, src, "foo", "foo")
	stats := &a.Verifier().Stats
	checks, hits := stats.BcryptChecks.Load(), stats.CacheHits.Load()
	for range 3 {
		if _, err := a.Authenticate(context.Background(), src, refreshCredentials(rt.Token)); err != nil {
			t.Fatal(err)
		}
	}
	if stats.BcryptChecks.Load() != checks || stats.CacheHits.Load() != hits {
		t.Error("a refresh token went through the password check")
	}
}

func TestRefreshDefaultLifetime(t *testing.T) {
	a, c := newTestAuthenticator(nil)
	src := testSource(t)
	src.RefreshLifetime = 0
	_, rt := login(t, a, src, "foo", "foo")
	_, claims, err := a.checkRefreshToken(src, rt.Token, "registry")
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(claims.Expiration-c.t.Unix()) * time.Second; got != 90*24*time.Hour {
		t.Errorf("default lifetime %s, want 90 days", got)
	}
}

// legacyRefreshToken signs what regtoken signed as a refresh token before
// refresh tokens got their own MAC key: the same claims, signed with the
// access tokens' key.
func legacyRefreshToken(t *testing.T, src *Source, user, service string, issued time.Time, id string) string {
	t.Helper()
	u, _ := src.Users.User(user)
	c := refreshClaims{Use: tokenUseRefresh, Issuer: src.Issuer, Subject: user, Audience: refreshAudiencePrefix + service,
		Expiration: issued.Add(refreshLifetime(src)).Unix(), IssuedAt: issued.Unix(), JWTID: id,
		Fingerprint: fingerprint(user, u.PassHash)}
	payload, _ := json.Marshal(c)
	jwt, err := src.Signer.SignJSON(payload)
	if err != nil {
		t.Fatal(err)
	}
	return jwt
}

// A refresh token of an earlier version keeps working, while LegacyRefresh
// is on, until it expires: an upgrade logs nobody out.
func TestLegacyRefreshAccepted(t *testing.T) {
	a, c := newTestAuthenticator(nil)
	src := testSource(t)
	legacy := legacyRefreshToken(t, src, "foo", "registry", c.t, "legacy-id")
	id, err := a.Authenticate(context.Background(), src, refreshCredentials(legacy))
	if err != nil || id.Name != "foo" || id.Method != RefreshToken {
		t.Fatalf("legacy refresh token: %+v, %v", id, err)
	}
	// It is handed back as it came (never rotated).
	r, err := a.RefreshFor(src, &id, "registry")
	if err != nil || r.Token != legacy || r.New {
		t.Errorf("RefreshFor a legacy token = %+v, %v; want the same token back", r, err)
	}
}

// Every way a refresh token is refused, with the reason and message the
// client is told, and whether the refusal may name the token's user.
func TestRefreshRefusals(t *testing.T) {
	a, c := newTestAuthenticator(nil)
	src := testSource(t)
	_, rt := login(t, a, src, "foo", "foo")
	issued := c.t
	fooHash := func() string { u, _ := src.Users.User("foo"); return string(u.PassHash) }()
	access, err := src.Signer.Sign(token.NewClaims(src.Issuer, "foo", "registry", nil, issued, time.Hour, token.DefaultClockSkew))
	if err != nil {
		t.Fatal(err)
	}
	legacy := legacyRefreshToken(t, src, "foo", "registry", issued, rt.ID)
	with := func(change func(s *Source)) *Source {
		s := *src
		change(&s)
		return &s
	}
	cases := []struct {
		name    string
		src     *Source
		jwt     string
		service string
		later   time.Duration
		reason  Reason
		message string
		named   bool // the refusal names foo and the token's jti
	}{
		{"garbage", src, "a.b.c", "registry", 0, WrongCredentials, "invalid refresh token", false},
		{"a password", src, "foo", "registry", 0, WrongCredentials, "invalid refresh token", false},
		{"an access token", src, access, "registry", 0, WrongCredentials, "not a refresh token (an access token cannot be used to refresh)", false},
		{"another key", with(func(s *Source) { s.Signer = testSigner(t); s.RefreshMAC, _ = s.Signer.MACSigner() }),
			rt.Token, "registry", 0, WrongCredentials, "invalid refresh token", false},
		{"an earlier version's, legacy off", with(func(s *Source) { s.LegacyRefresh = false }), legacy, "registry", 0, Expired,
			"refresh token from an earlier regtoken version, no longer accepted; log in again", true},
		{"an earlier version's, expired", src, legacy, "registry", 24 * time.Hour, Expired, "refresh token expired; log in again", true},
		{"another issuer", with(func(s *Source) { s.Issuer = "someone else" }), rt.Token, "registry", 0, WrongCredentials, "invalid refresh token", false},
		{"another service", src, rt.Token, "other", 0, WrongCredentials, "refresh token was issued for another service", true},
		{"expired", src, rt.Token, "registry", 24 * time.Hour, Expired, "refresh token expired; log in again", true},
		{"password changed", with(func(s *Source) {
			s.Users = parseUsers(t, fmt.Sprintf(`{"foo": {"pass_hash": %q}}`, hash(t, "new")))
		}), rt.Token, "registry", 0, Expired, "refresh token revoked (user removed, password changed, or tokens revoked); log in again", true},
		{"user removed", with(func(s *Source) {
			s.Users = parseUsers(t, fmt.Sprintf(`{"bar": {"pass_hash": %q}}`, hash(t, "bar")))
		}), rt.Token, "registry", 0, Expired, "refresh token revoked (user removed, password changed, or tokens revoked); log in again", true},
		{"tokens_not_before after issue", with(func(s *Source) {
			s.Users = parseUsers(t, fmt.Sprintf(`{"foo": {"pass_hash": %q, "tokens_not_before": %q}}`,
				fooHash, issued.Add(time.Second).UTC().Format(time.RFC3339)))
		}), rt.Token, "registry", 0, Expired, "refresh token revoked (user removed, password changed, or tokens revoked); log in again", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.t = issued.Add(tc.later)
			cred := refreshCredentials(tc.jwt)
			cred.Service = tc.service
			id, err := a.Authenticate(context.Background(), tc.src, cred)
			e := wantRefusal(t, err, tc.reason)
			if e.Message != tc.message {
				t.Errorf("message %q, want %q", e.Message, tc.message)
			}
			if id.Method != RefreshToken || (id.Name == "foo") != tc.named || (id.RefreshID == rt.ID) != tc.named {
				t.Errorf("identity %+v, want it to name foo: %v", id, tc.named)
			}
		})
	}
	t.Run("a second before expiry", func(t *testing.T) {
		c.t = issued.Add(24*time.Hour - time.Second)
		if _, err := a.Authenticate(context.Background(), src, refreshCredentials(rt.Token)); err != nil {
			t.Error(err)
		}
	})
	t.Run("tokens_not_before before issue", func(t *testing.T) {
		c.t = issued
		s := with(func(s *Source) {
			s.Users = parseUsers(t, fmt.Sprintf(`{"foo": {"pass_hash": %q, "tokens_not_before": %q}}`,
				fooHash, issued.Add(-time.Minute).UTC().Format(time.RFC3339)))
		})
		if _, err := a.Authenticate(context.Background(), s, refreshCredentials(rt.Token)); err != nil {
			t.Error(err)
		}
	})
}

// A hot path: a password from the cache, through the whole step.
func BenchmarkAuthenticateCached(b *testing.B) {
	a, _ := newTestAuthenticator(throttle.New(throttle.Policy{}))
	src := testSource(b)
	c := password("bar", "bar")
	a.Authenticate(context.Background(), src, c)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(context.Background(), src, c); err != nil {
			b.Fatal(err)
		}
	}
}
