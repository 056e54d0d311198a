//go:build e2e

package e2e

import (
	"strings"
	"testing"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// dockerSuite is the docker CLI with a real engine (the distribution client
// inside dockerd): docker login asks a token without scope (with
// offline_token=true, client_id=docker and account=<user>) and keeps the
// refresh token it gets; later token requests are OAuth2 POSTs
// (grant_type=refresh_token) with every scope space-separated in one field.
// Pushes ask "push,pull", and a push mounts layers the engine knows from
// another repository of the same registry. Images come from docker import
// of a tar made by the test: the engine need not reach the internet.
func dockerSuite() confClientSuite {
	return confClientSuite{
		name:        "docker",
		needsDocker: true,
		unsupported: map[string]string{
			"tags-list":         "the docker CLI has no command that lists a registry's tags",
			"account-differs":   "docker sends account equal to the Basic-auth user",
			"delete":            "the docker CLI cannot delete from a registry",
			"delete-star":       "the docker CLI cannot delete from a registry",
			"delete-refused":    "the docker CLI cannot delete from a registry",
			"catalog":           "the docker CLI has no catalog command",
			"catalog-anonymous": "the docker CLI has no catalog command",
			"readme-tags":       "a curl row (the original README's example)",
			"readme-catalog":    "a curl row (the original README's example)",
		},
		steps: map[string]func(*testing.T, *confStack){
			"login":          dockerLoginFlow,
			"push":           dockerPushFlow,
			"pull":           dockerPullFlow,
			"manifest-head":  dockerHeadFlow,
			"nested-name":    dockerNestedFlow,
			"anonymous-pull": dockerAnonymousPullFlow,
			"mount":          func(t *testing.T, c *confStack) { dockerMountFlow(t, c, "team/docker/mounted") },
			"repeated-scope": dockerRepeatedScopeFlow,
			"space-scope":    dockerSpaceScopeFlow,
			"mount-refused":  dockerMountRefusedFlow,
			"wrong-password": func(t *testing.T, c *confStack) { dockerBadCredentials(t, c, "alice", "wrong") },
			"unknown-user":   func(t *testing.T, c *confStack) { dockerBadCredentials(t, c, "mallory", "mallory") },
			"no-credentials": dockerNoCredentialsFlow,
		},
	}
}

const confDockerRepo = "team/docker/app"

// confDocker runs the docker CLI with the stack's private DOCKER_CONFIG.
func confDocker(t *testing.T, c *confStack, args ...string) (string, bool) {
	t.Helper()
	return run(t, c.s, "docker", args...)
}

// confDockerLogin logs user in with the password on stdin (as scripts should).
func confDockerLogin(t *testing.T, c *confStack, user, pass string) (string, bool) {
	t.Helper()
	return confRunIn(t, c.s, pass+"\n", "docker", "login", "-u", user, "--password-stdin", c.s.Host)
}

// confDockerAs leaves user logged in ("" for nobody).
func confDockerAs(t *testing.T, c *confStack, user string) {
	t.Helper()
	c.as(t, "")
	if user != "" {
		out, ok := confDockerLogin(t, c, user, user)
		confMustPass(t, "docker login "+user, out, ok)
	}
}

// confDockerImport makes a one-layer image named ref in the engine from a tar
// made here.
func confDockerImport(t *testing.T, c *confStack, ref string) {
	t.Helper()
	safe := strings.NewReplacer("/", "_", ":", "_").Replace(ref)
	out, ok := confDocker(t, c, "import", layer(t, t.TempDir(), safe), c.ref(ref))
	confMustPass(t, "docker import", out, ok)
}

// confDockerCleanup removes the images this stack left in the engine.
func confDockerCleanup(t *testing.T, c *confStack) {
	out, ok := confDocker(t, c, "images", "--format", "{{.Repository}}:{{.Tag}}")
	if !ok {
		t.Logf("docker images: %s", out)
		return
	}
	var refs []string
	for _, ref := range strings.Fields(out) {
		if strings.HasPrefix(ref, c.s.Host+"/") {
			refs = append(refs, ref)
		}
	}
	if len(refs) > 0 {
		if out, ok := confDocker(t, c, append([]string{"rmi", "-f"}, refs...)...); !ok {
			t.Logf("docker rmi: %s", out)
		}
	}
}

func dockerLoginFlow(t *testing.T, c *confStack) {
	c.as(t, "")
	w := c.watch(t, func() {
		out, ok := confDockerLogin(t, c, "alice", "alice")
		confMustPass(t, "docker login", out, ok)
		if !strings.Contains(out, "Login Succeeded") {
			t.Errorf("docker login printed %q", out)
		}
	})
	tok := w.requireToken(t, "from alice without scope", confByUser("alice", confScopesAre()))
	q := tok.Query()
	if q.Get("account") != "alice" || q.Get("client_id") != "docker" || q.Get("offline_token") != "true" {
		t.Errorf("docker login's token request has account=%q client_id=%q offline_token=%q; want alice, docker, true",
			q.Get("account"), q.Get("client_id"), q.Get("offline_token"))
	}
	w.require(t, "GET", "/v2/", 200, nil)
	out, ok := confDocker(t, c, "logout", c.s.Host)
	confMustPass(t, "docker logout", out, ok)
}

func dockerPushFlow(t *testing.T, c *confStack) {
	confDockerAs(t, c, "alice")
	confDockerImport(t, c, confDockerRepo+":v1")
	w := c.watch(t, func() {
		out, ok := confDocker(t, c, "push", c.ref(confDockerRepo+":v1"))
		confMustPass(t, "docker push", out, ok)
	})
	w.requireToken(t, "from alice for push,pull", confDockerUser("alice", confScopesAre("repository:"+confDockerRepo+":push,pull")))
	w.require(t, "PUT", "/v2/"+confDockerRepo+"/manifests/v1", 201, nil)
}

func dockerPullFlow(t *testing.T, c *confStack) {
	confDockerAs(t, c, "alice")
	out, ok := confDocker(t, c, "rmi", c.ref(confDockerRepo+":v1"))
	confMustPass(t, "docker rmi before the pull", out, ok)
	w := c.watch(t, func() {
		out, ok := confDocker(t, c, "pull", c.ref(confDockerRepo+":v1"))
		confMustPass(t, "docker pull", out, ok)
	})
	w.requireToken(t, "for pull", confDockerUser("alice", confScopesAre("repository:"+confDockerRepo+":pull")))
	w.require(t, "GET", "", 200, func(r harness.WireRequest) bool {
		return strings.HasPrefix(r.Path(), "/v2/"+confDockerRepo+"/manifests/sha256:")
	})
}

// dockerHeadFlow: the engine resolves a tag with HEAD before it fetches the
// manifest by digest; pulling an image it already has sends only that.
func dockerHeadFlow(t *testing.T, c *confStack) {
	confDockerAs(t, c, "alice")
	w := c.watch(t, func() {
		out, ok := confDocker(t, c, "pull", c.ref(confDockerRepo+":v1"))
		confMustPass(t, "docker pull (image present)", out, ok)
	})
	w.require(t, "HEAD", "/v2/"+confDockerRepo+"/manifests/v1", 200, nil)
}

func dockerNestedFlow(t *testing.T, c *confStack) {
	confDockerAs(t, c, "alice")
	const name = "team/web-app.v2/api_x"
	ref := c.ref(name + ":docker")
	confDockerImport(t, c, name+":docker")
	w := c.watch(t, func() {
		out, ok := confDocker(t, c, "push", ref)
		confMustPass(t, "docker push "+name, out, ok)
		out, ok = confDocker(t, c, "rmi", ref)
		confMustPass(t, "docker rmi "+name, out, ok)
		out, ok = confDocker(t, c, "pull", ref)
		confMustPass(t, "docker pull "+name, out, ok)
	})
	w.requireToken(t, "for "+name, confScopesAre("repository:"+name+":push,pull"))
	w.require(t, "HEAD", "/v2/"+name+"/manifests/docker", 200, nil)
}

func dockerAnonymousPullFlow(t *testing.T, c *confStack) {
	confDockerAs(t, c, "")
	w := c.watch(t, func() {
		out, ok := confDocker(t, c, "pull", c.ref("some-image:latest"))
		confMustPass(t, "anonymous docker pull some-image", out, ok)
	})
	w.requireToken(t, "anonymous for some-image", confByUser("-", confScopesAre("repository:some-image:pull")))
}

// dockerMountFlow pushes the image under a second name: the engine knows its
// layer is in another team/docker repository, asks for target and source in
// one token request, and mounts ("Mounted from ...").
func dockerMountFlow(t *testing.T, c *confStack, target string) {
	w, from := confDockerMount(t, c, target)
	w.requireToken(t, "naming target and source "+from,
		confDockerUser("alice", confScopesInclude("repository:"+target+":push,pull", "repository:"+from+":pull")))
}

// The engine asks by GET, one scope parameter per scope, while it has no
// refresh token; after a docker login that returned one (regtoken's default)
// it asks by POST (grant_type=refresh_token) with all scopes space-separated
// in one field. The two rows check whichever form it used.
const (
	confDockerUsedPOST = "the engine holds a refresh token from docker login and asks by POST, all scopes space-separated in one field"
	confDockerUsedGET  = "the engine has no refresh token and asks by GET, one scope parameter per scope"
)

func dockerRepeatedScopeFlow(t *testing.T, c *confStack) {
	target := "team/docker/mounted-again"
	w, from := confDockerMount(t, c, target)
	scopes := []string{"repository:" + target + ":push,pull", "repository:" + from + ":pull"}
	tok := w.requireToken(t, "naming target and source "+from, confDockerUser("alice", confScopesInclude(scopes...)))
	if tok.Method == "POST" {
		c.notApplicable(confDockerUsedPOST)
		return
	}
	w.requireToken(t, "with two scope parameters", confDockerUser("alice", confSeparateScopes(scopes...)))
}

func dockerSpaceScopeFlow(t *testing.T, c *confStack) {
	target := "team/docker/mounted-third"
	w, from := confDockerMount(t, c, target)
	scopes := []string{"repository:" + target + ":push,pull", "repository:" + from + ":pull"}
	tok := w.requireToken(t, "naming target and source "+from, confDockerUser("alice", confScopesInclude(scopes...)))
	if tok.Method != "POST" {
		c.notApplicable(confDockerUsedGET)
		return
	}
	w.requireToken(t, "with both scopes in one field", confDockerUser("alice", confSpaceSeparated(scopes...)))
}

// confDockerMount pushes target as alice and checks that the engine mounted
// the layer; it returns what went over the wire and the mount's source
// repository. The engine picks the source among the repositories it saw the
// layer in, so the source comes from the mount request.
func confDockerMount(t *testing.T, c *confStack, target string) (confWire, string) {
	confDockerAs(t, c, "alice")
	out, ok := confDocker(t, c, "tag", c.ref(confDockerRepo+":v1"), c.ref(target+":v1"))
	confMustPass(t, "docker tag", out, ok)
	w := c.watch(t, func() {
		out, ok := confDocker(t, c, "push", c.ref(target+":v1"))
		confMustPass(t, "docker push "+target, out, ok)
		if !c.onZot() && !strings.Contains(out, "Mounted from ") {
			t.Errorf("docker push did not mount:\n%s", out)
		}
	})
	return w, w.mountFrom(t, target, c.mountStatus())
}

// dockerMountRefusedFlow pushes the same image as bob, who may not read
// team/**: the grant leaves the source out, the registry refuses the mount,
// and the engine uploads the layer.
func dockerMountRefusedFlow(t *testing.T, c *confStack) {
	confDockerAs(t, c, "bob")
	target := "bob/docker-copy"
	out, ok := confDocker(t, c, "tag", c.ref(confDockerRepo+":v1"), c.ref(target+":v1"))
	confMustPass(t, "docker tag", out, ok)
	w := c.watch(t, func() {
		out, ok := confDocker(t, c, "push", c.ref(target+":v1"))
		confMustPass(t, "docker push as bob with a refused source", out, ok)
	})
	from := w.mountFrom(t, target, c.refusedMountStatus())
	w.requireToken(t, "from bob naming the refused source "+from, confDockerUser("bob", confScopesInclude("repository:"+from+":pull")))
	if c.onZot() {
		c.requireRefused(t, "bob", "repository:"+from+":pull")
	}
	c.requireUploadAfterRefusedMount(t, w, target)
	w.require(t, "PUT", "/v2/"+target+"/manifests/v1", 201, nil)
}

func dockerBadCredentials(t *testing.T, c *confStack, user, pass string) {
	c.as(t, "")
	out, ok := confDockerLogin(t, c, user, pass)
	confMustFailWith(t, "docker login "+user+" with a bad password", out, ok, "unauthorized", "incorrect username or password")
}

func dockerNoCredentialsFlow(t *testing.T, c *confStack) {
	confDockerAs(t, c, "")
	ref := c.ref(confDockerRepo + ":v1")
	confDocker(t, c, "rmi", ref)
	out, ok := confDocker(t, c, "pull", ref)
	confMustFailWith(t, "anonymous docker pull of a private repository", out, ok, c.refusal(
		[]string{"pull access denied", "may require 'docker login'"},
		[]string{"unauthorized: authentication required"})...)
}

// confDockerUser matches a token request the engine sent for user: a GET with
// user's Basic auth, or a POST with the refresh token user's docker login
// got (the wire log cannot tell whose refresh token it is, and must not log
// it) or with user's password.
func confDockerUser(user string, match func(harness.WireRequest) bool) func(harness.WireRequest) bool {
	return func(r harness.WireRequest) bool {
		switch {
		case r.Method == "GET" && r.User != user:
			return false
		case r.Method == "POST" && r.Form.Get("grant_type") != "refresh_token" && r.Form.Get("username") != user:
			return false
		}
		return match(r)
	}
}
