//go:build e2e

package e2e

import (
	"encoding/base64"
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

	"golang.org/x/crypto/bcrypt"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// oauthUsers is testdata/demo/users.json with bar's hash replaceable, so a
// test can change bar's password hash the way an operator would.
const oauthUsers = `{
    "foo": {
        "pass_hash": "$2b$12$U3Q7N86k1wyKne5htdiK/un14evu0lj6vOOqCrZuZTnRr5YFKYvF.",
        "repositories": {"some-image": ["pull"]}
    },
    "bar": {
        "pass_hash": %q,
        "repositories": {"*": ["pull", "push"]}
    }
}`

const oauthBarHash = "$2b$12$XSDcmMOl1S.i4vhRXcKoeeCRWQkNRiLblpMtmVC3Io0hT3WMWZsaq"

// oauthStack starts nginx, regtoken (audit log on) and a registry, with a
// private copy of the demo users.json whose path it returns.
func oauthStack(t *testing.T, version string) (*harness.Stack, string) {
	t.Helper()
	users := filepath.Join(harness.ShortDir(t), "users.json")
	harness.WriteFile(t, users, fmt.Sprintf(oauthUsers, oauthBarHash), 0o644)
	s := harness.StartStack(t, harness.StackOptions{Registry: version, Users: users, ExtraConfig: "[log]\naudit = true\nformat = \"json\"\n"})
	return s, users
}

// oauthChangeBarHash gives bar a new hash of the same password "bar", as
// `regtoken hash` would print after a password reset.
func oauthChangeBarHash(t *testing.T, s *harness.Stack, users string) {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte("bar"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	s.Reconfigure(t, users, fmt.Sprintf(oauthUsers, string(h)))
}

var oauthHTTP = &http.Client{Timeout: 30 * time.Second}

// oauthAnswer is a token endpoint answer: status and decoded JSON body.
type oauthAnswer struct {
	status int
	body   map[string]any
	raw    string
}

func (a oauthAnswer) str(key string) string { s, _ := a.body[key].(string); return s }

func oauthReadAnswer(t *testing.T, resp *http.Response, err error) oauthAnswer {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := oauthAnswer{status: resp.StatusCode, raw: string(b)}
	if err := json.Unmarshal(b, &a.body); err != nil {
		t.Fatalf("token endpoint answered %d with non-JSON %q", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("token endpoint Content-Type %q", ct)
	}
	return a
}

// oauthGet sends GET realm?query with Basic user:pass (none when both are empty).
func oauthGet(t *testing.T, s *harness.Stack, query url.Values, user, pass string) oauthAnswer {
	t.Helper()
	query.Set("service", s.Service)
	req, _ := http.NewRequest("GET", s.Realm+"?"+query.Encode(), nil)
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := oauthHTTP.Do(req)
	return oauthReadAnswer(t, resp, err)
}

// oauthPost sends the OAuth2 POST form.
func oauthPost(t *testing.T, s *harness.Stack, form url.Values) oauthAnswer {
	t.Helper()
	form.Set("service", s.Service)
	resp, err := oauthHTTP.PostForm(s.Realm, form)
	return oauthReadAnswer(t, resp, err)
}

// oauthDockerLogin asks for a token the way `docker login` does and returns the
// refresh token (what docker stores as identitytoken).
func oauthDockerLogin(t *testing.T, s *harness.Stack, user, pass string) string {
	t.Helper()
	a := oauthGet(t, s, url.Values{"account": {user}, "client_id": {"docker"}, "offline_token": {"true"}}, user, pass)
	if a.status != 200 || a.str("refresh_token") == "" || a.str("access_token") == "" {
		t.Fatalf("docker-login-style GET: %d %s", a.status, a.raw)
	}
	return a.str("refresh_token")
}

func oauthRefreshGrant(t *testing.T, s *harness.Stack, rt, clientID string, scopes ...string) oauthAnswer {
	t.Helper()
	return oauthPost(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt},
		"client_id": {clientID}, "scope": {strings.Join(scopes, " ")}})
}

// oauthRegistryStatus sends GET path to the registry behind nginx with a bearer token.
func oauthRegistryStatus(t *testing.T, s *harness.Stack, path, bearer string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+s.Host+path, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := oauthHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// auditFlushWait covers regtoken's audit buffer, flushed every 100 ms
// (cmd/regtoken serve), with room for a busy machine.
const auditFlushWait = 300 * time.Millisecond

// oauthAuditLines returns regtoken's audit lines for the requests answered so
// far. The audit log is buffered, so it first waits for the flush: reading
// too early once made a test count from before a client's requests were seen.
func oauthAuditLines(t *testing.T, s *harness.Stack) []map[string]any {
	t.Helper()
	time.Sleep(auditFlushWait)
	var lines []map[string]any
	for _, l := range strings.Split(s.Regtoken.Output(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["log"] == "audit" {
			lines = append(lines, m)
		}
	}
	return lines
}

// oauthRefreshesSeen counts successful POST refresh_token grants in the audit
// log since line `from`, by users, proving a client took the OAuth2 path.
func oauthRefreshesSeen(t *testing.T, s *harness.Stack, from int, user string) int {
	t.Helper()
	n := 0
	for _, m := range oauthAuditLines(t, s)[from:] {
		if m["method"] == "POST" && m["grant_type"] == "refresh_token" && m["status"] == float64(200) && m["user"] == user {
			n++
		}
	}
	return n
}

// oauthWaitRevoked polls the refresh grant until regtoken (which reloads users.json
// on change) refuses rt, for at most 5 s.
func oauthWaitRevoked(t *testing.T, s *harness.Stack, rt string) oauthAnswer {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		a := oauthRefreshGrant(t, s, rt, "docker")
		if a.status != 200 || time.Now().After(deadline) {
			return a
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestOAuthRefreshTokens: a refresh token from a docker-login-style GET lets
// crane and skopeo push and pull through the OAuth2 POST, containerd's POST
// password grant works, a refresh token is no bearer token for the registry
// nor an access token a refresh token, and changing the password hash in
// users.json revokes the refresh token at once.
func TestOAuthRefreshTokens(t *testing.T) {
	for _, version := range []string{harness.Registry28, harness.Registry3} {
		t.Run("registry "+version, func(t *testing.T) {
			t.Parallel()
			s, users := oauthStack(t, version)
			rt := oauthDockerLogin(t, s, "bar", "bar")

			t.Run("crane with identitytoken", func(t *testing.T) {
				s.StoreIdentityToken(t, "bar", rt)
				from := len(oauthAuditLines(t, s))
				if out, ok := cranePush(t, s, "some-image:oauth"); !ok {
					t.Fatalf("crane push with identity token: %s", out)
				}
				if out, ok := crane(t, s, "pull", s.Host+"/some-image:oauth", filepath.Join(s.Dir, "oauth.tar")); !ok {
					t.Fatalf("crane pull with identity token: %s", out)
				}
				if oauthRefreshesSeen(t, s, from, "bar") == 0 {
					t.Errorf("crane never used the POST refresh_token grant; audit: %v", oauthAuditLines(t, s)[from:])
				}
			})

			t.Run("skopeo with identitytoken", func(t *testing.T) {
				s.StoreIdentityToken(t, "bar", rt)
				from := len(oauthAuditLines(t, s))
				src, dst := "docker://"+s.Host+"/some-image:oauth", "docker://"+s.Host+"/skopeo/copy:v1"
				if out, ok := run(t, s, "skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false", src, dst); !ok {
					t.Fatalf("skopeo copy (pull and push) with identity token: %s", out)
				}
				if out, ok := run(t, s, "skopeo", "inspect", "--tls-verify=false", dst); !ok {
					t.Fatalf("skopeo inspect with identity token: %s", out)
				}
				if oauthRefreshesSeen(t, s, from, "bar") == 0 {
					t.Errorf("skopeo never used the POST refresh_token grant")
				}
			})

			t.Run("containerd password grant", func(t *testing.T) {
				a := oauthPost(t, s, url.Values{"grant_type": {"password"}, "username": {"bar"}, "password": {"bar"},
					"client_id": {"containerd-client"}, "scope": {"repository:some-image:pull repository:skopeo/copy:pull,push"}})
				if a.status != 200 || a.str("access_token") == "" || a.body["expires_in"] == nil || a.str("issued_at") == "" {
					t.Fatalf("POST password grant: %d %s", a.status, a.raw)
				}
				if a.str("scope") != "repository:some-image:pull repository:skopeo/copy:pull,push" {
					t.Errorf("scope %q", a.str("scope"))
				}
				if code := oauthRegistryStatus(t, s, "/v2/some-image/tags/list", a.str("access_token")); code != 200 {
					t.Errorf("registry refused the POST-issued access token: %d", code)
				}
				bad := oauthPost(t, s, url.Values{"grant_type": {"password"}, "username": {"bar"}, "password": {"wrong"},
					"client_id": {"containerd-client"}})
				if bad.status != 401 || bad.str("error") != "invalid_grant" {
					t.Errorf("wrong password on POST: %d %s", bad.status, bad.raw)
				}
			})

			t.Run("containerd GET fallback with identity token", func(t *testing.T) {
				// containerd retries a failed POST as GET with Basic base64(":"+token).
				a := oauthGet(t, s, url.Values{"scope": {"repository:some-image:pull"}}, "", rt)
				if a.status != 200 || a.str("access_token") == "" {
					t.Fatalf("GET with an identity token: %d %s", a.status, a.raw)
				}
				if code := oauthRegistryStatus(t, s, "/v2/some-image/tags/list", a.str("access_token")); code != 200 {
					t.Errorf("registry refused the access token: %d", code)
				}
			})

			t.Run("token type confusion", func(t *testing.T) {
				for _, path := range []string{"/v2/", "/v2/some-image/tags/list"} {
					if code := oauthRegistryStatus(t, s, path, rt); code != 401 {
						t.Errorf("registry %s accepted a refresh token as bearer for %s: %d", version, path, code)
					}
				}
				at := oauthRefreshGrant(t, s, rt, "go-containerregistry", "repository:some-image:pull").str("access_token")
				if code := oauthRegistryStatus(t, s, "/v2/some-image/tags/list", at); code != 200 {
					t.Fatalf("the access token itself is good: %d", code)
				}
				if a := oauthRefreshGrant(t, s, at, "docker"); a.status != 401 || a.str("error") != "invalid_grant" {
					t.Errorf("access token accepted as refresh token: %d %s", a.status, a.raw)
				}
			})

			t.Run("revoked by password hash change", func(t *testing.T) {
				oauthChangeBarHash(t, s, users)
				if a := oauthWaitRevoked(t, s, rt); a.status != 401 || a.str("error") != "invalid_grant" {
					t.Fatalf("refresh token still accepted 5 s after the hash changed: %d %s", a.status, a.raw)
				}
				s.StoreIdentityToken(t, "bar", rt)
				if out, ok := crane(t, s, "pull", s.Host+"/some-image:oauth", filepath.Join(s.Dir, "revoked.tar")); ok || !refused(out) {
					t.Errorf("crane with a revoked identity token must be refused; ok=%v: %s", ok, out)
				}
				fresh := oauthDockerLogin(t, s, "bar", "bar")
				s.StoreIdentityToken(t, "bar", fresh)
				if out, ok := crane(t, s, "pull", s.Host+"/some-image:oauth", filepath.Join(s.Dir, "fresh.tar")); !ok {
					t.Errorf("crane after a fresh login: %s", out)
				}
			})
		})
	}
}

// TestOAuthDockerEngine: `docker login` stores an identity token, not the
// password, and docker push and pull then work through the refresh grant;
// after the password hash changes, the stored token is refused and a new
// login works.
func TestOAuthDockerEngine(t *testing.T) {
	if _, whyNot := harness.DockerEngine(t); whyNot != "" {
		t.Logf("NOT RUN: no Docker engine (%s); docker login/push/pull with identity tokens was not tested", whyNot)
		return
	}
	for _, version := range []string{harness.Registry28, harness.Registry3} {
		t.Run("registry "+version, func(t *testing.T) {
			t.Parallel()
			s, users := oauthStack(t, version)
			ref := fmt.Sprintf("%s/dockertest/app:%d", s.Host, time.Now().UnixNano())
			t.Cleanup(func() { run(t, s, "docker", "rmi", "-f", ref) })

			if out, ok := run(t, s, "docker", "login", s.Host, "-u", "bar", "-p", "bar"); !ok {
				t.Fatalf("docker login: %s", out)
			}
			rt := oauthStoredIdentityToken(t, s, "bar")

			from := len(oauthAuditLines(t, s))
			if out, ok := run(t, s, "docker", "import", layer(t, s.Dir, "docker"), ref); !ok {
				t.Fatalf("docker import: %s", out)
			}
			if out, ok := run(t, s, "docker", "push", ref); !ok {
				t.Fatalf("docker push with identity token: %s", out)
			}
			if out, ok := run(t, s, "docker", "rmi", ref); !ok {
				t.Fatalf("docker rmi: %s", out)
			}
			if out, ok := run(t, s, "docker", "pull", ref); !ok {
				t.Fatalf("docker pull with identity token: %s", out)
			}
			if oauthRefreshesSeen(t, s, from, "bar") == 0 {
				t.Errorf("docker never used the POST refresh_token grant; audit: %v", oauthAuditLines(t, s)[from:])
			}

			oauthChangeBarHash(t, s, users)
			if a := oauthWaitRevoked(t, s, rt); a.status != 401 {
				t.Fatalf("identity token still accepted 5 s after the hash changed: %d %s", a.status, a.raw)
			}
			run(t, s, "docker", "rmi", ref)
			if out, ok := run(t, s, "docker", "pull", ref); ok || !refused(out) {
				t.Errorf("docker pull with a revoked identity token must be refused; ok=%v: %s", ok, out)
			}
			if out, ok := run(t, s, "docker", "login", s.Host, "-u", "bar", "-p", "bar"); !ok {
				t.Fatalf("docker login after revocation: %s", out)
			}
			if fresh := oauthStoredIdentityToken(t, s, "bar"); fresh == rt {
				t.Error("docker login after revocation stored the old token")
			}
			if out, ok := run(t, s, "docker", "pull", ref); !ok {
				t.Errorf("docker pull after a fresh login: %s", out)
			}
		})
	}
}

// oauthStoredIdentityToken reads what docker login left in config.json: an
// identitytoken, and no password (auth is "user:" at most).
func oauthStoredIdentityToken(t *testing.T, s *harness.Stack, user string) string {
	t.Helper()
	b, err := os.ReadFile(s.DockerConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Auths map[string]struct {
			Auth          string `json:"auth"`
			IdentityToken string `json:"identitytoken"`
		} `json:"auths"`
		CredsStore string `json:"credsStore"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("config.json: %v", err)
	}
	entry, ok := cfg.Auths[s.Host]
	if !ok || entry.IdentityToken == "" {
		t.Fatalf("docker login stored no identitytoken for %s (credsStore %q): %s", s.Host, cfg.CredsStore, b)
	}
	if entry.Auth != "" {
		decoded, _ := base64.StdEncoding.DecodeString(entry.Auth)
		if string(decoded) != user+":" {
			t.Errorf("config.json auth holds more than the user name: %q", decoded)
		}
	}
	if strings.Contains(string(b), `"password"`) || strings.Contains(string(b), base64.StdEncoding.EncodeToString([]byte(user+":bar"))) {
		t.Errorf("config.json holds the password: %s", b)
	}
	return entry.IdentityToken
}
