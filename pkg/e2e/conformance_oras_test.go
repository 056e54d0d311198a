//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// orasSuite is oras (oras-go), which pushes and pulls OCI artifacts. Every
// command starts without a token: the first request goes out anonymous, the
// 401 challenge sends it to the token realm by GET with Basic auth, one scope
// parameter per scope (sorted, actions sorted: "pull,push", "delete,pull"),
// never an account parameter. With an identity token in config.json (oras
// login --identity-token-stdin, or docker login's refresh token) it asks by
// OAuth2 POST (grant_type=refresh_token), all scopes space-separated in one
// field. oras cp mounts blobs within one registry when source and
// destination get no credentials from flags, and copies again without
// mounting when a mount is refused.
func orasSuite() confClientSuite {
	return confClientSuite{
		name: "oras",
		unsupported: map[string]string{
			"account-differs": "oras never sends the account parameter (its login's token request carries only service, checked in the login row)",
			"readme-tags":     "a curl row (the original README's example)",
			"readme-catalog":  "a curl row (the original README's example)",
		},
		steps: map[string]func(*testing.T, *confStack){
			"login":             orasLoginFlow,
			"push":              orasPushFlow,
			"pull":              orasPullFlow,
			"tags-list":         orasTagsFlow,
			"manifest-head":     orasHeadFlow,
			"nested-name":       orasNestedFlow,
			"anonymous-pull":    orasAnonymousPullFlow,
			"mount":             func(t *testing.T, c *confStack) { orasMountFlow(t, c, "team/oras/mounted") },
			"repeated-scope":    func(t *testing.T, c *confStack) { orasMountFlow(t, c, "team/oras/mounted-again") },
			"mount-refused":     orasMountRefusedFlow,
			"space-scope":       orasSpaceScopeFlow,
			"delete":            func(t *testing.T, c *confStack) { orasDeleteFlow(t, c, "alice", "team/oras/del") },
			"delete-star":       func(t *testing.T, c *confStack) { orasDeleteFlow(t, c, "bob", "bob/oras-del") },
			"delete-refused":    orasDeleteRefusedFlow,
			"catalog":           orasCatalogFlow,
			"catalog-anonymous": orasCatalogAnonymousFlow,
			"wrong-password":    func(t *testing.T, c *confStack) { orasBadCredentials(t, c, "alice", "wrong") },
			"unknown-user":      func(t *testing.T, c *confStack) { orasBadCredentials(t, c, "mallory", "mallory") },
			"no-credentials":    orasNoCredentialsFlow,
		},
	}
}

const confOrasRepo = "team/oras/app"

// confOras runs oras in dir (where oras push finds its files) with the
// stack's private HOME and DOCKER_CONFIG, so it reads and writes credentials
// in the stack's $DOCKER_CONFIG/config.json; stdin feeds --password-stdin.
func confOras(t *testing.T, c *confStack, dir, stdin string, args ...string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, harness.Tool(t, "oras"), args...)
	cmd.Env = c.s.Env()
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// orasRef runs an oras command on the plain-HTTP registry (cobra takes the
// flag after the arguments too).
func orasRef(t *testing.T, c *confStack, args ...string) (string, bool) {
	t.Helper()
	return confOras(t, c, t.TempDir(), "", append(args, "--plain-http")...)
}

// orasLogin logs user in with the password on stdin; config "" is the
// stack's config.json, otherwise another credentials file.
func orasLogin(t *testing.T, c *confStack, config, user, pass string) (string, bool) {
	t.Helper()
	args := []string{"login", "--plain-http", "-u", user, "--password-stdin", c.s.Host}
	if config != "" {
		args = append(args, "--registry-config", config)
	}
	return confOras(t, c, t.TempDir(), pass+"\n", args...)
}

// orasContent is what orasPush puts in an artifact, so a pull can check it.
func orasContent(ref string) string { return "hello from oras, " + ref + "\n" }

// orasPush pushes a one-file artifact (hello.txt) to ref as the stored user.
func orasPush(t *testing.T, c *confStack, ref string) {
	t.Helper()
	dir := t.TempDir()
	harness.WriteFile(t, filepath.Join(dir, "hello.txt"), orasContent(ref), 0o644)
	out, ok := confOras(t, c, dir, "", "push", "--plain-http", c.ref(ref), "hello.txt")
	confMustPass(t, "oras push "+ref, out, ok)
}

// orasPull pulls ref and checks that hello.txt came back as pushed.
func orasPull(t *testing.T, c *confStack, ref string) {
	t.Helper()
	dir := t.TempDir()
	out, ok := confOras(t, c, dir, "", "pull", "--plain-http", c.ref(ref), "-o", "out")
	confMustPass(t, "oras pull "+ref, out, ok)
	b, err := os.ReadFile(filepath.Join(dir, "out", "hello.txt"))
	if err != nil || string(b) != orasContent(ref) {
		t.Errorf("oras pull %s wrote hello.txt %q (err %v), want %q", ref, b, err, orasContent(ref))
	}
}

func orasLoginFlow(t *testing.T, c *confStack) {
	c.as(t, "")
	w := c.watch(t, func() {
		out, ok := orasLogin(t, c, "", "alice", "alice")
		confMustPass(t, "oras login", out, ok)
		if !strings.Contains(out, "Login Succeeded") {
			t.Errorf("oras login printed %q", out)
		}
	})
	tok := w.requireToken(t, "from alice without scope", confByUser("alice", confScopesAre()))
	if q := tok.Query(); q.Has("account") || q.Has("offline_token") || q.Has("client_id") {
		t.Errorf("oras login's token request is %s; want only service", tok.URI)
	}
	w.require(t, "GET", "/v2/", 200, nil)
	// The credentials must land in the stack's private config, nowhere else.
	b, err := os.ReadFile(filepath.Join(c.s.Dir, "home", ".docker", "config.json"))
	if err != nil || !strings.Contains(string(b), `"`+c.s.Host+`"`) {
		t.Errorf("oras login did not store credentials for %s in the stack's config.json (err %v)", c.s.Host, err)
	}
	out, ok := confOras(t, c, t.TempDir(), "", "logout", c.s.Host)
	confMustPass(t, "oras logout", out, ok)
}

func orasPushFlow(t *testing.T, c *confStack) {
	c.as(t, "alice")
	w := c.watch(t, func() { orasPush(t, c, confOrasRepo+":v1") })
	w.requireToken(t, "from alice for pull,push", confByUser("alice", confScopesAre("repository:"+confOrasRepo+":pull,push")))
	w.require(t, "PUT", "/v2/"+confOrasRepo+"/manifests/v1", 201, nil)
}

func orasPullFlow(t *testing.T, c *confStack) {
	c.as(t, "alice")
	w := c.watch(t, func() { orasPull(t, c, confOrasRepo+":v1") })
	w.requireToken(t, "for pull", confByUser("alice", confScopesAre("repository:"+confOrasRepo+":pull")))
	w.require(t, "GET", "/v2/"+confOrasRepo+"/manifests/v1", 200, nil)
}

func orasTagsFlow(t *testing.T, c *confStack) {
	c.as(t, "alice")
	w := c.watch(t, func() {
		out, ok := orasRef(t, c, "repo", "tags", c.ref(confOrasRepo))
		confMustPass(t, "oras repo tags", out, ok)
		if strings.TrimSpace(out) != "v1" {
			t.Errorf("oras repo tags printed %q, want v1", out)
		}
	})
	w.require(t, "GET", "/v2/"+confOrasRepo+"/tags/list", 200, nil)
}

// orasHeadFlow: oras resolve (like oras manifest fetch --descriptor) asks
// for the tag's digest with HEAD only.
func orasHeadFlow(t *testing.T, c *confStack) {
	c.as(t, "alice")
	w := c.watch(t, func() {
		out, ok := orasRef(t, c, "resolve", c.ref(confOrasRepo+":v1"))
		confMustPass(t, "oras resolve", out, ok)
		if !strings.HasPrefix(out, "sha256:") {
			t.Errorf("oras resolve printed %q", out)
		}
	})
	w.require(t, "HEAD", "/v2/"+confOrasRepo+"/manifests/v1", 200, nil)
}

func orasNestedFlow(t *testing.T, c *confStack) {
	c.as(t, "alice")
	const name = "team/web-app.v2/api_x"
	w := c.watch(t, func() {
		orasPush(t, c, name+":oras")
		orasPull(t, c, name+":oras")
	})
	w.requireToken(t, "for "+name, confByUser("alice", confScopesAre("repository:"+name+":pull,push")))
	w.require(t, "PUT", "/v2/"+name+"/manifests/oras", 201, nil)
}

// orasAnonymousPullFlow copies some-image into an OCI layout: oras pull
// would fetch only the manifest (it downloads just the layers that carry a
// file name), and oras itself suggests cp --to-oci-layout to get them all.
func orasAnonymousPullFlow(t *testing.T, c *confStack) {
	c.as(t, "")
	w := c.watch(t, func() {
		dir := t.TempDir()
		out, ok := confOras(t, c, dir, "", "cp", "--from-plain-http", c.ref("some-image:latest"), "--to-oci-layout", "layout:latest")
		confMustPass(t, "anonymous oras cp some-image to an OCI layout", out, ok)
	})
	w.requireToken(t, "anonymous for some-image", confByUser("-", confScopesAre("repository:some-image:pull")))
	w.require(t, "GET", "", 200, func(r harness.WireRequest) bool {
		return strings.HasPrefix(r.Path(), "/v2/some-image/blobs/sha256:")
	})
}

// orasMountFlow copies within the registry as alice: oras asks for source
// and target in one token request (two scope parameters) and mounts.
func orasMountFlow(t *testing.T, c *confStack, target string) {
	c.as(t, "alice")
	w := c.watch(t, func() {
		out, ok := orasCopy(t, c, confOrasRepo+":v1", target+":v1")
		confMustPass(t, "oras cp", out, ok)
		if !c.onZot() && !strings.Contains(out, "Mounted ") {
			t.Errorf("oras cp did not mount:\n%s", out)
		}
	})
	w.requireToken(t, "with source and target as two scope parameters",
		confByUser("alice", confSeparateScopes("repository:"+target+":pull,push", "repository:"+confOrasRepo+":pull")))
	w.require(t, "POST", "/v2/"+target+"/blobs/uploads/", c.mountStatus(), confWithMount(confOrasRepo))
}

// orasCopy copies src to dst on the stack's registry; extra flags go first.
func orasCopy(t *testing.T, c *confStack, src, dst string, extra ...string) (string, bool) {
	t.Helper()
	args := append([]string{"cp", "--from-plain-http", "--to-plain-http"}, extra...)
	return confOras(t, c, t.TempDir(), "", append(args, c.ref(src), c.ref(dst))...)
}

// orasMountRefusedFlow copies to bob/ as bob, reading the source as alice
// from a second credentials file. oras still mounts (it compares only
// credentials given as flags), so bob's token request names the source; bob
// may not read team/**, the grant leaves it out, the registry refuses the
// mount, and oras copies again without mounting: it uploads.
func orasMountRefusedFlow(t *testing.T, c *confStack) {
	c.as(t, "bob")
	source := filepath.Join(c.s.Dir, "home", ".docker", "oras-source.json") // removed by the next c.as
	out, ok := orasLogin(t, c, source, "alice", "alice")
	confMustPass(t, "oras login alice into the source's credentials file", out, ok)
	target := "bob/oras-copy"
	w := c.watch(t, func() {
		out, ok := orasCopy(t, c, confOrasRepo+":v1", target+":v1", "--from-registry-config", source)
		confMustPass(t, "oras cp as bob with a refused source", out, ok)
	})
	w.requireToken(t, "from bob naming the refused source", confByUser("bob", confScopesInclude("repository:"+confOrasRepo+":pull")))
	w.require(t, "POST", "/v2/"+target+"/blobs/uploads/", c.refusedMountStatus(), confWithMount(confOrasRepo))
	if c.onZot() {
		c.requireRefused(t, "bob", "repository:"+confOrasRepo+":pull")
	}
	c.requireUploadAfterRefusedMount(t, w, target)
	w.require(t, "PUT", "/v2/"+target+"/manifests/v1", 201, nil)
}

// orasSpaceScopeFlow logs oras in with a refresh token as its identity token
// (what docker login stores; oras login --identity-token-stdin stores the
// same), so oras asks by POST, and then copies: the POST carries source and
// target space-separated in one scope field, and the mount succeeds.
func orasSpaceScopeFlow(t *testing.T, c *confStack) {
	c.as(t, "")
	refresh := orasRefreshToken(t, c, "alice")
	w := c.watch(t, func() {
		out, ok := confOras(t, c, t.TempDir(), refresh, "login", "--plain-http", "--identity-token-stdin", c.s.Host)
		confMustPass(t, "oras login --identity-token-stdin", out, ok)
	})
	w.require(t, "POST", "/v2/token", 200, func(r harness.WireRequest) bool { return r.Form.Get("grant_type") == "refresh_token" })
	w.require(t, "GET", "/v2/", 200, nil)
	target := "team/oras/via-refresh"
	w = c.watch(t, func() {
		out, ok := orasCopy(t, c, confOrasRepo+":v1", target+":v1")
		confMustPass(t, "oras cp with an identity token", out, ok)
	})
	w.require(t, "POST", "/v2/token", 200, func(r harness.WireRequest) bool {
		return r.Form.Get("grant_type") == "refresh_token" &&
			confSpaceSeparated("repository:"+confOrasRepo+":pull", "repository:"+target+":pull,push")(r)
	})
	w.require(t, "POST", "/v2/"+target+"/blobs/uploads/", c.mountStatus(), confWithMount(confOrasRepo))
}

// orasRefreshToken asks regtoken for user's refresh token the way docker
// login does (offline_token=true). The token is a credential: it goes to
// oras on stdin and is never logged.
func orasRefreshToken(t *testing.T, c *confStack, user string) string {
	t.Helper()
	q := url.Values{"service": {c.s.Service}, "offline_token": {"true"}, "client_id": {"regtoken-conformance"}}
	req, err := http.NewRequest("GET", c.s.Realm+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, user)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("refresh token request: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || body.RefreshToken == "" {
		t.Fatalf("refresh token request for %s: status %d, decode error %v, refresh token present %v",
			user, resp.StatusCode, err, body.RefreshToken != "")
	}
	return body.RefreshToken
}

// orasDeleteFlow: oras manifest delete resolves the tag with a pull token,
// then asks "delete,pull" and deletes the manifest by digest.
func orasDeleteFlow(t *testing.T, c *confStack, user, repo string) {
	c.as(t, user)
	orasPush(t, c, repo+":v1")
	w := c.watch(t, func() {
		out, ok := orasRef(t, c, "manifest", "delete", "--force", c.ref(repo+":v1"))
		confMustPass(t, "oras manifest delete as "+user, out, ok)
	})
	w.requireToken(t, "for delete,pull", confByUser(user, confScopesAre("repository:"+repo+":delete,pull")))
	w.require(t, "DELETE", "", 202, func(r harness.WireRequest) bool {
		return strings.HasPrefix(r.Path(), "/v2/"+repo+"/manifests/sha256:")
	})
	if out, ok := orasRef(t, c, "resolve", c.ref(repo+":v1")); ok {
		t.Errorf("the manifest is still there after oras manifest delete: %s", out)
	}
}

func orasDeleteRefusedFlow(t *testing.T, c *confStack) {
	c.as(t, "bar")
	w := c.watch(t, func() {
		out, ok := orasRef(t, c, "manifest", "delete", "--force", c.ref(confOrasRepo+":v1"))
		confMustFailWith(t, "oras manifest delete as bar (pull,push only)", out, ok, c.refusal(
			[]string{"unauthorized", "authentication required", "delete"},
			[]string{"DELETE", "401: Unauthorized"})...)
	})
	w.require(t, "DELETE", "", 401, func(r harness.WireRequest) bool {
		return strings.HasPrefix(r.Path(), "/v2/"+confOrasRepo+"/manifests/sha256:")
	})
	if out, ok := orasRef(t, c, "resolve", c.ref(confOrasRepo+":v1")); !ok {
		t.Errorf("the refused delete removed the manifest: %s", out)
	}
}

func orasCatalogFlow(t *testing.T, c *confStack) {
	c.as(t, "alice")
	w := c.watch(t, func() {
		out, ok := orasRef(t, c, "repo", "ls", c.s.Host)
		confMustPass(t, "oras repo ls as alice", out, ok)
		for _, repo := range []string{"some-image", confOrasRepo} {
			if !strings.Contains(out, repo+"\n") {
				t.Errorf("oras repo ls lacks %s:\n%s", repo, out)
			}
		}
	})
	if c.onZot() {
		// oras asks for zot's catalog scope beside its own after the challenge.
		w.requireToken(t, "for the catalog", confByUser("alice", confScopesAre("registry:catalog:*", "repository::pull")))
		return
	}
	w.requireToken(t, "for the catalog", confByUser("alice", confScopesAre("registry:catalog:*")))
}

func orasCatalogAnonymousFlow(t *testing.T, c *confStack) {
	c.as(t, "")
	out, ok := orasRef(t, c, "repo", "ls", c.s.Host)
	confMustFailWith(t, "anonymous oras repo ls", out, ok, c.refusal(
		[]string{"unauthorized", "authentication required", "catalog"},
		[]string{"_catalog", "401: Unauthorized"})...)
}

// orasBadCredentials: oras login contacts the registry, so the token
// endpoint's 401 message reaches the user there.
func orasBadCredentials(t *testing.T, c *confStack, user, pass string) {
	c.as(t, "")
	w := c.watch(t, func() {
		out, ok := orasLogin(t, c, "", user, pass)
		confMustFailWith(t, "oras login "+user+" with a bad password", out, ok, "unauthorized", "incorrect username or password")
	})
	w.require(t, "GET", "/v2/token", 401, func(r harness.WireRequest) bool { return r.User == user })
}

// orasNoCredentialsFlow: the anonymous token has an empty grant, and oras
// shows the registry's refusal, which names the repository and the action.
func orasNoCredentialsFlow(t *testing.T, c *confStack) {
	c.as(t, "")
	out, ok := orasRef(t, c, "pull", c.ref(confOrasRepo+":v1"), "-o", t.TempDir())
	confMustFailWith(t, "anonymous oras pull of a private repository", out, ok, c.refusal(
		[]string{"unauthorized", "authentication required", confOrasRepo},
		[]string{confOrasRepo, "401: Unauthorized"})...)
}
