//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
	"github.com/regtoken/regtoken/pkg/oidc/oidctest"
)

// Every flow — right and wrong passwords, unknown users, refresh tokens
// issued, used, forged and revoked, access tokens misused as refresh tokens,
// robots with right and wrong secrets, ID tokens good, refused, expired and
// exchanged, throttling, malformed requests, a reload and a broken reload —
// and then not one log line, error body or metric may contain a password, a
// bcrypt hash, a robot's secret or hash, or a token.
func TestSecretsNeverLeave(t *testing.T) {
	t.Parallel()
	iss := oidctest.New(false)
	defer iss.Close()
	d := startDirect(t, usersJSON(`{"some-image": ["pull", "push"]}`), fmt.Sprintf(`
[robots]
file = "robots.json"
[[oidc]]
name = "ci"
issuer = %q
audience = %q
  [[oidc.rules]]
  claims = { repository_owner = "acme" }
  repositories = { "${repository:path}/**" = ["pull", "push"] }
`, iss.URL, machineAudience))
	// The demo passwords ("foo", "bar") are too short to search for; carol's are long.
	const (
		longPassword  = "correct-horse-battery-staple-1"
		wrongPassword = "wrong-horse-battery-staple-2"
	)
	// A user with a long password, so its appearance anywhere is unambiguous.
	users := usersJSON(`{"some-image": ["pull", "push"]}`)
	users = strings.Replace(users, "{\n", "{\n  \"carol\": {\"pass_hash\": \""+hashOf(t, longPassword)+"\", \"repositories\": {\"*\": [\"pull\"]}},\n", 1)
	harness.WriteFile(t, d.users, users, 0o644)
	// Wait for the reload itself: polling with carol's password before it
	// lands would fail logins and get carol's address throttled.
	eventually(t, "carol added", func() bool { return strings.Contains(d.proc.Output(), "configuration reloaded") })
	secrets := []string{longPassword, wrongPassword, hashFoo, hashBar, hashOf(t, longPassword)[7:]}
	// Machines: a robot's secret and its hash, ID tokens good and bad.
	robotSecret, errOut, ok := regtokenCLI(t, "robot", "create", "ci-robot", "-repo", "some-image=pull", "-file", filepath.Join(d.dir, "robots.json"))
	if !ok {
		t.Fatalf("robot create: %s", errOut)
	}
	robotSecret = strings.TrimSpace(robotSecret)
	robotsFile, _ := os.ReadFile(filepath.Join(d.dir, "robots.json"))
	_, robotHash, _ := strings.Cut(string(robotsFile), `"secret_hash": "sha256$`)
	robotHash, _, _ = strings.Cut(robotHash, `"`)
	idToken := iss.Sign(oidctest.GitHubClaims(machineAudience, "acme/app", "refs/heads/main", time.Now()))
	strangerToken := iss.Sign(oidctest.GitHubClaims(machineAudience, "evil/app", "refs/heads/main", time.Now()))
	expiredToken := iss.Sign(oidctest.GitHubClaims(machineAudience, "acme/app", "refs/heads/main", time.Now().Add(-time.Hour)))
	secrets = append(secrets, robotSecret, robotHash, idToken, strangerToken, expiredToken)
	for _, tok := range []string{idToken, strangerToken, expiredToken} {
		secrets = append(secrets, strings.Split(tok, ".")[2])
	}
	eventually(t, "robot added", func() bool { return strings.Count(d.proc.Output(), "configuration reloaded") >= 2 })

	var bodies []string // every non-200 body
	var tokens []string // every token handed out
	send := func(method, query string, form url.Values, user, pass string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, d.base+"?"+query, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if user != "" || pass != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			bodies = append(bodies, string(b))
			return
		}
		var r map[string]any
		json.Unmarshal(b, &r)
		for _, k := range []string{"token", "access_token", "refresh_token"} {
			if s, ok := r[k].(string); ok && s != "" {
				tokens = append(tokens, s)
			}
		}
	}
	q := "service=Authentication&scope=repository:some-image:pull"
	send("GET", q, nil, "carol", longPassword)
	send("GET", q, nil, "carol", wrongPassword)
	send("GET", q, nil, "nobody", longPassword)
	send("GET", q+"&offline_token=true&client_id=docker", nil, "carol", longPassword)
	refresh := tokens[len(tokens)-1]
	post := func(f url.Values) { send("POST", "", f, "", "") }
	post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "service": {"Authentication"}, "client_id": {"t"}, "scope": {"repository:some-image:pull"}})
	post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh + "x"}, "service": {"Authentication"}, "client_id": {"t"}})
	post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens[0]}, "service": {"Authentication"}, "client_id": {"t"}})
	post(url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {longPassword}, "service": {"Authentication"}, "client_id": {"t"}, "access_type": {"offline"}})
	post(url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {wrongPassword}, "service": {"Authentication"}, "client_id": {"t"}})
	post(url.Values{"grant_type": {"implicit"}, "password": {longPassword}, "service": {"Authentication"}, "client_id": {"t"}})
	send("GET", q, nil, "", refresh) // containerd's GET fallback with an identity token
	send("GET", "service=Authentication&scope=repository:BAD:pull", nil, "carol", longPassword)
	send("GET", q, nil, "ci-robot", robotSecret)
	send("GET", q, nil, "ci-robot", robotSecret+"x")
	send("GET", q, nil, "github-actions", idToken)
	send("GET", q, nil, "github-actions", strangerToken)
	send("GET", q, nil, "github-actions", expiredToken)
	exchange := func(subject string) url.Values {
		return url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {subject},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"}, "service": {"Authentication"}}
	}
	post(exchange(idToken))
	post(exchange(expiredToken))
	post(exchange(strangerToken + "x"))
	send("GET", "service=nope", nil, "carol", longPassword)
	for range 8 { // into the throttle
		send("GET", q, nil, "carol", wrongPassword)
	}
	// Revoke by changing carol's hash, then use the old refresh token.
	harness.WriteFile(t, d.users, strings.Replace(users, hashOf(t, longPassword), hashFoo, 1), 0o644)
	time.Sleep(1500 * time.Millisecond)
	post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "service": {"Authentication"}, "client_id": {"t"}})
	// A broken edit, logged with file and line.
	harness.WriteFile(t, d.users, "{\"carol\": {\"pass_hash\": \""+hashFoo+"\", \n", 0o644)
	eventually(t, "broken reload reported", func() bool { return strings.Contains(d.get(t, "/healthz"), "degraded") })

	if len(tokens) < 7 || len(bodies) < 15 {
		t.Fatalf("the flows did not run as planned: %d tokens, %d error bodies", len(tokens), len(bodies))
	}
	for _, tok := range tokens {
		secrets = append(secrets, tok, strings.Split(tok, ".")[2]) // the whole token and its signature
	}
	time.Sleep(auditFlushWait) // every audit line is in the log
	places := map[string]string{
		"the process log": d.proc.Output(),
		"error bodies":    strings.Join(bodies, "\n"),
		"/metrics":        d.get(t, "/metrics"),
		"/healthz":        d.get(t, "/healthz"),
	}
	for where, text := range places {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("%s contains a secret (%.12s…)", where, s)
			}
		}
	}
	if !strings.Contains(places["the process log"], `grant_type=refresh_token`) { // the audit line, text like the rest
		t.Error("the audit log does not show the refresh grant, so the flows were not all logged")
	}
}
