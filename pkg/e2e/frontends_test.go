//go:build e2e

package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// frontProtocols are the four ways nginx reaches regtoken, each with its
// shipped site file deploy/nginx/<protocol>.conf.
var frontProtocols = []string{"scgi", "uwsgi", "fastcgi", "http"}

// TestFrontends runs the same token flow through every shipped nginx site:
// scgi_pass, uwsgi_pass with the original service's location block,
// fastcgi_pass and proxy_pass, each in front of the real regtoken and a real
// registry. Every answer must reach the client as regtoken gave it: the
// test compares each one with the answer regtoken's own HTTP listener gives
// to the same request.
func TestFrontends(t *testing.T) {
	for _, proto := range frontProtocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			s := harness.StartSite(t, harness.SiteOptions{Protocol: proto})
			t.Run("crane push and pull", func(t *testing.T) { craneFlow(t, s) })
			t.Run("token then registry", func(t *testing.T) { tokenThenRegistry(t, s) })
			t.Run("error answers intact", func(t *testing.T) { errorsIntact(t, s) })
			t.Run("chunked POST body", func(t *testing.T) { chunkedPost(t, s) })
		})
	}
}

// craneFlow is the original README's usage: bar pushes and pulls, anonymous
// pulls the whitelisted image and nothing else.
func craneFlow(t *testing.T, s *harness.Site) {
	craneLogin(t, s.Stack, "bar", "bar")
	if out, ok := cranePush(t, s.Stack, "some-image:latest"); !ok {
		t.Fatalf("bar push some-image: %s", out)
	}
	if out, ok := cranePush(t, s.Stack, "private/app:v1"); !ok {
		t.Fatalf("bar push private/app: %s", out)
	}
	if out, ok := crane(t, s.Stack, "pull", s.Host+"/private/app:v1", filepath.Join(s.Dir, "bar.tar")); !ok {
		t.Fatalf("bar pull private/app: %s", out)
	}
	craneLogout(t, s.Stack)
	if out, ok := crane(t, s.Stack, "pull", s.Host+"/some-image:latest", filepath.Join(s.Dir, "anon.tar")); !ok {
		t.Fatalf("anonymous pull of whitelisted some-image: %s", out)
	}
	if out, ok := crane(t, s.Stack, "pull", s.Host+"/private/app:v1", filepath.Join(s.Dir, "anon2.tar")); ok || !refused(out) {
		t.Fatalf("anonymous pull of private/app must be refused; ok=%v: %s", ok, out)
	}
}

// tokenThenRegistry asks for a token the way a client does (Basic auth, the
// scope parameter repeated), checks it carries what regtoken grants, and
// uses it with the registry through the same nginx.
func tokenThenRegistry(t *testing.T, s *harness.Site) {
	query := "?service=Authentication&scope=repository:some-image:pull,push&scope=repository:private/app:pull"
	req := newRequest(t, "GET", s.Realm+query, nil)
	req.SetBasicAuth("bar", "bar")
	// A repeated header must not upset any gateway (folding is tested
	// byte for byte in pkg/listen).
	req.Header.Add("X-Dup", "a")
	req.Header.Add("X-Dup", "b")
	got := fetch(t, req)
	direct := newRequest(t, "GET", s.Direct+query, nil)
	direct.SetBasicAuth("bar", "bar")
	want := fetch(t, direct)
	if got.status != 200 || want.status != 200 {
		t.Fatalf("token request: %d through nginx, %d direct: %s", got.status, want.status, got.body)
	}
	sameHeaders(t, got, want, "Content-Type", "Cache-Control")
	claims, wantClaims := jwtClaims(t, got.body), jwtClaims(t, want.body)
	if claims.Subject != "bar" || claims.Audience != "Authentication" || !reflect.DeepEqual(claims.Access, wantClaims.Access) {
		t.Fatalf("token through nginx: sub %q aud %q access %+v; direct: access %+v", claims.Subject, claims.Audience, claims.Access, wantClaims.Access)
	}
	wantAccess := []access{
		{Type: "repository", Name: "some-image", Actions: []string{"pull", "push"}},
		{Type: "repository", Name: "private/app", Actions: []string{"pull"}},
	}
	if !reflect.DeepEqual(claims.Access, wantAccess) {
		t.Errorf("both scopes must arrive: access %+v, want %+v", claims.Access, wantAccess)
	}

	var tok struct{ Token string }
	json.Unmarshal(got.body, &tok)
	reg := newRequest(t, "GET", "http://"+s.Host+"/v2/some-image/tags/list", nil)
	reg.Header.Set("Authorization", "Bearer "+tok.Token)
	tags := fetch(t, reg)
	if tags.status != 200 || !bytes.Contains(tags.body, []byte(`"latest"`)) {
		t.Fatalf("registry with the token: %d %s", tags.status, tags.body)
	}
}

// errorsIntact sends requests regtoken refuses and checks that status,
// headers and body arrive exactly as regtoken's own HTTP listener gives them.
func errorsIntact(t *testing.T, s *harness.Site) {
	cases := []struct {
		name, method, query, user, pass string
		status                          int
		headers                         []string
	}{
		{"wrong password", "GET", "?service=Authentication&scope=repository:some-image:pull", "bar", "wrong", 401, []string{"WWW-Authenticate"}},
		{"unknown user", "GET", "?service=Authentication&scope=repository:some-image:pull", "nobody", "x", 401, []string{"WWW-Authenticate"}},
		{"no service", "GET", "?scope=repository:some-image:pull", "", "", 400, nil},
		{"bad scope", "GET", "?service=Authentication&scope=repository:Bad%20Name:pull", "", "", 400, nil},
		{"method", "PUT", "?service=Authentication", "", "", 405, []string{"Allow"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			viaNginx, direct := newRequest(t, c.method, s.Realm+c.query, nil), newRequest(t, c.method, s.Direct+c.query, nil)
			if c.user != "" {
				viaNginx.SetBasicAuth(c.user, c.pass)
				direct.SetBasicAuth(c.user, c.pass)
			}
			got, want := fetch(t, viaNginx), fetch(t, direct)
			if got.status != c.status || want.status != c.status {
				t.Fatalf("status %d through nginx, %d direct; want %d; body %s", got.status, want.status, c.status, got.body)
			}
			if !bytes.Equal(got.body, want.body) {
				t.Errorf("body through nginx %q, direct %q", got.body, want.body)
			}
			if !json.Valid(got.body) || !bytes.Contains(got.body, []byte(`"errors"`)) {
				t.Errorf("not the JSON error body clients print: %q", got.body)
			}
			sameHeaders(t, got, want, append(c.headers, "Content-Type", "Cache-Control")...)
			for _, h := range c.headers {
				if got.header.Get(h) == "" {
					t.Errorf("%s missing", h)
				}
			}
		})
	}
}

// chunkedPost sends the OAuth2 password form chunked, with the password
// last and 8 KB of padding before it: only a body that arrived whole gets a
// token (a cut one gets 400 or 401). pkg/listen's TestBehindNginx checks
// chunked bodies byte for byte with every protocol; this is the same
// promise with the real endpoint.
func chunkedPost(t *testing.T, s *harness.Site) {
	form := url.Values{}
	form.Set("grant_type", "password")
	form.Set("service", "Authentication")
	form.Set("client_id", "e2e-"+strings.Repeat("x", 8000))
	form.Set("scope", "repository:some-image:pull")
	form.Set("username", "bar")
	body := form.Encode() + "&password=bar"
	req := newRequest(t, "POST", s.Realm, strings.NewReader(body))
	req.ContentLength = -1 // unknown length: the client sends it chunked
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	got := fetch(t, req)
	if got.status != 200 {
		t.Fatalf("chunked POST: %d %s (a 400 or 401 means the body arrived cut)", got.status, got.body)
	}
	if c := jwtClaims(t, got.body); c.Subject != "bar" || len(c.Access) != 1 || c.Access[0].Name != "some-image" {
		t.Fatalf("POST token: sub %q access %+v", c.Subject, c.Access)
	}
	if got.header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type %q", got.header.Get("Content-Type"))
	}
}

// answer is one HTTP answer as the client saw it.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func newRequest(t *testing.T, method, u string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// plainClient opens a connection per request, so that every request passes
// through nginx's full path.
var plainClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// fetch does req and checks the framing every answer must have: a
// Content-Length that matches the body, no chunking, and no CGI Status
// header leaking through a gateway.
func fetch(t *testing.T, req *http.Request) answer {
	t.Helper()
	a, resp := fetchPlain(t, req)
	if !strings.HasPrefix(req.URL.Path, "/v2/token") {
		return a
	}
	if resp.ContentLength != int64(len(a.body)) || len(resp.TransferEncoding) > 0 {
		t.Errorf("%s %s: Content-Length %d, Transfer-Encoding %v for %d body bytes",
			req.Method, req.URL.Host, resp.ContentLength, resp.TransferEncoding, len(a.body))
	}
	noStatusHeader(t, req, a)
	return a
}

// fetchPlain does req on a connection of its own and reads the whole answer.
func fetchPlain(t *testing.T, req *http.Request) (answer, *http.Response) {
	t.Helper()
	resp, err := plainClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}, resp
}

// noStatusHeader fails when a gateway's CGI Status line reached the client.
func noStatusHeader(t *testing.T, req *http.Request, a answer) {
	t.Helper()
	if v := a.header.Values("Status"); len(v) > 0 {
		t.Errorf("%s %s: a Status header reached the client: %q", req.Method, req.URL.Host, v)
	}
}

func sameHeaders(t *testing.T, got, want answer, names ...string) {
	t.Helper()
	for _, name := range names {
		if g, w := got.header.Values(name), want.header.Values(name); !slices.Equal(g, w) {
			t.Errorf("header %s: %q through nginx, %q direct", name, g, w)
		}
	}
}

// access is one entry of a token's access claim.
type access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

type claims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience string   `json:"aud"`
	Access   []access `json:"access"`
}

// jwtClaims decodes the payload of the token in a token answer. The
// registry, not this function, checks the signature.
func jwtClaims(t *testing.T, body []byte) claims {
	t.Helper()
	var r struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Token == "" {
		t.Fatalf("token answer %q: %v", body, err)
	}
	if r.AccessToken != r.Token {
		t.Errorf("token and access_token differ")
	}
	parts := strings.Split(r.Token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatalf("token payload %s: %v", payload, err)
	}
	return c
}
