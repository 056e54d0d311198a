package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/testenv"
)

// containerdSuite is ctr, containerd's own client (Debian's containerd
// 1.6.20), with a containerd daemon of the test's own. ctr makes the registry
// requests itself, with containerd's resolver (User-Agent containerd/...);
// the daemon keeps the content store.
//
// With credentials (--user) containerd asks for tokens by the OAuth2 POST
// password grant (grant_type=password, client_id=containerd-client, every
// scope space-separated in one field) and falls back to GET with Basic auth
// only when the POST fails (401, 404, 400); anonymous requests use GET.
// Pushes ask "pull,push" along with the challenge's "pull". A push of blobs
// that were pulled from another repository of the same registry mounts them,
// naming the source's pull in the same token request.
func containerdSuite() confClientSuite {
	const noDelete = "ctr cannot delete from a registry: ctr images rm removes only the local image"
	const noCatalog = "ctr has no catalog command"
	return confClientSuite{
		name: "containerd",
		unsupported: map[string]string{
			"login": "ctr has no login command: every command takes --user, and containerd asks for a token only " +
				"with the scope of a request the registry refused",
			"tags-list": "ctr has no command that lists a repository's tags",
			"repeated-scope": "with credentials containerd asks by POST, all scopes space-separated in one field (the " +
				"space-scope row); it sends one scope parameter per scope only by GET, which it uses anonymously (no " +
				"ctr command then names two repositories) or after a failed POST (here only with bad credentials, " +
				"for a pull of one repository)",
			"account-differs":   "containerd never sends the account parameter",
			"delete":            noDelete,
			"delete-star":       noDelete,
			"delete-refused":    noDelete,
			"catalog":           noCatalog,
			"catalog-anonymous": noCatalog,
			"readme-tags":       "a curl row (the original README's example)",
			"readme-catalog":    "a curl row (the original README's example)",
		},
		steps: map[string]func(*testing.T, *confStack){
			"push":           containerdPushFlow,
			"pull":           containerdPullFlow,
			"manifest-head":  containerdHeadFlow,
			"nested-name":    containerdNestedFlow,
			"anonymous-pull": containerdAnonymousPullFlow,
			"mount":          containerdMountFlow,
			"space-scope":    containerdSpaceScopeFlow,
			"mount-refused":  containerdMountRefusedFlow,
			"wrong-password": func(t *testing.T, c *confStack) { containerdBadCredentials(t, c, "alice", "wrong") },
			"unknown-user":   func(t *testing.T, c *confStack) { containerdBadCredentials(t, c, "mallory", "mallory") },
			"no-credentials": containerdNoCredentialsFlow,
		},
	}
}

const confCtrdRepo = "team/containerd/app"

// confCtrdNamespace keeps the suite's images apart from anything else a
// containerd might hold.
const confCtrdNamespace = "regtoken-conformance"

// confCtrd is a containerd daemon of the test's own: its own root, state and
// sockets in a short temporary directory (unix socket paths must stay under
// 108 bytes), never the Docker engine's containerd.
//
// Every step starts its own, with an empty content store: a pull then really
// downloads (containerd skips blobs it already has), and a mount flow mounts
// only what it pulled itself. The suite hands a step only its subtest's t, so
// a daemon started in a step is stopped when the step ends, and the daemon
// output shown on a failure is that step's.
type confCtrd struct {
	c    *confStack
	sock string
	p    *testenv.Process
}

// confCtrdConfig is a minimal containerd configuration. Of the plugins,
// ctr needs only the content store, metadata and images services; the ones
// turned off here cannot load in a test directory (aufs, btrfs, devmapper,
// zfs), serve Kubernetes (cri) or write outside it (opt: /opt/containerd).
const confCtrdConfig = `version = 2
root = %q
state = %q
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = %q

[ttrpc]
  address = %q
`

// confStartCtrd starts a containerd for one step, stopped when the step
// ends. A daemon that does not start fails the step with its output.
func confStartCtrd(t *testing.T, c *confStack) *confCtrd {
	t.Helper()
	dir := testenv.ShortDir(t)
	d := &confCtrd{c: c, sock: filepath.Join(dir, "c.sock")}
	cfg := filepath.Join(dir, "config.toml")
	testenv.WriteFile(t, cfg, fmt.Sprintf(confCtrdConfig,
		filepath.Join(dir, "root"), filepath.Join(dir, "state"), d.sock, filepath.Join(dir, "t.sock")), 0o644)
	testenv.Tool(t, "ctr") // fail here, with the install hint, rather than at the first command
	d.p = testenv.Start(t, "containerd", exec.Command(testenv.Tool(t, "containerd"), "--config", cfg))
	d.p.WaitDial(t, "unix", d.sock, 30*time.Second)
	return d
}

// ctr runs ctr against the daemon, in the suite's namespace.
func (d *confCtrd) ctr(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	return run(t, d.c.s, "ctr", append([]string{"--address", d.sock, "--namespace", confCtrdNamespace}, args...)...)
}

// remote runs a ctr command (cmd, then ref on the stack's registry) that
// talks to the plain-HTTP registry as user with pass, or anonymously for "".
func (d *confCtrd) remote(t *testing.T, user, pass string, cmd []string, ref string) (string, bool) {
	t.Helper()
	args := append(slices.Clone(cmd), "--plain-http")
	if user != "" {
		args = append(args, "--user", user+":"+pass)
	}
	return d.ctr(t, append(args, d.c.ref(ref))...)
}

// importImage puts a one-layer image named ref into the daemon, made offline
// by crane as a tar. The image names no architecture, hence --all-platforms;
// --no-unpack because a push needs the content, not a snapshot.
func (d *confCtrd) importImage(t *testing.T, ref string) {
	t.Helper()
	tar := filepath.Join(t.TempDir(), "image.tar")
	safe := strings.NewReplacer("/", "_", ":", "_").Replace(ref)
	out, ok := crane(t, d.c.s, "append", "-f", layer(t, t.TempDir(), safe), "-t", d.c.ref(ref), "-o", tar)
	confMustPass(t, "crane append -o (make an image tar)", out, ok)
	out, ok = d.ctr(t, "images", "import", "--no-unpack", "--all-platforms", tar)
	confMustPass(t, "ctr images import", out, ok)
}

// push pushes the local image ref as user.
func (d *confCtrd) push(t *testing.T, user, ref string) (string, bool) {
	t.Helper()
	return d.remote(t, user, user, []string{"images", "push"}, ref)
}

// pull pulls ref as user ("" for anonymous). It unpacks with the native
// snapshotter, which needs no overlay support from the kernel: unpacking is
// not what this suite tests.
func (d *confCtrd) pull(t *testing.T, user, pass, ref string) (string, bool) {
	t.Helper()
	return d.remote(t, user, pass, []string{"images", "pull", "--snapshotter", "native"}, ref)
}

// tag names the local image src also dst.
func (d *confCtrd) tag(t *testing.T, src, dst string) {
	t.Helper()
	out, ok := d.ctr(t, "images", "tag", d.c.ref(src), d.c.ref(dst))
	confMustPass(t, "ctr images tag", out, ok)
}

// confCtrdPasswordGrant checks the point of this column: containerd, given
// credentials, asked for the token by the OAuth2 POST password grant as
// user, regtoken answered it 200, and containerd never fell back to GET.
// (The wire log keeps grant_type, username and scope of a POST; that the
// client_id is there shows in regtoken answering 200: it refuses a POST
// without one.)
func confCtrdPasswordGrant(t *testing.T, w confWire, user, desc string, match func(testenv.WireRequest) bool) testenv.WireRequest {
	t.Helper()
	tok := w.requireToken(t, "by POST grant_type=password as "+user+" "+desc, func(r testenv.WireRequest) bool {
		return r.Method == "POST" && r.Form.Get("grant_type") == "password" && r.Form.Get("username") == user && match(r)
	})
	for _, r := range w.tokens() {
		if r.Method != "POST" {
			t.Errorf("containerd fell back to %s for a token although it had credentials; token requests:\n%s", r.Method, w.tokens())
			break
		}
	}
	if tok.Method != "" && !strings.HasPrefix(tok.Agent, "containerd/") {
		t.Errorf("the token request came from %q, not containerd", tok.Agent)
	}
	return tok
}

// confCtrdAnonymous checks that an anonymous containerd asked by GET, without
// Basic auth, and never by POST.
func confCtrdAnonymous(t *testing.T, w confWire, desc string, match func(testenv.WireRequest) bool) {
	t.Helper()
	w.requireToken(t, "anonymously by GET "+desc, confByUser("-", func(r testenv.WireRequest) bool {
		return r.Method == "GET" && match(r)
	}))
	for _, r := range w.tokens() {
		if r.Method == "POST" {
			t.Errorf("containerd without credentials sent a POST to the token realm:\n%s", w.tokens())
			break
		}
	}
}

func containerdPushFlow(t *testing.T, c *confStack) {
	d := confStartCtrd(t, c)
	d.importImage(t, confCtrdRepo+":v1")
	w := c.watch(t, func() {
		out, ok := d.push(t, "alice", confCtrdRepo+":v1")
		confMustPass(t, "ctr images push as alice", out, ok)
	})
	confCtrdPasswordGrant(t, w, "alice", "for pull,push", confScopesInclude("repository:"+confCtrdRepo+":pull,push"))
	w.require(t, "PUT", "/v2/"+confCtrdRepo+"/manifests/v1", 201, nil)
}

func containerdPullFlow(t *testing.T, c *confStack) {
	d := confStartCtrd(t, c)
	w := c.watch(t, func() {
		out, ok := d.pull(t, "alice", "alice", confCtrdRepo+":v1")
		confMustPass(t, "ctr images pull as alice", out, ok)
	})
	confCtrdPasswordGrant(t, w, "alice", "for pull", confScopesAre("repository:"+confCtrdRepo+":pull"))
	w.require(t, "GET", "", 200, func(r testenv.WireRequest) bool {
		return strings.HasPrefix(r.Path(), "/v2/"+confCtrdRepo+"/blobs/sha256:")
	})
}

// containerdHeadFlow: containerd resolves a tag with HEAD before it fetches
// the manifest by digest.
func containerdHeadFlow(t *testing.T, c *confStack) {
	d := confStartCtrd(t, c)
	w := c.watch(t, func() {
		out, ok := d.pull(t, "alice", "alice", confCtrdRepo+":v1")
		confMustPass(t, "ctr images pull as alice", out, ok)
	})
	w.require(t, "HEAD", "/v2/"+confCtrdRepo+"/manifests/v1", 200, nil)
}

// containerdNestedFlow pushes with one daemon and pulls with a second, whose
// content store is empty, so that the pull downloads.
func containerdNestedFlow(t *testing.T, c *confStack) {
	const name = "team/web-app.v2/api_x"
	pusher, puller := confStartCtrd(t, c), confStartCtrd(t, c)
	pusher.importImage(t, name+":containerd")
	w := c.watch(t, func() {
		out, ok := pusher.push(t, "alice", name+":containerd")
		confMustPass(t, "ctr images push "+name, out, ok)
		out, ok = puller.pull(t, "alice", "alice", name+":containerd")
		confMustPass(t, "ctr images pull "+name, out, ok)
	})
	confCtrdPasswordGrant(t, w, "alice", "for "+name, confScopesInclude("repository:"+name+":pull,push"))
	w.require(t, "PUT", "/v2/"+name+"/manifests/containerd", 201, nil)
	w.require(t, "HEAD", "/v2/"+name+"/manifests/containerd", 200, nil)
}

func containerdAnonymousPullFlow(t *testing.T, c *confStack) {
	d := confStartCtrd(t, c)
	w := c.watch(t, func() {
		out, ok := d.pull(t, "", "", "some-image:latest")
		confMustPass(t, "anonymous ctr images pull some-image", out, ok)
	})
	confCtrdAnonymous(t, w, "for some-image", confScopesAre("repository:some-image:pull"))
}

// confCtrdMount pulls confCtrdRepo as alice, which labels its blobs with the
// repository they came from, names the image target too, and pushes that as
// user: containerd asks for the source's pull and mounts. It returns what
// the push put on the wire and whether it succeeded.
func confCtrdMount(t *testing.T, c *confStack, user, target string) (confWire, string, bool) {
	d := confStartCtrd(t, c)
	out, ok := d.pull(t, "alice", "alice", confCtrdRepo+":v1")
	confMustPass(t, "ctr images pull (the mount's source)", out, ok)
	d.tag(t, confCtrdRepo+":v1", target+":v1")
	w := c.watch(t, func() { out, ok = d.push(t, user, target+":v1") })
	return w, out, ok
}

// containerdMountFlow: the token request names target and source, the
// registry mounts every blob, and nothing is uploaded.
func containerdMountFlow(t *testing.T, c *confStack) {
	target := "team/containerd/mounted"
	w, out, ok := confCtrdMount(t, c, "alice", target)
	confMustPass(t, "ctr images push "+target+" as alice", out, ok)
	confCtrdPasswordGrant(t, w, "alice", "naming target and source",
		confScopesInclude("repository:"+target+":pull,push", "repository:"+confCtrdRepo+":pull"))
	if from := w.mountFrom(t, target, 201); from != confCtrdRepo {
		t.Errorf("containerd mounted from %s, want %s", from, confCtrdRepo)
	}
	for _, r := range w {
		if r.Method == "PUT" && strings.HasPrefix(r.Path(), "/v2/"+target+"/blobs/uploads/") {
			t.Errorf("containerd uploaded a blob it could mount:\n%s", w)
			break
		}
	}
	w.require(t, "PUT", "/v2/"+target+"/manifests/v1", 201, nil)
}

// containerdSpaceScopeFlow: containerd's POST carries target and source in one
// space-separated scope field, and regtoken grants both.
func containerdSpaceScopeFlow(t *testing.T, c *confStack) {
	target := "team/containerd/mounted-again"
	w, out, ok := confCtrdMount(t, c, "alice", target)
	confMustPass(t, "ctr images push "+target+" as alice", out, ok)
	confCtrdPasswordGrant(t, w, "alice", "with target and source space-separated in one field",
		confSpaceSeparated("repository:"+target+":pull,push", "repository:"+confCtrdRepo+":pull"))
	w.require(t, "POST", "/v2/"+target+"/blobs/uploads/", 201, confWithMount(confCtrdRepo))
}

// confCtrdNoMountFallback is why containerd 1.6's mount-refused cell is n/a.
const confCtrdNoMountFallback = "containerd before 2.1 (ctr 1.6.20 here) ends the push when the registry " +
	"refuses the mount (401 insufficient_scope), instead of uploading the blob: containerd issue #12163, " +
	"fixed by containerd PR #11709; the test checks that regtoken granted the target and left the source " +
	"out (200 POST) and that ctr failed only on the refused mount"

// containerdMountRefusedFlow pushes as bob, who may not read team/**: his
// token leaves the source out and the registry refuses the mount. A client
// should then upload the blobs; containerd 1.6 gives up instead, which makes
// the cell n/a once the wire shows that regtoken did its part.
func containerdMountRefusedFlow(t *testing.T, c *confStack) {
	target := "bob/containerd-copy"
	w, out, ok := confCtrdMount(t, c, "bob", target)
	confCtrdPasswordGrant(t, w, "bob", "naming the refused source", confScopesInclude("repository:"+confCtrdRepo+":pull"))
	w.require(t, "POST", "/v2/"+target+"/blobs/uploads/", 401, confWithMount(confCtrdRepo))
	if !ok {
		confMustFailWith(t, "ctr images push as bob with a refused source", out, ok, "insufficient_scope: authorization failed")
		c.notApplicable(confCtrdNoMountFallback)
		return
	}
	w.require(t, "POST", "/v2/"+target+"/blobs/uploads/", 202, confWithoutMount)
	w.require(t, "PUT", "/v2/"+target+"/manifests/v1", 201, nil)
}

// containerdBadCredentials: the POST password grant is refused with 401, so
// containerd retries by GET with Basic auth, which is refused too: 401, not
// 429, because the same wrong password again is no new failure for the
// throttle (mallory has been refused in every column before this one). ctr
// prints only the status, not regtoken's message.
func containerdBadCredentials(t *testing.T, c *confStack, user, pass string) {
	d := confStartCtrd(t, c)
	var out string
	var ok bool
	w := c.watch(t, func() { out, ok = d.pull(t, user, pass, confCtrdRepo+":v1") })
	confMustFailWith(t, "ctr images pull as "+user+" with a bad password", out, ok,
		"failed to fetch oauth token", "401 Unauthorized")
	w.require(t, "POST", "/v2/token", 401, func(r testenv.WireRequest) bool {
		return r.Form.Get("grant_type") == "password" && r.Form.Get("username") == user
	})
	w.require(t, "GET", "/v2/token", 401, func(r testenv.WireRequest) bool { return r.User == user })
}

func containerdNoCredentialsFlow(t *testing.T, c *confStack) {
	d := confStartCtrd(t, c)
	var out string
	var ok bool
	w := c.watch(t, func() { out, ok = d.pull(t, "", "", confCtrdRepo+":v1") })
	confMustFailWith(t, "anonymous ctr images pull of a private repository", out, ok,
		"pull access denied", "may require authorization", "insufficient_scope")
	confCtrdAnonymous(t, w, "for the private repository", confScopesAre("repository:"+confCtrdRepo+":pull"))
	w.require(t, "HEAD", "/v2/"+confCtrdRepo+"/manifests/v1", 401, nil)
}
