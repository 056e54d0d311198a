package endpoint

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"golang.org/x/crypto/bcrypt"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/throttle"
	"github.com/regtoken/regtoken/pkg/token"
)

// testState is the original service's example: foo pulls some-image, bar
// pushes and pulls everything, anonymous pulls some-image.
func testState(t testing.TB) *State {
	t.Helper()
	hash := func(pw string) string {
		h, _ := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		return string(h)
	}
	users := fmt.Sprintf(`{
  "foo": {"pass_hash": %q, "repositories": {"some-image": ["pull"]}},
  "bar": {"pass_hash": %q, "repositories": {"*": ["pull", "push"]}, "catalog": true}
}`, hash("foo"), hash("bar"))
	repos := `{"backlist": false, "repositories": ["some-image"]}`
	rules, err := acl.Parse([]byte(users), []byte(repos), nil, nil, acl.Files{Users: "users.json", Repositories: "repositories.json"})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := token.NewSigner(key, nil, token.KeyIDLibtrust)
	if err != nil {
		t.Fatal(err)
	}
	return &State{
		Rules: rules, Signer: signer, Issuer: "example issuer", Services: []string{"Authentication"},
		Lifetimes: token.Lifetimes{Default: 30 * time.Minute}, ClockSkew: 7 * time.Second, Realm: "example issuer", MaxScopes: 8,
	}
}

type result struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func do(t *testing.T, h http.Handler, method, target, user, pass string) result {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	if user != "" || pass != "" {
		r.SetBasicAuth(user, pass)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := result{status: w.Code, header: w.Header(), raw: w.Body.String()}
	if err := json.Unmarshal(w.Body.Bytes(), &res.body); err != nil {
		t.Fatalf("%s %s: body is not JSON: %q", method, target, w.Body.String())
	}
	return res
}

// claims decodes the JWT payload without verifying (the signer tests do that).
func claims(t *testing.T, jwt string) token.ClaimSet {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", jwt)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c token.ClaimSet
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatalf("claims: %v in %s", err, payload)
	}
	return c
}

func grants(c token.ClaimSet) map[string]string {
	out := map[string]string{}
	for _, a := range c.Access {
		out[a.Type+":"+a.Name] = strings.Join(a.Actions, ",")
	}
	return out
}

func newHandler(t *testing.T, audit io.Writer) *Handler {
	return New(testState(t), Options{Verifier: authn.New(authn.Options{}), Audit: audit})
}

func tokenURL(scopes ...string) string {
	v := url.Values{"service": {"Authentication"}}
	for _, s := range scopes {
		v.Add("scope", s)
	}
	return "/v2/token?" + v.Encode()
}

func TestGrants(t *testing.T) {
	h := newHandler(t, nil)
	cases := []struct {
		name, user, pass string
		scopes           []string
		want             map[string]string
	}{
		{"foo pulls some-image", "foo", "foo", []string{"repository:some-image:pull"}, map[string]string{"repository:some-image": "pull"}},
		{"foo cannot push", "foo", "foo", []string{"repository:some-image:pull,push"}, map[string]string{"repository:some-image": "pull"}},
		{"foo gets nothing elsewhere", "foo", "foo", []string{"repository:other:pull"}, map[string]string{"repository:other": ""}},
		{"bar pushes anywhere", "bar", "bar", []string{"repository:team/app.v2/api_x:push,pull"}, map[string]string{"repository:team/app.v2/api_x": "push,pull"}},
		{"intersection: bar asked pull only", "bar", "bar", []string{"repository:x:pull"}, map[string]string{"repository:x": "pull"}},
		{"bar has no delete", "bar", "bar", []string{"repository:x:delete"}, map[string]string{"repository:x": ""}},
		{"anonymous pulls whitelisted", "", "", []string{"repository:some-image:pull"}, map[string]string{"repository:some-image": "pull"}},
		{"anonymous cannot push", "", "", []string{"repository:some-image:push,pull"}, map[string]string{"repository:some-image": "pull"}},
		{"anonymous refused elsewhere", "", "", []string{"repository:private:pull"}, map[string]string{"repository:private": ""}},
		{"anonymous has no catalog", "", "", []string{"registry:catalog:*"}, map[string]string{"registry:catalog": ""}},
		{"bar has the catalog", "bar", "bar", []string{"registry:catalog:*"}, map[string]string{"registry:catalog": "*"}},
		{"every scope answered (mount)", "bar", "bar", []string{"repository:dst:pull,push repository:src:pull"},
			map[string]string{"repository:dst": "pull,push", "repository:src": "pull"}},
		{"host:port names survive", "bar", "bar", []string{"repository:localhost:5000/app:pull"}, map[string]string{"repository:localhost:5000/app": "pull"}},
		{"login without scope", "bar", "bar", nil, map[string]string{}},
		// zot asks its catalog as repository::pull, and crane sends its own
		// registry:catalog:* beside it: each is answered on its own.
		{"zot catalog beside crane's and a repository", "bar", "bar",
			[]string{"registry:catalog:*", "repository::pull", "repository:x:pull"},
			map[string]string{"registry:catalog": "*", "repository:": "pull", "repository:x": "pull"}},
		{"zot catalog refused without the right, others granted", "foo", "foo",
			[]string{"repository::pull repository:some-image:pull registry:catalog:*"},
			map[string]string{"repository:": "", "repository:some-image": "pull", "registry:catalog": ""}},
		{"a name outside the grammar gets nothing, the others their grant", "bar", "bar",
			[]string{"repository:UPPER:pull", "repository:x:pull", "plugin:y:pull"},
			map[string]string{"repository:UPPER": "", "repository:x": "pull", "plugin:y": ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := do(t, h, "GET", tokenURL(c.scopes...), c.user, c.pass)
			if res.status != 200 {
				t.Fatalf("status %d: %s", res.status, res.raw)
			}
			cl := claims(t, res.body["token"].(string))
			if got := grants(cl); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("grants = %v, want %v", got, c.want)
			}
			if cl.Subject != c.user {
				t.Errorf("sub = %q, want %q", cl.Subject, c.user)
			}
		})
	}
}

func TestSuccessBody(t *testing.T) {
	h := newHandler(t, nil)
	res := do(t, h, "GET", tokenURL("repository:some-image:pull"), "foo", "foo")
	if res.status != 200 {
		t.Fatalf("status %d", res.status)
	}
	if res.body["token"] == "" || res.body["token"] != res.body["access_token"] {
		t.Errorf("token and access_token must be the same non-empty JWT: %v", res.body)
	}
	if !strings.Contains(res.raw, `"expires_in":1800,`) {
		t.Errorf("expires_in must be the integer lifetime in seconds: %s", res.raw)
	}
	if _, err := time.Parse(time.RFC3339, res.body["issued_at"].(string)); err != nil {
		t.Errorf("issued_at not RFC 3339: %v", res.body["issued_at"])
	}
	if _, ok := res.body["refresh_token"]; ok {
		t.Error("refresh_token without offline_token=true")
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	cl := claims(t, res.body["token"].(string))
	if cl.Issuer != "example issuer" || cl.Audience != "Authentication" {
		t.Errorf("iss/aud = %q/%q", cl.Issuer, cl.Audience)
	}
	// nbf and iat are backdated by the clock-skew margin, exp is not.
	if cl.Expiration-cl.IssuedAt != 1807 || cl.NotBefore != cl.IssuedAt {
		t.Errorf("exp/iat/nbf = %d/%d/%d", cl.Expiration, cl.IssuedAt, cl.NotBefore)
	}
}

func TestErrors(t *testing.T) {
	h := newHandler(t, nil)
	cases := []struct {
		name, method, target, user, pass string
		status                           int
		code                             string
	}{
		{"wrong password", "GET", tokenURL("repository:some-image:pull"), "foo", "bar", 401, "UNAUTHORIZED"},
		{"unknown user", "GET", tokenURL("repository:some-image:pull"), "mallory", "x", 401, "UNAUTHORIZED"},
		{"empty user with password", "GET", tokenURL(), "", "secret", 401, "UNAUTHORIZED"},
		{"unknown service", "GET", "/v2/token?service=other&scope=repository:a:pull", "", "", 400, "UNSUPPORTED"},
		{"missing service", "GET", "/v2/token?scope=repository:a:pull", "", "", 400, "UNSUPPORTED"},
		{"malformed scope", "GET", tokenURL("repository"), "", "", 400, "UNSUPPORTED"},
		{"malformed action", "GET", tokenURL("repository:a:pull repository:b:PULL"), "", "", 400, "UNSUPPORTED"},
		{"too many scopes", "GET", tokenURL("repository:a:pull repository:b:pull repository:c:pull repository:d:pull repository:e:pull repository:f:pull repository:g:pull repository:h:pull repository:i:pull"), "", "", 400, "UNSUPPORTED"},
		{"PUT", "PUT", tokenURL(), "", "", 405, "UNSUPPORTED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := do(t, h, c.method, c.target, c.user, c.pass)
			if res.status != c.status {
				t.Fatalf("status %d, want %d: %s", res.status, c.status, res.raw)
			}
			errs, _ := res.body["errors"].([]any)
			if len(errs) != 1 || errs[0].(map[string]any)["code"] != c.code {
				t.Errorf("body %s, want errors[0].code %s", res.raw, c.code)
			}
			if c.status == 401 && res.header.Get("WWW-Authenticate") != `Basic realm="example issuer"` {
				t.Errorf("WWW-Authenticate = %q", res.header.Get("WWW-Authenticate"))
			}
		})
	}
}

// The account parameter is a hint: the identity comes from Basic auth.
func TestAccountParameterIgnored(t *testing.T) {
	h := newHandler(t, nil)
	res := do(t, h, "GET", tokenURL("repository:x:push")+"&account=foo", "bar", "bar")
	if res.status != 200 {
		t.Fatalf("status %d", res.status)
	}
	if c := claims(t, res.body["token"].(string)); c.Subject != "bar" || grants(c)["repository:x"] != "push" {
		t.Errorf("claims %+v", c)
	}
}

func TestSwapTakesEffect(t *testing.T) {
	h := newHandler(t, nil)
	st := *h.State()
	st.Services = []string{"other"}
	h.Swap(&st)
	if res := do(t, h, "GET", tokenURL(), "", ""); res.status != 400 {
		t.Fatalf("old service still accepted after Swap: %d", res.status)
	}
}

func TestAuditLineHasNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	h := newHandler(t, &buf)
	res := do(t, h, "GET", tokenURL("repository:some-image:pull,push"), "foo", "foo")
	do(t, h, "GET", tokenURL("repository:x:pull"), "foo", "wrongpassword")
	var line map[string]any
	first := strings.SplitN(buf.String(), "\n", 2)[0]
	if err := json.Unmarshal([]byte(first), &line); err != nil {
		t.Fatalf("audit line not JSON: %q", first)
	}
	for _, k := range []string{"time", "client", "user", "service", "requested", "granted", "decision", "rules", "status", "latency_ms"} {
		if _, ok := line[k]; !ok {
			t.Errorf("audit line lacks %q: %s", k, first)
		}
	}
	if line["decision"] != "partial" || line["user"] != "foo" {
		t.Errorf("decision/user = %v/%v", line["decision"], line["user"])
	}
	jwt := res.body["token"].(string)
	for _, secret := range []string{jwt, strings.Split(jwt, ".")[2], "wrongpassword", `"foo:foo"`, "$2a$"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("audit log contains a secret %q", secret)
		}
	}
}

func TestPostAnswersJSON404(t *testing.T) {
	h := newHandler(t, nil)
	h.State().Refresh = false
	r := httptest.NewRequest("POST", "/v2/token", strings.NewReader("grant_type=password&username=foo&password=foo&service=Authentication&client_id=x"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 404 || !json.Valid(w.Body.Bytes()) {
		t.Fatalf("POST with OAuth2 off: %d %s", w.Code, w.Body)
	}
}

func BenchmarkAnonymous(b *testing.B) {
	h := New(testState(b), Options{})
	r := httptest.NewRequest("GET", tokenURL("repository:some-image:pull"), nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}

func BenchmarkCachedPassword(b *testing.B) {
	h := New(testState(b), Options{})
	r := httptest.NewRequest("GET", tokenURL("repository:some-image:pull"), nil)
	r.SetBasicAuth("bar", "bar")
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}

// The same wrong password again (containerd's GET retry of a refused POST, a
// fleet of jobs with a stale password) is refused without bcrypt and counts
// as one failure, not one per request.
func TestRepeatedWrongPasswordCountsOnce(t *testing.T) {
	v := authn.New(authn.Options{})
	l := throttle.New(throttle.Policy{PairThreshold: 3, AddressThreshold: 100, Tarpit: 10 * time.Millisecond})
	h := New(testState(t), Options{Verifier: v, Throttle: l})
	for i := range 10 {
		r := httptest.NewRequest("GET", tokenURL("repository:some-image:pull"), nil)
		r.RemoteAddr = "192.0.2.1:4711"
		r.SetBasicAuth("foo", "stale")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 401 {
			t.Fatalf("request %d with the same wrong password: %d, want 401 every time", i, w.Code)
		}
	}
	if n := l.Stats.Failures.Load(); n != 1 {
		t.Errorf("throttle counted %d failures, want 1", n)
	}
	if n := v.Stats.BcryptChecks.Load(); n != 1 {
		t.Errorf("%d bcrypt checks, want 1", n)
	}
}

// After too many wrong passwords the pair waits with 429, without bcrypt; the
// same user from another address and a right password are still served.
func TestThrottledLogins(t *testing.T) {
	v := authn.New(authn.Options{})
	h := New(testState(t), Options{Verifier: v, Throttle: throttle.New(throttle.Policy{PairThreshold: 3, AddressThreshold: 100, Tarpit: 10 * time.Millisecond})})
	from := func(addr, pass string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", tokenURL("repository:some-image:pull"), nil)
		r.RemoteAddr = addr + ":4711"
		r.SetBasicAuth("foo", pass)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i := range 3 {
		if w := from("192.0.2.1", "guess-"+strconv.Itoa(i)); w.Code != 401 {
			t.Fatalf("guess %d: %d", i, w.Code)
		}
	}
	w := from("192.0.2.1", "guess-3")
	if w.Code != 429 || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "TOOMANYREQUESTS") {
		t.Fatalf("after 3 failures: %d %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	checks := v.Stats.BcryptChecks.Load()
	if w := from("192.0.2.1", "foo"); w.Code != 429 {
		t.Fatalf("a throttled pair must wait even with the right password: %d", w.Code)
	}
	if v.Stats.BcryptChecks.Load() != checks {
		t.Fatal("a throttled request ran bcrypt")
	}
	if w := from("198.51.100.7", "foo"); w.Code != 200 {
		t.Fatalf("the same user from another address is locked out: %d %s", w.Code, w.Body)
	}
}

// A password that cannot be checked now (every bcrypt slot taken, the queue
// timed out) is a 503 with Retry-After, and so is a request whose client went
// away while it waited; other requests are served meanwhile.
func TestPasswordCheckUnavailable(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	v := authn.New(authn.Options{Concurrency: 1, QueueTimeout: 10 * time.Millisecond,
		Compare: func(ctx context.Context, hash []byte, password string) (bool, error) {
			entered <- struct{}{}
			<-release
			return bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil, nil
		}})
	h := New(testState(t), Options{Verifier: v})
	first := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := httptest.NewRequest("GET", tokenURL(), nil)
		r.SetBasicAuth("foo", "foo")
		h.ServeHTTP(first, r)
	}()
	<-entered // the only slot is taken

	res := do(t, h, "GET", tokenURL(), "bar", "bar")
	if res.status != 503 || res.header.Get("Retry-After") != "1" || !strings.Contains(res.raw, `"code":"UNAVAILABLE"`) ||
		res.body["error"] != nil {
		t.Errorf("busy: %d %v %s", res.status, res.header, res.raw)
	}
	if !strings.Contains(res.raw, "too many password checks in progress, retry shortly") {
		t.Errorf("busy message: %s", res.raw)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("GET", tokenURL(), nil).WithContext(ctx)
	r.SetBasicAuth("bar", "bar")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 503 || !strings.Contains(w.Body.String(), "request cancelled") {
		t.Errorf("cancelled: %d %s", w.Code, w.Body)
	}
	if res := do(t, h, "GET", tokenURL("repository:some-image:pull"), "", ""); res.status != 200 {
		t.Errorf("anonymous request while passwords wait: %d", res.status)
	}
	close(release)
	<-done
	if first.Code != 200 {
		t.Errorf("the password that held the slot: %d %s", first.Code, first.Body)
	}
}

// A service with a key of its own gets tokens signed with that key, the
// others with the main one: zot checks no aud, so only different keys keep
// one zot's tokens from working at another.
func TestServiceSigners(t *testing.T) {
	st := testState(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	zotSigner, err := token.NewSigner(key, nil, token.KeyIDLibtrust)
	if err != nil {
		t.Fatal(err)
	}
	st.Services = []string{"Authentication", "zot"}
	st.ServiceSigners = map[string]*token.Signer{"zot": zotSigner}
	h := New(st, Options{Verifier: authn.New(authn.Options{})})
	for service, want := range map[string]*token.Signer{"Authentication": st.Signer, "zot": zotSigner} {
		res := do(t, h, "GET", "/v2/token?service="+service+"&scope=repository:some-image:pull", "", "")
		if res.status != 200 {
			t.Fatalf("%s: %d %s", service, res.status, res.raw)
		}
		jwt := res.body["token"].(string)
		if _, err := jws.Verify([]byte(jwt), jws.WithKey(jwa.ES256, want.PublicKey())); err != nil {
			t.Errorf("%s: the token is not signed with the service's key: %v", service, err)
		}
	}
}
