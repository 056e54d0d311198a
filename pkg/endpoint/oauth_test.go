package endpoint

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/token"
)

// oauthHandler serves testState with refresh tokens on, at a clock the test
// moves (*now).
func oauthHandler(t testing.TB, audit io.Writer) (*Handler, *time.Time) {
	t.Helper()
	st := testState(t)
	st.Refresh, st.RefreshLifetime, st.LegacyRefresh = true, 24*time.Hour, true
	var err error
	if st.RefreshMAC, err = st.Signer.MACSigner(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	h := New(st, Options{Verifier: authn.New(authn.Options{}), Audit: audit, Now: func() time.Time { return now }})
	return h, &now
}

// withUsers swaps in rules built from a users.json text; the repositories
// file stays the demo one.
func withUsers(t *testing.T, h *Handler, users string) {
	t.Helper()
	rules, err := acl.Parse([]byte(users), []byte(`{"backlist": false, "repositories": ["some-image"]}`), nil, nil,
		acl.Files{Users: "users.json", Repositories: "repositories.json"})
	if err != nil {
		t.Fatal(err)
	}
	st := *h.State()
	st.Rules = rules
	h.Swap(&st)
}

func hashOf(t testing.TB, password string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// currentHash is the pass_hash the handler's rules hold for user.
func currentHash(t *testing.T, h *Handler, user string) string {
	t.Helper()
	u, ok := h.State().Rules.User(user)
	if !ok {
		t.Fatalf("no user %q", user)
	}
	return string(u.PassHash)
}

// postForm sends an OAuth2 POST the way containerd does.
func postForm(t *testing.T, h http.Handler, form url.Values) result {
	t.Helper()
	return postRaw(t, h, "application/x-www-form-urlencoded", form.Encode())
}

func postRaw(t *testing.T, h http.Handler, contentType, body string) result {
	t.Helper()
	r := httptest.NewRequest("POST", "/v2/token", strings.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := result{status: w.Code, header: w.Header(), raw: w.Body.String()}
	if err := json.Unmarshal(w.Body.Bytes(), &res.body); err != nil {
		t.Fatalf("POST: body is not JSON: %q", w.Body.String())
	}
	return res
}

func passwordForm(user, pass string, scopes ...string) url.Values {
	return url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass},
		"service": {"Authentication"}, "client_id": {"containerd-client"}, "scope": {strings.Join(scopes, " ")}}
}

func refreshForm(rt string, scopes ...string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt},
		"service": {"Authentication"}, "client_id": {"docker"}, "scope": {strings.Join(scopes, " ")}}
}

// login does the password grant with access_type=offline and returns the
// refresh token.
func login(t *testing.T, h http.Handler, user, pass string) string {
	t.Helper()
	f := passwordForm(user, pass)
	f.Set("access_type", "offline")
	res := postForm(t, h, f)
	if res.status != 200 {
		t.Fatalf("password grant for %s: %d %s", user, res.status, res.raw)
	}
	rt, _ := res.body["refresh_token"].(string)
	if rt == "" {
		t.Fatalf("access_type=offline without refresh_token: %s", res.raw)
	}
	return rt
}

func accessToken(t *testing.T, res result) token.ClaimSet {
	t.Helper()
	if res.status != 200 {
		t.Fatalf("status %d: %s", res.status, res.raw)
	}
	at, _ := res.body["access_token"].(string)
	if at == "" || res.body["token"] != at {
		t.Fatalf("access_token and token must be the same non-empty JWT: %s", res.raw)
	}
	return claims(t, at)
}

// wantOAuthError checks an error answer: status, OAuth2 error code, and the
// errors[] array the distribution-based clients print.
func wantOAuthError(t *testing.T, res result, status int, oauth string) {
	t.Helper()
	if res.status != status {
		t.Fatalf("status %d, want %d: %s", res.status, status, res.raw)
	}
	if res.body["error"] != oauth || res.body["error_description"] == "" {
		t.Errorf("error = %v (%v), want %s", res.body["error"], res.body["error_description"], oauth)
	}
	if errs, _ := res.body["errors"].([]any); len(errs) != 1 {
		t.Errorf("no errors array: %s", res.raw)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if status == 401 && res.header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
}

// wantMessage checks the message of an error answer, in both of its forms.
func wantMessage(t *testing.T, res result, want string) {
	t.Helper()
	errs, _ := res.body["errors"].([]any)
	if res.body["error_description"] != want || len(errs) != 1 || errs[0].(map[string]any)["message"] != want {
		t.Errorf("message %s, want %q", res.raw, want)
	}
}

func TestPasswordGrant(t *testing.T) {
	h, now := oauthHandler(t, nil)
	res := postForm(t, h, passwordForm("bar", "bar", "repository:app:pull,push", "repository:src:pull"))
	c := accessToken(t, res)
	if c.Subject != "bar" || c.Audience != "Authentication" {
		t.Errorf("sub/aud = %q/%q", c.Subject, c.Audience)
	}
	if got := fmt.Sprint(grants(c)); got != "map[repository:app:pull,push repository:src:pull]" {
		t.Errorf("grants %s", got)
	}
	if res.body["scope"] != "repository:app:pull,push repository:src:pull" {
		t.Errorf("scope = %q", res.body["scope"])
	}
	if res.body["expires_in"] != float64(1800) || res.body["issued_at"] != now.UTC().Format(time.RFC3339) {
		t.Errorf("expires_in/issued_at = %v/%v", res.body["expires_in"], res.body["issued_at"])
	}
	if _, ok := res.body["refresh_token"]; ok {
		t.Error("refresh_token without access_type=offline")
	}
}

func TestPasswordGrantPartialAndEmptyScope(t *testing.T) {
	h, _ := oauthHandler(t, nil)
	res := postForm(t, h, passwordForm("foo", "foo", "repository:some-image:pull,push", "repository:private:pull"))
	if got := fmt.Sprint(grants(accessToken(t, res))); got != "map[repository:private: repository:some-image:pull]" {
		t.Errorf("grants %s", got)
	}
	if res.body["scope"] != "repository:some-image:pull" {
		t.Errorf("scope = %q", res.body["scope"])
	}
	res = postForm(t, h, passwordForm("foo", "foo"))
	if len(accessToken(t, res).Access) != 0 || res.body["scope"] != "" {
		t.Errorf("no scope asked: %s", res.raw)
	}
	if _, ok := res.body["scope"]; !ok {
		t.Error("scope must always be present")
	}
}

// The scope may come as one space-separated field (containerd, docker, crane),
// as repeated fields (containers/image), or in the URL query.
func TestScopeForms(t *testing.T) {
	h, _ := oauthHandler(t, nil)
	want := "map[repository:a:pull repository:b:pull,push]"
	base := func() url.Values {
		f := passwordForm("bar", "bar")
		f.Del("scope")
		return f
	}
	joined := base()
	joined.Set("scope", "repository:a:pull repository:b:pull,push")
	repeated := base()
	repeated["scope"] = []string{"repository:a:pull", "repository:b:pull,push"}
	mixed := base()
	mixed["scope"] = []string{"repository:a:pull repository:b:pull", "", "repository:b:push"}
	for name, f := range map[string]url.Values{"space-joined": joined, "repeated": repeated, "mixed": mixed} {
		t.Run(name, func(t *testing.T) {
			if got := fmt.Sprint(grants(accessToken(t, postForm(t, h, f)))); got != want {
				t.Errorf("grants %s, want %s", got, want)
			}
		})
	}
	t.Run("query string", func(t *testing.T) {
		r := httptest.NewRequest("POST", "/v2/token?service=Authentication&scope=repository:a:pull", strings.NewReader(
			"grant_type=password&username=bar&password=bar&client_id=containers/image&scope=repository:b:pull,push"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var body map[string]any
		json.Unmarshal(w.Body.Bytes(), &body)
		at, _ := body["access_token"].(string)
		if w.Code != 200 || at == "" {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if got := fmt.Sprint(grants(claims(t, at))); got != "map[repository:a:pull repository:b:pull,push]" {
			t.Errorf("grants %s", got)
		}
	})
}

func TestRefreshGrant(t *testing.T) {
	h, _ := oauthHandler(t, nil)
	rt := login(t, h, "bar", "bar")
	checks := h.Verifier().Stats.BcryptChecks.Load()
	hits := h.Verifier().Stats.CacheHits.Load()

	res := postForm(t, h, refreshForm(rt, "repository:app:push,pull"))
	c := accessToken(t, res)
	if c.Subject != "bar" || grants(c)["repository:app"] != "push,pull" {
		t.Errorf("claims %+v", c)
	}
	if _, ok := res.body["refresh_token"]; ok {
		t.Error("refresh grant without access_type=offline returned a refresh token")
	}
	// access_type=offline on a refresh grant returns the same token: never rotated.
	f := refreshForm(rt)
	f.Set("access_type", "offline")
	if res := postForm(t, h, f); res.body["refresh_token"] != rt {
		t.Errorf("refresh token rotated or dropped: %s", res.raw)
	}
	// Used again and again, it keeps working.
	for range 3 {
		accessToken(t, postForm(t, h, refreshForm(rt, "repository:app:pull")))
	}
	if n := h.Verifier().Stats.BcryptChecks.Load() - checks; n != 0 {
		t.Errorf("refresh grants ran bcrypt %d times", n)
	}
	if n := h.Verifier().Stats.CacheHits.Load() - hits; n != 0 {
		t.Errorf("refresh grants consulted the password cache %d times", n)
	}
}

// The grant on refresh comes from the rules now, not the rules at login.
func TestRefreshGrantUsesCurrentRules(t *testing.T) {
	h, _ := oauthHandler(t, nil)
	rt := login(t, h, "foo", "foo")
	if g := grants(accessToken(t, postForm(t, h, refreshForm(rt, "repository:team/app:pull,push")))); g["repository:team/app"] != "" {
		t.Fatalf("foo has no rights on team/app yet: %v", g)
	}
	withUsers(t, h, fmt.Sprintf(`{"foo": {"pass_hash": %q, "repositories": {"team/*": ["pull", "push"]}}}`, currentHash(t, h, "foo")))
	if g := grants(accessToken(t, postForm(t, h, refreshForm(rt, "repository:team/app:pull,push")))); g["repository:team/app"] != "pull,push" {
		t.Errorf("new rule not applied on refresh: %v", g)
	}
	if g := grants(accessToken(t, postForm(t, h, refreshForm(rt, "repository:some-image:push")))); g["repository:some-image"] != "" {
		t.Errorf("old rule still applied on refresh: %v", g)
	}
}

// A login without credentials is logged for the operator, once a minute at
// most, however many arrive.
func TestLoginWithoutCredentialsIsLoggedOnce(t *testing.T) {
	var logs strings.Builder
	now := time.Now()
	h := New(testState(t), Options{Verifier: authn.New(authn.Options{}), Log: slog.New(slog.NewTextHandler(&logs, nil)),
		Now: func() time.Time { return now }})
	login := tokenURL() + "&account=foo&client_id=docker&offline_token=true"
	for range 3 {
		if res := do(t, h, "GET", login, "", ""); res.status != 401 {
			t.Fatalf("login without credentials: %d", res.status)
		}
	}
	now = now.Add(61 * time.Second)
	do(t, h, "GET", login, "", "")
	if n := strings.Count(logs.String(), "CGIPassAuth"); n != 2 {
		t.Errorf("logged %d times for 4 logins over 61 s, want 2:\n%s", n, logs.String())
	}
}

// docker login: GET with offline_token=true and client_id=docker.
func TestGetOfflineToken(t *testing.T) {
	h, _ := oauthHandler(t, nil)
	res := do(t, h, "GET", tokenURL()+"&account=foo&client_id=docker&offline_token=true", "foo", "foo")
	rt, _ := res.body["refresh_token"].(string)
	if res.status != 200 || rt == "" {
		t.Fatalf("docker login answer without refresh_token: %d %s", res.status, res.raw)
	}
	accessToken(t, postForm(t, h, refreshForm(rt, "repository:some-image:pull")))

	if res := do(t, h, "GET", tokenURL(), "foo", "foo"); res.body["refresh_token"] != nil {
		t.Error("refresh_token without offline_token=true")
	}
	// A login without credentials (a proxy that drops Authorization) is
	// refused, so docker login cannot report success for any password.
	res = do(t, h, "GET", tokenURL("repository:some-image:pull")+"&account=foo&client_id=docker&offline_token=true", "", "")
	if res.status != 401 || res.body["refresh_token"] != nil || res.body["token"] != nil || !strings.Contains(res.raw, "Authorization header") {
		t.Errorf("login without credentials: %d %s", res.status, res.raw)
	}
	// Without offline_token, no credentials mean anonymous, as before.
	if res := do(t, h, "GET", tokenURL("repository:some-image:pull")+"&account=anon", "", ""); res.status != 200 {
		t.Errorf("anonymous request with an account hint: %d %s", res.status, res.raw)
	}
}

// containerd falls back to GET with Basic ":"+identity token; docker's
// credential helpers name the identity token's user "<token>".
func TestGetWithIdentityToken(t *testing.T) {
	h, _ := oauthHandler(t, nil)
	rt := login(t, h, "foo", "foo")
	checks := h.Verifier().Stats.BcryptChecks.Load()
	for _, user := range []string{"", "<token>"} {
		res := do(t, h, "GET", tokenURL("repository:some-image:pull,push"), user, rt)
		c := accessToken(t, res)
		if c.Subject != "foo" || grants(c)["repository:some-image"] != "pull" {
			t.Errorf("user %q: claims %+v", user, c)
		}
		res = do(t, h, "GET", tokenURL()+"&offline_token=true", user, rt)
		if res.body["refresh_token"] != rt {
			t.Errorf("user %q: offline_token with a refresh token must hand back the same one: %s", user, res.raw)
		}
	}
	if n := h.Verifier().Stats.BcryptChecks.Load() - checks; n != 0 {
		t.Errorf("GET with an identity token ran bcrypt %d times", n)
	}
	wantOAuthError(t, do(t, h, "GET", tokenURL(), "", "not-a-token"), 401, "invalid_grant")
}

func TestPostErrors(t *testing.T) {
	h, _ := oauthHandler(t, nil)
	rt := login(t, h, "foo", "foo")
	with := func(f url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, v := range f {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				out.Del(kv[i])
			} else {
				out.Set(kv[i], kv[i+1])
			}
		}
		return out
	}
	pw := passwordForm("foo", "foo", "repository:some-image:pull")
	cases := []struct {
		name   string
		form   url.Values
		status int
		oauth  string
	}{
		{"wrong password", with(pw, "password", "bar"), 401, "invalid_grant"},
		{"unknown user", with(pw, "username", "mallory"), 401, "invalid_grant"},
		{"missing password", with(pw, "password", ""), 400, "invalid_request"},
		{"missing username", with(pw, "username", ""), 400, "invalid_request"},
		{"missing grant_type", with(pw, "grant_type", ""), 400, "invalid_request"},
		{"authorization_code", with(pw, "grant_type", "authorization_code"), 400, "unsupported_grant_type"},
		{"client_credentials", with(pw, "grant_type", "client_credentials"), 400, "unsupported_grant_type"},
		{"missing client_id", with(pw, "client_id", ""), 400, "invalid_request"},
		{"missing service", with(pw, "service", ""), 400, "invalid_request"},
		{"unknown service", with(pw, "service", "other"), 400, "invalid_request"},
		{"malformed scope", with(pw, "scope", "repository"), 400, "invalid_request"},
		{"missing refresh_token", with(refreshForm(rt), "refresh_token", ""), 400, "invalid_request"},
		{"garbage refresh_token", with(refreshForm(rt), "refresh_token", "a.b.c"), 401, "invalid_grant"},
		{"password as refresh_token", with(refreshForm(rt), "refresh_token", "foo"), 401, "invalid_grant"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantOAuthError(t, postForm(t, h, c.form), c.status, c.oauth)
		})
	}
	t.Run("JSON body", func(t *testing.T) {
		wantOAuthError(t, postRaw(t, h, "application/json", `{"grant_type":"password"}`), 400, "invalid_request")
	})
	t.Run("oversized body", func(t *testing.T) {
		body := pw.Encode() + "&pad=" + strings.Repeat("x", maxFormBytes)
		wantOAuthError(t, postRaw(t, h, "application/x-www-form-urlencoded", body), 400, "invalid_request")
	})
}

// Every way a refresh token stops working, and the fresh login after it.
func TestRevocation(t *testing.T) {
	cases := []struct {
		name  string
		users func(hash string, issued time.Time) string
	}{
		{"password hash changed", func(string, time.Time) string {
			return fmt.Sprintf(`{"foo": {"pass_hash": %q, "repositories": {"some-image": ["pull"]}}}`, hashOf(t, "foo", bcrypt.MinCost))
		}},
		{"user removed", func(string, time.Time) string {
			return fmt.Sprintf(`{"bar": {"pass_hash": %q, "repositories": {}}}`, hashOf(t, "bar", bcrypt.MinCost))
		}},
		{"tokens_not_before after issue", func(hash string, issued time.Time) string {
			return fmt.Sprintf(`{"foo": {"pass_hash": %q, "tokens_not_before": %q, "repositories": {"some-image": ["pull"]}}}`,
				hash, issued.Add(time.Second).UTC().Format(time.RFC3339))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, now := oauthHandler(t, nil)
			rt := login(t, h, "foo", "foo")
			withUsers(t, h, c.users(currentHash(t, h, "foo"), *now))
			*now = now.Add(2 * time.Second)
			res := postForm(t, h, refreshForm(rt, "repository:some-image:pull"))
			wantOAuthError(t, res, 401, "invalid_grant")
			if !strings.Contains(res.raw, "revoked") {
				t.Errorf("message does not say revoked: %s", res.raw)
			}
			if res := do(t, h, "GET", tokenURL("repository:some-image:pull"), "", rt); res.status != 401 {
				t.Errorf("revoked token accepted on GET: %d", res.status)
			}
			if c.name != "user removed" {
				rt2 := login(t, h, "foo", "foo")
				accessToken(t, postForm(t, h, refreshForm(rt2, "repository:some-image:pull")))
			}
		})
	}
	t.Run("tokens_not_before before issue keeps tokens", func(t *testing.T) {
		h, now := oauthHandler(t, nil)
		rt := login(t, h, "foo", "foo")
		withUsers(t, h, fmt.Sprintf(`{"foo": {"pass_hash": %q, "tokens_not_before": %q, "repositories": {"some-image": ["pull"]}}}`,
			currentHash(t, h, "foo"), now.Add(-time.Minute).UTC().Format(time.RFC3339)))
		accessToken(t, postForm(t, h, refreshForm(rt, "repository:some-image:pull")))
	})
}

func TestRefreshExpires(t *testing.T) {
	h, now := oauthHandler(t, nil)
	rt := login(t, h, "foo", "foo")
	*now = now.Add(24*time.Hour - time.Second)
	accessToken(t, postForm(t, h, refreshForm(rt)))
	*now = now.Add(time.Second)
	res := postForm(t, h, refreshForm(rt))
	wantOAuthError(t, res, 401, "invalid_grant")
	wantMessage(t, res, "refresh token expired; log in again")
}

// A refresh token is bound to the service it was issued for.
func TestRefreshServiceBinding(t *testing.T) {
	h, _ := oauthHandler(t, nil)
	st := *h.State()
	st.Services = []string{"Authentication", "other"}
	h.Swap(&st)
	rt := login(t, h, "foo", "foo")
	f := refreshForm(rt)
	f.Set("service", "other")
	res := postForm(t, h, f)
	wantOAuthError(t, res, 401, "invalid_grant")
	wantMessage(t, res, "refresh token was issued for another service")
}

// Tokens signed by another key (a rotated one, or a forger's) or for another
// issuer are refused.
func TestRefreshForeignSignerOrIssuer(t *testing.T) {
	h, _ := oauthHandler(t, nil)
	rt := login(t, h, "foo", "foo")

	st := *h.State()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, err := token.NewSigner(key, nil, token.KeyIDLibtrust)
	if err != nil {
		t.Fatal(err)
	}
	signed := h.State()
	st.Signer = other
	if st.RefreshMAC, err = other.MACSigner(); err != nil {
		t.Fatal(err)
	}
	h.Swap(&st)
	res := postForm(t, h, refreshForm(rt))
	wantOAuthError(t, res, 401, "invalid_grant")
	wantMessage(t, res, "invalid refresh token")
	st = *signed
	st.Issuer = "someone else"
	h.Swap(&st)
	res = postForm(t, h, refreshForm(rt))
	wantOAuthError(t, res, 401, "invalid_grant")
	wantMessage(t, res, "invalid refresh token")
}

// A refresh token is no access token and an access token no refresh token.
func TestTokenTypeConfusion(t *testing.T) {
	h, _ := oauthHandler(t, nil)
	rt := login(t, h, "bar", "bar")

	// An access token sent as a refresh token: refused by regtoken.
	at := postForm(t, h, passwordForm("bar", "bar", "repository:app:pull")).body["access_token"].(string)
	res := postForm(t, h, refreshForm(at, "repository:app:pull"))
	wantOAuthError(t, res, 401, "invalid_grant")
	wantMessage(t, res, "not a refresh token (an access token cannot be used to refresh)")
	if res := do(t, h, "GET", tokenURL("repository:app:pull"), "", at); res.status != 401 {
		t.Errorf("access token accepted as identity token on GET: %d", res.status)
	}

	// A refresh token's claims: no registry can verify its MAC, and its
	// audience and lack of access would refuse it all the same.
	var c map[string]any
	payload, err := h.State().RefreshMAC.Verify(rt)
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(payload, &c)
	if c["aud"] == "Authentication" || c["aud"] != "regtoken-refresh:Authentication" {
		t.Errorf("refresh token aud %v would pass a registry's audience check", c["aud"])
	}
	if _, ok := c["access"]; ok {
		t.Errorf("refresh token carries an access claim: %v", c)
	}
	if c["token_use"] != "refresh" || c["sub"] != "bar" || c["jti"] == "" || c["fp"] == "" {
		t.Errorf("refresh claims %v", c)
	}
	if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != (24 * time.Hour).Seconds() {
		t.Errorf("exp-iat = %v", exp-iat)
	}
}

// With refresh tokens off, POST is the JSON 404 clients fall back on,
// offline_token is ignored, and refresh tokens issued earlier are refused.
func TestRefreshDisabled(t *testing.T) {
	h, _ := oauthHandler(t, nil)
	rt := login(t, h, "foo", "foo")
	st := *h.State()
	st.Refresh = false
	h.Swap(&st)
	for _, f := range []url.Values{passwordForm("foo", "foo"), refreshForm(rt)} {
		if res := postForm(t, h, f); res.status != 404 {
			t.Errorf("POST %s with refresh off: %d", f.Get("grant_type"), res.status)
		}
	}
	if res := do(t, h, "GET", tokenURL()+"&offline_token=true", "foo", "foo"); res.status != 200 || res.body["refresh_token"] != nil {
		t.Errorf("offline_token honoured with refresh off: %s", res.raw)
	}
	if res := do(t, h, "GET", tokenURL(), "", rt); res.status != 401 {
		t.Errorf("identity token accepted with refresh off: %d", res.status)
	}
}

func TestAuditRefresh(t *testing.T) {
	var buf bytes.Buffer
	h, _ := oauthHandler(t, &buf)
	rt := login(t, h, "foo", "foo")
	postForm(t, h, refreshForm(rt, "repository:some-image:pull"))
	postForm(t, h, passwordForm("foo", "wrong-password"))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d audit lines", len(lines))
	}
	var issued, used, failed map[string]any
	json.Unmarshal([]byte(lines[0]), &issued)
	json.Unmarshal([]byte(lines[1]), &used)
	json.Unmarshal([]byte(lines[2]), &failed)
	if issued["grant_type"] != "password" || issued["refresh_issued"] != true || issued["refresh_id"] == "" {
		t.Errorf("login line %s", lines[0])
	}
	if used["grant_type"] != "refresh_token" || used["user"] != "foo" || used["refresh_id"] != issued["refresh_id"] || used["refresh_issued"] != false {
		t.Errorf("refresh line %s", lines[1])
	}
	if failed["status"] != float64(401) || failed["user"] != "foo" {
		t.Errorf("failure line %s", lines[2])
	}
	for _, secret := range []string{rt, strings.Split(rt, ".")[1], strings.Split(rt, ".")[2], "wrong-password", "$2a$"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("audit log contains a secret %q", secret)
		}
	}
}

// The point of refresh tokens: compare tokens/s of the refresh grant with the
// password grant, cached and uncached, at the Go default bcrypt cost and at
// the original service's cost 12.
func BenchmarkGrants(b *testing.B) {
	for _, cost := range []int{bcrypt.DefaultCost, 12} {
		h, _ := oauthHandler(b, nil)
		rules, err := acl.Parse([]byte(fmt.Sprintf(`{"bar": {"pass_hash": %q, "repositories": {"*": ["pull", "push"]}}}`, hashOf(b, "bar", cost))),
			nil, nil, nil, acl.Files{Users: "users.json"})
		if err != nil {
			b.Fatal(err)
		}
		st := *h.State()
		st.Rules = rules
		uncached := New(&st, Options{Verifier: authn.New(authn.Options{CacheTTL: time.Nanosecond})})
		cached := New(&st, Options{Verifier: authn.New(authn.Options{})})

		pw := passwordForm("bar", "bar", "repository:app:pull,push").Encode()
		rec := httptest.NewRecorder()
		login := httptest.NewRequest("POST", "/v2/token", strings.NewReader(pw+"&access_type=offline"))
		login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		cached.ServeHTTP(rec, login)
		var body struct {
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.RefreshToken == "" {
			b.Fatalf("login: %d %s", rec.Code, rec.Body)
		}
		rf := refreshForm(body.RefreshToken, "repository:app:pull,push").Encode()

		run := func(name string, h http.Handler, form string) {
			b.Run(fmt.Sprintf("%s/cost=%d", name, cost), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					r := httptest.NewRequest("POST", "/v2/token", strings.NewReader(form))
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != 200 {
						b.Fatalf("%d %s", w.Code, w.Body)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
			})
		}
		run("refresh", cached, rf)
		run("password-cached", cached, pw)
		run("password-uncached", uncached, pw)
	}
}
