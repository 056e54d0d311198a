package endpoint

import (
	"bytes"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/token"
)

// clockHandler serves testState at a clock the test moves (*now), with the
// audit lines going to the returned buffer.
func clockHandler(t testing.TB) (*Handler, *time.Time, *bytes.Buffer) {
	t.Helper()
	now := time.Date(2026, 3, 1, 12, 0, 0, 400e6, time.UTC)
	var audit bytes.Buffer
	h := New(testState(t), Options{Verifier: authn.New(authn.Options{}), Now: func() time.Time { return now },
		Audit: &audit})
	return h, &now, &audit
}

func TestTokenReusedWithinWindowWithTruthfulTimes(t *testing.T) {
	h, now, audit := clockHandler(t)
	url := tokenURL("repository:some-image:pull")
	first := do(t, h, "GET", url, "", "")
	signedAt := *now
	*now = now.Add(7 * time.Second) // the window is 10 s for 30-minute tokens
	second := do(t, h, "GET", url, "", "")
	if first.status != 200 || second.status != 200 {
		t.Fatalf("status %d, %d", first.status, second.status)
	}
	if second.body["token"] != first.body["token"] || second.body["access_token"] != first.body["token"] {
		t.Fatal("a second request for the same grant within the window got another token")
	}
	wantIssued := signedAt.Truncate(time.Second).Format(time.RFC3339)
	if first.body["issued_at"] != wantIssued || second.body["issued_at"] != wantIssued {
		t.Errorf("issued_at = %v, %v; want the signing time %s both times", first.body["issued_at"], second.body["issued_at"], wantIssued)
	}
	if first.body["expires_in"] != float64(1800) || second.body["expires_in"] != float64(1793) {
		t.Errorf("expires_in = %v, %v; want 1800 then the 1793 s left", first.body["expires_in"], second.body["expires_in"])
	}
	c := claims(t, second.body["token"].(string))
	if left := c.Expiration - now.Unix(); float64(left) != second.body["expires_in"] {
		t.Errorf("expires_in %v but the token's exp leaves %d s", second.body["expires_in"], left)
	}
	lines := strings.Split(strings.TrimSpace(audit.String()), "\n")
	if len(lines) != 2 || strings.Contains(lines[0], "token_reused") || !strings.Contains(lines[1], `"token_reused":true`) {
		t.Errorf("audit lines should mark the second answer only as reused:\n%s", audit.String())
	}

	*now = signedAt.Add(10 * time.Second)
	third := do(t, h, "GET", url, "", "")
	if third.body["token"] == first.body["token"] || third.body["expires_in"] != float64(1800) {
		t.Errorf("after the window: token reused (%v) or expires_in %v", third.body["token"] == first.body["token"], third.body["expires_in"])
	}
}

func TestTokenNotReusedForAnotherGrant(t *testing.T) {
	h, now, _ := clockHandler(t)
	base := do(t, h, "GET", tokenURL("repository:some-image:pull"), "bar", "bar").body["token"]
	others := map[string]result{
		"another user":                do(t, h, "GET", tokenURL("repository:some-image:pull"), "foo", "foo"),
		"anonymous":                   do(t, h, "GET", tokenURL("repository:some-image:pull"), "", ""),
		"more actions":                do(t, h, "GET", tokenURL("repository:some-image:pull,push"), "bar", "bar"),
		"another repository":          do(t, h, "GET", tokenURL("repository:other-image:pull"), "bar", "bar"),
		"an extra resource":           do(t, h, "GET", tokenURL("repository:some-image:pull", "repository:other:pull"), "bar", "bar"),
		"no scope (login)":            do(t, h, "GET", tokenURL(), "bar", "bar"),
		"denied scope (empty access)": do(t, h, "GET", tokenURL("repository:other-image:pull"), "foo", "foo"),
	}
	seen := map[any]string{base: "base"}
	for name, res := range others {
		if res.status != 200 {
			t.Fatalf("%s: status %d", name, res.status)
		}
		if prev, dup := seen[res.body["token"]]; dup {
			t.Errorf("%s got the token of %s", name, prev)
		}
		seen[res.body["token"]] = name
	}
	// foo asking for push as well is granted pull only: the same grant as
	// pull alone, so the same token, and rightly so.
	pull := do(t, h, "GET", tokenURL("repository:some-image:pull"), "foo", "foo")
	pullPush := do(t, h, "GET", tokenURL("repository:some-image:pull,push"), "foo", "foo")
	if pull.body["token"] != pullPush.body["token"] || grants(claims(t, pullPush.body["token"].(string)))["repository:some-image"] != "pull" {
		t.Error("two requests that yield the same grant should share its token")
	}

	// A reload (new State) never hands out a token signed under the old one.
	st := *h.State()
	h.Swap(&st)
	*now = now.Add(time.Second)
	if again := do(t, h, "GET", tokenURL("repository:some-image:pull"), "bar", "bar"); again.body["token"] == base {
		t.Error("token reused across a reload")
	}
}

func TestReuseWindowIsATenthOfTheLifetime(t *testing.T) {
	for lifetime, want := range map[time.Duration]time.Duration{
		5 * time.Minute: 10 * time.Second,
		time.Minute:     6 * time.Second,
		5 * time.Second: 500 * time.Millisecond,
	} {
		if got := reuseWindow(lifetime); got != want {
			t.Errorf("reuseWindow(%s) = %s, want %s", lifetime, got, want)
		}
	}
}

func TestReuseCacheBounded(t *testing.T) {
	c := newReuseCache(testState(t))
	now := time.Now()
	fill := func(n int, at time.Time) {
		for i := range n {
			c.put(grantKey{subject: fmt.Sprint(at.Unix(), i)}, signedToken{jwt: "x", issuedAt: at}, at)
			if len(c.tokens) > maxReused {
				t.Fatalf("%d tokens cached, limit %d", len(c.tokens), maxReused)
			}
		}
	}
	fill(maxReused+500, now)
	// When full, expired entries go first, and all of them.
	c.tokens = map[grantKey]signedToken{}
	fill(maxReused, now)
	later := now.Add(time.Hour)
	c.put(grantKey{subject: "new"}, signedToken{jwt: "y", issuedAt: later}, later)
	if len(c.tokens) != 1 {
		t.Errorf("after every entry expired the cache holds %d, want only the new one", len(c.tokens))
	}
}

func TestAccessKeyDistinguishesGrants(t *testing.T) {
	ra := func(typ, name string, actions ...string) token.ResourceActions {
		return token.ResourceActions{Type: typ, Name: name, Actions: actions}
	}
	grants := [][]token.ResourceActions{
		nil,
		{ra("repository", "a", "pull")},
		{ra("repository", "a", "pull", "push")},
		{ra("repository", "a")},
		{ra("repository", "a", "pull"), ra("repository", "b")},
		{ra("repository", "ab", "pull")},
		{ra("repository", "a,b", "pull")},
		{ra("registry", "catalog", "*")},
	}
	seen := map[string]int{}
	for i, g := range grants {
		k := accessKey(g)
		if j, dup := seen[k]; dup {
			t.Errorf("grants %d and %d share the key %q", j, i, k)
		}
		seen[k] = i
	}
}

// BenchmarkAnonymousFreshToken is an anonymous request that cannot reuse a
// token: the clock moves a minute per request.
func BenchmarkAnonymousFreshToken(b *testing.B) {
	now := time.Now()
	h := New(testState(b), Options{Now: func() time.Time { now = now.Add(time.Minute); return now }})
	r := httptest.NewRequest("GET", tokenURL("repository:some-image:pull"), nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}

// BenchmarkAnonymousAudited is BenchmarkAnonymous with the audit line on,
// as in the default configuration.
func BenchmarkAnonymousAudited(b *testing.B) {
	h := New(testState(b), Options{Audit: io.Discard})
	r := httptest.NewRequest("GET", tokenURL("repository:some-image:pull"), nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
