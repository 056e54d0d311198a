//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// skopeoSuite is skopeo (containers/image, as in podman and buildah), which
// asks "pull,push" for pushes, "*" for deletes, sends account=<user>, and
// mounts blobs it has seen in another repository of the same registry.
func skopeoSuite() confClientSuite {
	return confClientSuite{
		name: "skopeo",
		unsupported: map[string]string{
			"manifest-head":     "skopeo reads manifests with GET; no command sends HEAD for a manifest",
			"space-scope":       "containers/image sends one scope per parameter",
			"account-differs":   "skopeo sends account equal to the Basic-auth user",
			"catalog":           "skopeo has no catalog command",
			"catalog-anonymous": "skopeo has no catalog command",
			"readme-tags":       "a curl row (the original README's example)",
			"readme-catalog":    "a curl row (the original README's example)",
		},
		steps: map[string]func(*testing.T, *confStack){
			"login":          skopeoLoginFlow,
			"push":           skopeoPushFlow,
			"pull":           skopeoPullFlow,
			"tags-list":      skopeoTagsFlow,
			"nested-name":    skopeoNestedFlow,
			"anonymous-pull": skopeoAnonymousPullFlow,
			"mount":          func(t *testing.T, c *confStack) { skopeoMountFlow(t, c, "team/skopeo/mounted") },
			"repeated-scope": func(t *testing.T, c *confStack) { skopeoMountFlow(t, c, "team/skopeo/mounted-again") },
			"mount-refused":  skopeoMountRefusedFlow,
			"delete":         func(t *testing.T, c *confStack) { skopeoDeleteFlow(t, c, "alice", "team/skopeo/del") },
			"delete-star":    func(t *testing.T, c *confStack) { skopeoDeleteFlow(t, c, "bob", "bob/skopeo-del") },
			"delete-refused": skopeoDeleteRefusedFlow,
			"wrong-password": func(t *testing.T, c *confStack) { skopeoBadCredentials(t, c, "alice:wrong") },
			"unknown-user":   func(t *testing.T, c *confStack) { skopeoBadCredentials(t, c, "mallory:mallory") },
			"no-credentials": skopeoNoCredentialsFlow,
		},
	}
}

const confSkopeoRepo = "team/skopeo/app"

// confSkopeo runs skopeo with a policy that accepts any image (the registry is
// the subject here, not signatures).
func confSkopeo(t *testing.T, c *confStack, args ...string) (string, bool) {
	t.Helper()
	return run(t, c.s, "skopeo", append([]string{"--policy", c.policy}, args...)...)
}

// confSkopeoCopy copies src to dst over plain HTTP with the given credentials
// ("" for anonymous).
func confSkopeoCopy(t *testing.T, c *confStack, src, srcCreds, dst, dstCreds string) (string, bool) {
	t.Helper()
	args := []string{"copy", "--src-tls-verify=false", "--dest-tls-verify=false"}
	args = append(args, confCredsFlag("--src", srcCreds)...)
	args = append(args, confCredsFlag("--dest", dstCreds)...)
	return confSkopeo(t, c, append(args, src, dst)...)
}

func confCredsFlag(prefix, creds string) []string {
	if creds == "" {
		return []string{prefix + "-no-creds"}
	}
	return []string{prefix + "-creds", creds}
}

// confSkopeoArchive makes a one-layer image as a docker-archive file with crane
// (offline), for skopeo to push.
func confSkopeoArchive(t *testing.T, c *confStack, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "image.tar")
	safe := strings.NewReplacer("/", "_", ":", "_").Replace(name)
	out, ok := crane(t, c.s, "append", "-f", layer(t, t.TempDir(), safe), "-t", c.ref(name), "-o", path)
	confMustPass(t, "crane append -o (make a docker-archive)", out, ok)
	return "docker-archive:" + path
}

func confSkopeoPush(t *testing.T, c *confStack, creds, ref string) {
	t.Helper()
	out, ok := confSkopeoCopy(t, c, confSkopeoArchive(t, c, ref), "", "docker://"+c.ref(ref), creds)
	confMustPass(t, "skopeo copy to "+ref, out, ok)
}

func skopeoLoginFlow(t *testing.T, c *confStack) {
	w := c.watch(t, func() {
		out, ok := confRunIn(t, c.s, "alice\n", "skopeo", "login", "--tls-verify=false", "-u", "alice", "--password-stdin", c.s.Host)
		confMustPass(t, "skopeo login", out, ok)
		if !strings.Contains(out, "Login Succeeded") {
			t.Errorf("skopeo login printed %q", out)
		}
	})
	tok := w.requireToken(t, "from alice without scope", confByUser("alice", confScopesAre()))
	if got := tok.Query().Get("account"); got != "alice" {
		t.Errorf("skopeo login sent account=%q, want alice", got)
	}
	w.require(t, "GET", "/v2/", 200, nil)
	out, ok := confSkopeo(t, c, "logout", c.s.Host)
	confMustPass(t, "skopeo logout", out, ok)
}

func skopeoPushFlow(t *testing.T, c *confStack) {
	w := c.watch(t, func() { confSkopeoPush(t, c, "alice:alice", confSkopeoRepo+":v1") })
	w.requireToken(t, "from alice for pull,push", confByUser("alice", confScopesAre("repository:"+confSkopeoRepo+":pull,push")))
	w.require(t, "PUT", "/v2/"+confSkopeoRepo+"/manifests/v1", 201, nil)
}

func skopeoPullFlow(t *testing.T, c *confStack) {
	w := c.watch(t, func() {
		out, ok := confSkopeoCopy(t, c, "docker://"+c.ref(confSkopeoRepo+":v1"), "alice:alice", "oci:"+t.TempDir()+":v1", "alice:alice")
		confMustPass(t, "skopeo copy (pull)", out, ok)
	})
	w.requireToken(t, "for pull", confByUser("alice", confScopesAre("repository:"+confSkopeoRepo+":pull")))
}

func skopeoTagsFlow(t *testing.T, c *confStack) {
	w := c.watch(t, func() {
		out, ok := confSkopeo(t, c, "list-tags", "--tls-verify=false", "--creds", "alice:alice", "docker://"+c.ref(confSkopeoRepo))
		confMustPass(t, "skopeo list-tags", out, ok)
		if !strings.Contains(out, `"v1"`) {
			t.Errorf("skopeo list-tags lacks v1:\n%s", out)
		}
	})
	w.require(t, "GET", "/v2/"+confSkopeoRepo+"/tags/list", 200, nil)
}

func skopeoNestedFlow(t *testing.T, c *confStack) {
	const name = "team/web-app.v2/api_x"
	w := c.watch(t, func() {
		confSkopeoPush(t, c, "alice:alice", name+":skopeo")
		out, ok := confSkopeoCopy(t, c, "docker://"+c.ref(name+":skopeo"), "alice:alice", "oci:"+t.TempDir()+":x", "alice:alice")
		confMustPass(t, "skopeo pull "+name, out, ok)
	})
	w.requireToken(t, "for "+name, confScopesAre("repository:"+name+":pull,push"))
	w.require(t, "PUT", "/v2/"+name+"/manifests/skopeo", 201, nil)
}

func skopeoAnonymousPullFlow(t *testing.T, c *confStack) {
	w := c.watch(t, func() {
		out, ok := confSkopeoCopy(t, c, "docker://"+c.ref("some-image:latest"), "", "oci:"+t.TempDir()+":x", "")
		confMustPass(t, "anonymous skopeo pull some-image", out, ok)
	})
	w.requireToken(t, "anonymous for some-image", confByUser("-", confScopesAre("repository:some-image:pull")))
}

// skopeoMountFlow copies between two repositories of the registry: skopeo
// knows the blobs are in the source, asks for target and source in one
// token request (two scope parameters), and mounts.
func skopeoMountFlow(t *testing.T, c *confStack, target string) {
	w := c.watch(t, func() {
		out, ok := confSkopeoCopy(t, c, "docker://"+c.ref(confSkopeoRepo+":v1"), "alice:alice", "docker://"+c.ref(target+":v1"), "alice:alice")
		confMustPass(t, "skopeo copy between repositories", out, ok)
	})
	w.requireToken(t, "with target and source as two scope parameters",
		confByUser("alice", confSeparateScopes("repository:"+target+":pull,push", "repository:"+confSkopeoRepo+":pull")))
	w.require(t, "POST", "/v2/"+target+"/blobs/uploads/", c.mountStatus(), confWithMount(confSkopeoRepo))
}

// skopeoMountRefusedFlow writes as bob, who may not read team/**: bob's
// token request names the source, the grant leaves it out, and skopeo, which
// checks the source blob with HEAD before it mounts, sees 401 there, never
// sends the mount and uploads instead.
func skopeoMountRefusedFlow(t *testing.T, c *confStack) {
	target := "bob/skopeo-copy"
	w := c.watch(t, func() {
		out, ok := confSkopeoCopy(t, c, "docker://"+c.ref(confSkopeoRepo+":v1"), "alice:alice", "docker://"+c.ref(target+":v1"), "bob:bob")
		confMustPass(t, "skopeo copy as bob with a refused source", out, ok)
	})
	w.requireToken(t, "from bob naming the refused source", confByUser("bob", confScopesInclude("repository:"+confSkopeoRepo+":pull")))
	w.require(t, "HEAD", "", 401, func(r harness.WireRequest) bool {
		return strings.HasPrefix(r.Path(), "/v2/"+confSkopeoRepo+"/blobs/sha256:")
	})
	w.require(t, "POST", "/v2/"+target+"/blobs/uploads/", 202, confWithoutMount)
	w.require(t, "PUT", "/v2/"+target+"/manifests/v1", 201, nil)
}

func skopeoDeleteFlow(t *testing.T, c *confStack, user, repo string) {
	creds := user + ":" + user
	confSkopeoPush(t, c, creds, repo+":v1")
	w := c.watch(t, func() {
		out, ok := confSkopeo(t, c, "delete", "--tls-verify=false", "--creds", creds, "docker://"+c.ref(repo+":v1"))
		confMustPass(t, "skopeo delete as "+user, out, ok)
	})
	w.requireToken(t, "for *", confByUser(user, confScopesAre("repository:"+repo+":*")))
	w.require(t, "DELETE", "", 202, func(r harness.WireRequest) bool {
		return strings.HasPrefix(r.Path(), "/v2/"+repo+"/manifests/sha256:")
	})
	if out, ok := confSkopeo(t, c, "inspect", "--raw", "--tls-verify=false", "--creds", creds, "docker://"+c.ref(repo+":v1")); ok {
		t.Errorf("the manifest is still there after skopeo delete: %s", out)
	}
}

func skopeoDeleteRefusedFlow(t *testing.T, c *confStack) {
	out, ok := confSkopeo(t, c, "delete", "--tls-verify=false", "--creds", "bar:bar", "docker://"+c.ref(confSkopeoRepo+":v1"))
	confMustFailWith(t, "skopeo delete as bar (pull,push only)", out, ok, "UNAUTHORIZED", "authentication required")
	if out, ok := confSkopeo(t, c, "inspect", "--raw", "--tls-verify=false", "--creds", "bar:bar", "docker://"+c.ref(confSkopeoRepo+":v1")); !ok {
		t.Errorf("the refused delete removed the manifest: %s", out)
	}
}

func skopeoBadCredentials(t *testing.T, c *confStack, creds string) {
	out, ok := confSkopeo(t, c, "list-tags", "--tls-verify=false", "--creds", creds, "docker://"+c.ref(confSkopeoRepo))
	confMustFailWith(t, "skopeo list-tags with bad credentials", out, ok, "invalid username/password", "incorrect username or password")
}

func skopeoNoCredentialsFlow(t *testing.T, c *confStack) {
	out, ok := confSkopeo(t, c, "list-tags", "--tls-verify=false", "--no-creds", "docker://"+c.ref(confSkopeoRepo))
	confMustFailWith(t, "anonymous skopeo list-tags of a private repository", out, ok, c.refusal(
		[]string{"requested access to the resource is denied", "authentication required"},
		[]string{"unauthorized: authentication required"})...)
}
