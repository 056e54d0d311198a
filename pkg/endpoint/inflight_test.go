package endpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/throttle"
)

// heldCompare is a bcrypt helper that holds every comparison until the
// test lets it go, and tells when one has started.
type heldCompare struct {
	started chan struct{}
	release chan struct{}
}

func newHeldCompare() *heldCompare {
	return &heldCompare{started: make(chan struct{}, 256), release: make(chan struct{})}
}

func (c *heldCompare) compare(ctx context.Context, hash []byte, password string) (bool, error) {
	c.started <- struct{}{}
	<-c.release
	return bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil, nil
}

// passwordRequest is foo's password as GET with Basic auth, or as the
// OAuth2 POST password grant, from one address.
func passwordRequest(post bool, pass string) *http.Request {
	var r *http.Request
	if post {
		form := url.Values{"grant_type": {"password"}, "client_id": {"test"}, "username": {"foo"}, "password": {pass},
			"service": {"Authentication"}, "scope": {"repository:some-image:pull,push"}}
		r = httptest.NewRequest("POST", "/v2/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest("GET", tokenURL("repository:some-image:pull,push"), nil)
		r.SetBasicAuth("foo", pass)
	}
	r.RemoteAddr = "192.0.2.1:4711"
	return r
}

// While one password of foo's is in bcrypt, every other password of foo's
// from the same address, the right one included, is answered 429 with
// Retry-After at once, on GET and on the POST grant alike.
func TestPasswordsInFlightAreThrottled(t *testing.T) {
	for _, post := range []bool{false, true} {
		t.Run(fmt.Sprintf("post=%v", post), func(t *testing.T) {
			c := newHeldCompare()
			v := authn.New(authn.Options{Compare: c.compare})
			st := testState(t)
			st.Refresh = true
			h := New(st, Options{Verifier: v, Throttle: throttle.New(throttle.Policy{TarpitSlots: -1})})
			first := httptest.NewRecorder()
			done := make(chan struct{})
			go func() { h.ServeHTTP(first, passwordRequest(post, "guess-first")); close(done) }()
			<-c.started

			answers := make([]*httptest.ResponseRecorder, 21)
			var wg sync.WaitGroup
			for i := range answers {
				pass := fmt.Sprint("guess-", i)
				if i == 20 {
					pass = "foo"
				}
				answers[i] = httptest.NewRecorder()
				wg.Go(func() { h.ServeHTTP(answers[i], passwordRequest(post, pass)) })
			}
			wg.Wait()
			close(c.release)
			<-done
			for i, w := range answers {
				if w.Code != 429 || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), "TOOMANYREQUESTS") {
					t.Errorf("password %d while another is checked: %d %q %s", i, w.Code, w.Header().Get("Retry-After"), w.Body)
				}
			}
			if post && !strings.Contains(answers[20].Body.String(), `"error":"slow_down"`) {
				t.Errorf("the POST grant's refusal has no OAuth2 error: %s", answers[20].Body)
			}
			if first.Code != 401 || v.Stats.BcryptChecks.Load() != 1 {
				t.Errorf("the password in flight: %d, bcrypt checks %d; want 401, 1", first.Code, v.Stats.BcryptChecks.Load())
			}
		})
	}
}

// A reload that lands while a password waits for bcrypt decides the
// answer: a removed user or a changed password is refused, and otherwise
// the token follows the new rules.
func TestReloadDuringPasswordCheck(t *testing.T) {
	fooHash := func(pw string) string {
		h, _ := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		return string(h)
	}
	for _, c := range []struct {
		name   string
		users  string
		status int
		grant  string
	}{
		{"user removed", `{"bar": {"pass_hash": "` + fooHash("bar") + `"}}`, 401, ""},
		{"password changed", `{"foo": {"pass_hash": "` + fooHash("new") + `"}}`, 401, ""},
		{"rules changed", "", 200, "pull,push"},
	} {
		t.Run(c.name, func(t *testing.T) {
			held := newHeldCompare()
			v := authn.New(authn.Options{Compare: held.compare})
			before := testState(t)
			h := New(before, Options{Verifier: v})
			var w *httptest.ResponseRecorder
			done := make(chan struct{})
			go func() {
				w = httptest.NewRecorder()
				h.ServeHTTP(w, passwordRequest(false, "foo"))
				close(done)
			}()
			<-held.started
			after := *before
			users := c.users
			if users == "" { // foo keeps its hash and gets push
				u, _ := before.Rules.User("foo")
				users = `{"foo": {"pass_hash": "` + string(u.PassHash) + `", "repositories": {"some-image": ["pull", "push"]}}}`
			}
			rules, err := acl.Parse([]byte(users), nil, nil, nil, acl.Files{})
			if err != nil {
				t.Fatal(err)
			}
			after.Rules = rules
			h.Swap(&after)
			close(held.release)
			<-done
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body)
			}
			if c.grant != "" {
				var body struct{ Token string }
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
					t.Fatal(err)
				}
				if got := grants(claims(t, body.Token))["repository:some-image"]; got != c.grant {
					t.Errorf("granted %q, want %q (the rules in force when the check ended)", got, c.grant)
				}
			}
		})
	}
}

// A refresh token revoked (tokens_not_before) by a reload that lands while
// the token is being checked is refused: the request is checked again
// against the State in force when its check ended.
func TestRevocationDuringRefreshCheck(t *testing.T) {
	h, _ := oauthHandler(t, nil)
	rt := login(t, h, "bar", "bar")
	revoked := *h.State()
	rules, err := acl.Parse([]byte(fmt.Sprintf(`{"bar": {"pass_hash": %q, "tokens_not_before": %q}}`,
		currentHash(t, h, "bar"), time.Now().Add(time.Hour).UTC().Format(time.RFC3339))), nil, nil, nil, acl.Files{})
	if err != nil {
		t.Fatal(err)
	}
	revoked.Rules = rules
	// The reload lands from inside the refresh token's check, the one
	// place authentication reads the clock on this path.
	var swapped atomic.Bool
	clock := time.Now()
	h.now = func() time.Time {
		if calledFrom("checkRefreshToken") && !swapped.Swap(true) {
			h.Swap(&revoked)
		}
		return clock
	}
	h.authn = authn.NewAuthenticator(h.Verifier(), h.Throttle(), h.now)
	res := postForm(t, h, refreshForm(rt, "repository:some-image:pull"))
	if !swapped.Load() {
		t.Fatal("the refresh check did not read the clock: the test no longer reloads mid-check")
	}
	if res.status != 401 || !strings.Contains(res.raw, `"error":"invalid_grant"`) || !strings.Contains(res.raw, "revoked") {
		t.Errorf("refresh token revoked mid-check: %d %s, want 401 invalid_grant (revoked)", res.status, res.raw)
	}
}

// calledFrom reports whether a function whose name ends in name is on the
// caller's stack.
func calledFrom(name string) bool {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, "."+name) {
			return true
		}
		if !more {
			return false
		}
	}
}
