//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// curlSuite is real curl: the original README's two examples, verbatim but
// for the host, and the request shapes no image client produces on its own
// (an account parameter that is not the Basic user) or that the suite wants
// pinned exactly (repeated and space-separated scopes).
func curlSuite() confClientSuite {
	const imageClients = "image transfer is the image clients' part; curl covers the token endpoint and the README examples"
	return confClientSuite{
		name: "curl",
		unsupported: map[string]string{
			"push":           imageClients,
			"pull":           imageClients,
			"tags-list":      imageClients + " (README curl: tags/list is its own row)",
			"manifest-head":  imageClients,
			"nested-name":    imageClients,
			"anonymous-pull": imageClients + " (README curl: tags/list reads some-image anonymously)",
			"mount":          imageClients,
			"mount-refused":  imageClients,
			"delete":         imageClients,
			"delete-star":    imageClients,
			"delete-refused": imageClients,
		},
		unsupportedOn: map[string]map[string]string{harness.RegistryZot: {
			"readme-catalog": "the original README's catalog example asks registry:catalog:*, distribution's " +
				"scope; zot's catalog wants repository::pull (the catalog rows)",
		}},
		steps: map[string]func(*testing.T, *confStack){
			"login":             curlLoginFlow,
			"repeated-scope":    curlRepeatedScopeFlow,
			"space-scope":       curlSpaceScopeFlow,
			"account-differs":   curlAccountFlow,
			"catalog":           curlCatalogFlow,
			"catalog-anonymous": curlCatalogAnonymousFlow,
			"readme-tags":       curlReadmeTagsFlow,
			"readme-catalog":    curlReadmeCatalogFlow,
			"wrong-password":    func(t *testing.T, c *confStack) { curlBadCredentials(t, c, "alice:wrong") },
			"unknown-user":      func(t *testing.T, c *confStack) { curlBadCredentials(t, c, "mallory:mallory") },
			"no-credentials":    curlNoCredentialsFlow,
		},
	}
}

// The original README's examples, character for character; only
// https://example.org becomes the stack's http://localhost:PORT.
const (
	confReadmeCatalog = `TOKEN=$(curl -s -X GET https://example.org/v2/token\?account\=anon\&service\=Authentication\&scope\=registry:catalog:\* | jq -r '.token')
curl -H "Authorization: Bearer $TOKEN" https://example.org/v2/_catalog`
	confReadmeTags = `TOKEN=$(curl -s -X GET https://example.org/v2/token\?account\=anon\&service\=Authentication\&scope\=repository:some-image:pull | jq -r '.token')
curl -H "Authorization: Bearer $TOKEN" https://example.org/v2/some-image/tags/list`
)

// confReadme runs one README example with bash and returns what it printed.
func confReadme(t *testing.T, c *confStack, example string) string {
	t.Helper()
	harness.Tool(t, "jq")
	harness.Tool(t, "curl")
	script := strings.ReplaceAll(example, "https://example.org", "http://"+c.s.Host)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Env = c.s.Env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // curl's progress meter: the README's second curl has no -s
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the README example failed: %v\n%s%s", err, out, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// confCurl makes one request with curl and returns the body and status.
func confCurl(t *testing.T, c *confStack, args ...string) (string, int) {
	t.Helper()
	harness.Tool(t, "curl")
	out, ok := run(t, c.s, "curl", append([]string{"-s", "-w", "\n%{http_code}"}, args...)...)
	if !ok {
		t.Fatalf("curl %v: %s", args, out)
	}
	i := strings.LastIndex(out, "\n")
	status, err := strconv.Atoi(out[i+1:])
	if err != nil {
		t.Fatalf("curl %v: no status in %q", args, out)
	}
	return out[:i], status
}

// tokenURL is the realm with service and the given raw query appended.
func (c *confStack) tokenURL(query string) string {
	return c.s.Realm + "?service=Authentication" + query
}

// confClaims is what the tests read from a token: who it is for and what it
// grants, one entry per requested resource.
type confClaims struct {
	Sub    string `json:"sub"`
	Access []struct {
		Type    string   `json:"type"`
		Name    string   `json:"name"`
		Actions []string `json:"actions"`
	} `json:"access"`
}

// grants renders the access claim as "type:name:a,b" strings.
func (cl confClaims) grants() []string {
	var out []string
	for _, a := range cl.Access {
		out = append(out, a.Type+":"+a.Name+":"+strings.Join(a.Actions, ","))
	}
	return out
}

// confToken fetches a token with curl (creds "" for anonymous) and decodes
// its claims; the JWT itself is only used, never logged.
func confToken(t *testing.T, c *confStack, creds, query string) (string, confClaims) {
	t.Helper()
	args := []string{c.tokenURL(query)}
	if creds != "" {
		args = append([]string{"-u", creds}, args...)
	}
	body, status := confCurl(t, c, args...)
	if status != 200 {
		t.Fatalf("token request %s answered %d: %s", query, status, body)
	}
	var resp struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil || resp.Token == "" || resp.Token != resp.AccessToken {
		t.Fatalf("token response is not {token, access_token} with one JWT (err %v): %.200s", err, body)
	}
	parts := strings.Split(resp.Token, ".")
	if len(parts) != 3 {
		t.Fatalf("the token is not a compact JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("token payload: %v", err)
	}
	var cl confClaims
	if err := json.Unmarshal(payload, &cl); err != nil {
		t.Fatalf("token claims: %v", err)
	}
	return resp.Token, cl
}

// registryGet sends a GET to the registry with a bearer token.
func (c *confStack) registryGet(t *testing.T, path, token string) (string, int) {
	t.Helper()
	return confCurl(t, c, "-H", "Authorization: Bearer "+token, "http://"+c.s.Host+path)
}

func confRequireGrants(t *testing.T, cl confClaims, want ...string) {
	t.Helper()
	if got := cl.grants(); !slices.Equal(got, want) {
		t.Errorf("token grants %q, want %q", got, want)
	}
}

func curlLoginFlow(t *testing.T, c *confStack) {
	token, cl := confToken(t, c, "alice:alice", "")
	if cl.Sub != "alice" || len(cl.Access) != 0 {
		t.Errorf("login token: sub %q access %q; want alice and nothing", cl.Sub, cl.grants())
	}
	if body, status := c.registryGet(t, "/v2/", token); status != 200 {
		t.Errorf("GET /v2/ with the login token: %d %s", status, body)
	}
}

const (
	confScopeCrane  = "repository:" + confCraneRepo + ":pull"
	confScopePublic = "repository:some-image:pull"
	confScopeBob    = "repository:bob/x:pull"
)

// curlRepeatedScopeFlow: each requested scope gets its own decision; the one alice may not have
// (bob/x) is granted nothing, without failing the request.
func curlRepeatedScopeFlow(t *testing.T, c *confStack) {
	query := "&scope=" + url.QueryEscape(confScopeCrane) + "&scope=" + url.QueryEscape(confScopePublic) + "&scope=" + url.QueryEscape(confScopeBob)
	curlScopes(t, c, query)
}

func curlSpaceScopeFlow(t *testing.T, c *confStack) {
	curlScopes(t, c, "&scope="+url.QueryEscape(confScopeCrane+" "+confScopePublic+" "+confScopeBob))
}

func curlScopes(t *testing.T, c *confStack, query string) {
	token, cl := confToken(t, c, "alice:alice", query)
	confRequireGrants(t, cl, confScopeCrane, confScopePublic, "repository:bob/x:")
	if body, status := c.registryGet(t, "/v2/"+confCraneRepo+"/tags/list", token); status != 200 {
		t.Errorf("tags/list with the token: %d %s", status, body)
	}
	if body, status := c.registryGet(t, "/v2/some-image/tags/list", token); status != 200 {
		t.Errorf("tags/list of some-image with the token: %d %s", status, body)
	}
}

// curlAccountFlow: the identity is the Basic-auth user; account is a hint
// (docker and skopeo send it) and must not change who the token is for.
func curlAccountFlow(t *testing.T, c *confStack) {
	scope := "&scope=" + url.QueryEscape("repository:"+confCraneRepo+":push,pull")
	_, cl := confToken(t, c, "foo:foo", "&account=bar"+scope)
	if cl.Sub != "foo" {
		t.Errorf("foo asking with account=bar got a token for %q", cl.Sub)
	}
	confRequireGrants(t, cl, "repository:"+confCraneRepo+":")
	_, cl = confToken(t, c, "bar:bar", "&account=foo"+scope)
	if cl.Sub != "bar" {
		t.Errorf("bar asking with account=foo got a token for %q", cl.Sub)
	}
	confRequireGrants(t, cl, "repository:"+confCraneRepo+":push,pull")
}

// curlCatalogFlow asks distribution's catalog scope, and on zot zot's too
// (repository::pull, the scope its challenge names) in the same request:
// each gets its own grant.
func curlCatalogFlow(t *testing.T, c *confStack) {
	if c.onZot() {
		token, cl := confToken(t, c, "alice:alice", "&scope="+url.QueryEscape("registry:catalog:*")+"&scope="+url.QueryEscape("repository::pull"))
		confRequireGrants(t, cl, "registry:catalog:*", "repository::pull")
		if body, status := c.registryGet(t, "/v2/_catalog", token); status != 200 || !strings.Contains(body, `"`+confCraneRepo+`"`) {
			t.Errorf("_catalog as alice: %d %s", status, body)
		}
		return
	}
	token, cl := confToken(t, c, "alice:alice", "&scope="+url.QueryEscape("registry:catalog:*"))
	confRequireGrants(t, cl, "registry:catalog:*")
	body, status := c.registryGet(t, "/v2/_catalog", token)
	if status != 200 || !strings.Contains(body, `"`+confCraneRepo+`"`) {
		t.Errorf("_catalog as alice: %d %s", status, body)
	}
}

// curlCatalogAnonymousFlow runs the README's catalog example as shipped,
// before anonymous_catalog is turned on: the token endpoint answers 200 with
// an empty grant, and the registry refuses the catalog.
func curlCatalogAnonymousFlow(t *testing.T, c *confStack) {
	if c.onZot() {
		token, cl := confToken(t, c, "", "&scope="+url.QueryEscape("repository::pull"))
		confRequireGrants(t, cl, "repository::")
		if body, status := c.registryGet(t, "/v2/_catalog", token); status != 401 || !strings.Contains(body, `"UNAUTHORIZED"`) {
			t.Errorf("_catalog with an anonymous token: %d %s; want zot's 401 UNAUTHORIZED", status, body)
		}
		return
	}
	out := confReadme(t, c, confReadmeCatalog)
	if !strings.Contains(out, `"code":"UNAUTHORIZED"`) || strings.Contains(out, `"repositories"`) {
		t.Errorf("the README catalog example without anonymous_catalog printed %s; want the registry's UNAUTHORIZED", out)
	}
}

// curlReadmeTagsFlow: anonymous pull of some-image comes from
// repositories.json's whitelist, as in the original.
func curlReadmeTagsFlow(t *testing.T, c *confStack) {
	if out := confReadme(t, c, confReadmeTags); out != `{"name":"some-image","tags":["latest"]}` {
		t.Errorf("the README tags/list example printed %s", out)
	}
}

// curlReadmeCatalogFlow turns on anonymous_catalog (the grant the original
// gave everyone) with a reload, and runs the README's catalog example.
func curlReadmeCatalogFlow(t *testing.T, c *confStack) {
	c.enableAnonymousCatalog(t)
	out := confReadme(t, c, confReadmeCatalog)
	var catalog struct {
		Repositories []string `json:"repositories"`
	}
	if err := json.Unmarshal([]byte(out), &catalog); err != nil || !slices.Contains(catalog.Repositories, "some-image") {
		t.Errorf("the README catalog example printed %s; want a catalog with some-image", out)
	}
}

// enableAnonymousCatalog adds anonymous_catalog = true to [acl], sends
// regtoken SIGHUP, and waits until anonymous catalog tokens carry the grant.
func (c *confStack) enableAnonymousCatalog(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(c.s.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(b), "[acl]\n", "[acl]\nanonymous_catalog = true\n", 1)
	if conf == string(b) {
		t.Fatalf("no [acl] table in %s", c.s.ConfigPath)
	}
	c.s.Reconfigure(t, c.s.ConfigPath, conf)
	if err := c.s.Regtoken.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("SIGHUP regtoken: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, cl := confToken(t, c, "", "&scope="+url.QueryEscape("registry:catalog:*")); len(cl.Access) == 1 && len(cl.Access[0].Actions) > 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("anonymous_catalog = true was not in effect 10s after SIGHUP")
}

// curlBadCredentials: a 401 whose errcode body every client prints, with the
// same message for a wrong password and an unknown user.
func curlBadCredentials(t *testing.T, c *confStack, creds string) {
	body, status := confCurl(t, c, "-u", creds, c.tokenURL("&scope="+url.QueryEscape(confScopeCrane)))
	if status != 401 {
		t.Errorf("bad credentials answered %d, want 401: %s", status, body)
	}
	var e struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || len(e.Errors) != 1 ||
		e.Errors[0].Code != "UNAUTHORIZED" || e.Errors[0].Message != "incorrect username or password" {
		t.Errorf("bad credentials body %s; want one UNAUTHORIZED \"incorrect username or password\"", body)
	}
}

// curlNoCredentialsFlow: anonymous asking for a private repository is not an
// error at the token endpoint (an empty grant); the registry refuses.
func curlNoCredentialsFlow(t *testing.T, c *confStack) {
	token, cl := confToken(t, c, "", "&scope="+url.QueryEscape(confScopeCrane))
	confRequireGrants(t, cl, "repository:"+confCraneRepo+":")
	body, status := c.registryGet(t, "/v2/"+confCraneRepo+"/tags/list", token)
	if status != 401 || !strings.Contains(body, "authentication required") {
		t.Errorf("tags/list with an anonymous token: %d %s; want 401 authentication required", status, body)
	}
}
