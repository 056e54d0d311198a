package endpoint

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/oidc"
	"github.com/regtoken/regtoken/pkg/oidc/oidctest"
)

const testAudience = "https://registry.example.com"

// exchangeHandler serves testState with refresh tokens off and a GitHub-like
// issuer whose acme jobs may push to their repository's space.
func exchangeHandler(t *testing.T, audit *bytes.Buffer) (*Handler, *oidctest.Issuer) {
	t.Helper()
	iss := oidctest.New(false)
	t.Cleanup(iss.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := oidc.NewKeys(ctx).Verifier([]oidc.Issuer{{Name: "github", URL: iss.URL, Audiences: []string{testAudience},
		Rules: []oidc.Rule{{Claims: map[string][]string{"repository_owner": {"acme"}},
			Repositories: map[string][]string{"${repository:path}/**": {"pull", "push"}}}}}}, "regtoken.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	st := testState(t)
	st.Issuers = v
	o := Options{Verifier: authn.New(authn.Options{})}
	if audit != nil {
		o.Audit = audit
	}
	return New(st, o), iss
}

func exchangeForm(subject string, scopes ...string) url.Values {
	return url.Values{"grant_type": {grantTokenExchange}, "subject_token": {subject},
		"subject_token_type": {tokenTypeIDToken}, "service": {"Authentication"}, "scope": {strings.Join(scopes, " ")}}
}

func TestTokenExchange(t *testing.T) {
	var audit bytes.Buffer
	h, iss := exchangeHandler(t, &audit)
	raw := iss.Sign(oidctest.GitHubClaims(testAudience, "acme/app", "refs/heads/main", time.Now()))
	res := postForm(t, h, exchangeForm(raw, "repository:acme/app/web:pull,push", "repository:other:pull"))
	c := accessToken(t, res)
	if c.Subject != "github:repo:acme/app:ref:refs/heads/main" {
		t.Errorf("subject %q", c.Subject)
	}
	if len(c.Access) != 2 || strings.Join(c.Access[0].Actions, ",") != "pull,push" || len(c.Access[1].Actions) != 0 {
		t.Errorf("access %+v", c.Access)
	}
	if res.body["issued_token_type"] != tokenTypeAccessToken || res.body["token_type"] != "Bearer" || res.body["refresh_token"] != nil {
		t.Errorf("answer %s", res.raw)
	}
	// audience= names the service when service= is absent; the jwt type is
	// accepted too.
	f := exchangeForm(raw, "repository:acme/app:pull")
	f.Del("service")
	f.Set("audience", "Authentication")
	f.Set("subject_token_type", tokenTypeJWT)
	accessToken(t, postForm(t, h, f))
	line := audit.String()
	if !strings.Contains(line, `"user":"github:repo:acme/app:ref:refs/heads/main"`) || !strings.Contains(line, `"grant_type":"`+grantTokenExchange+`"`) {
		t.Errorf("audit line %s", line)
	}
	if strings.Contains(line, raw) {
		t.Error("the audit line holds the token")
	}
}

func TestTokenExchangeErrors(t *testing.T) {
	h, iss := exchangeHandler(t, nil)
	now := time.Now()
	good := iss.Sign(oidctest.GitHubClaims(testAudience, "acme/app", "refs/heads/main", now))
	with := func(f url.Values, k, v string) url.Values { f.Set(k, v); return f }
	for name, c := range map[string]struct {
		form   url.Values
		status int
		oauth  string
		words  string
	}{
		"no subject token":   {with(exchangeForm(good), "subject_token", ""), 400, "invalid_request", "subject_token is required"},
		"access token type":  {with(exchangeForm(good), "subject_token_type", tokenTypeAccessToken), 400, "invalid_request", "subject_token_type"},
		"delegation":         {with(exchangeForm(good), "actor_token", good), 400, "invalid_request", "actor_token"},
		"refresh token back": {with(exchangeForm(good), "requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token"), 400, "invalid_request", "requested_token_type"},
		"unknown service":    {with(exchangeForm(good), "service", "nope"), 400, "invalid_request", "unknown service"},
		"expired": {exchangeForm(iss.Sign(oidctest.GitHubClaims(testAudience, "acme/app", "refs/heads/main", now.Add(-time.Hour)))),
			400, "invalid_grant", "expired at"},
		"other audience": {exchangeForm(iss.Sign(oidctest.GitHubClaims("https://elsewhere", "acme/app", "refs/heads/main", now))),
			400, "invalid_grant", "audience"},
		"no rule": {exchangeForm(iss.Sign(oidctest.GitHubClaims(testAudience, "evil/app", "refs/heads/main", now))),
			400, "invalid_grant", "matches no rule"},
		"not a token": {exchangeForm("hunter2"), 400, "invalid_grant", "not a signed JWT"},
	} {
		t.Run(name, func(t *testing.T) {
			res := postForm(t, h, c.form)
			wantOAuthError(t, res, c.status, c.oauth)
			if d, _ := res.body["error_description"].(string); !strings.Contains(d, c.words) {
				t.Errorf("error_description %q, want %q", d, c.words)
			}
		})
	}
	// With refresh tokens off, the other grants still answer 404 so that
	// containerd falls back to GET.
	if res := postForm(t, h, passwordForm("foo", "foo")); res.status != 404 {
		t.Errorf("password grant with refresh tokens off: %d %s", res.status, res.raw)
	}
}

func TestNoExchangeWithoutIssuers(t *testing.T) {
	h, _ := oauthHandler(t, nil)
	res := postForm(t, h, exchangeForm("eyJ.x.y"))
	wantOAuthError(t, res, 400, "invalid_request")
}
