//go:build e2e

package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// containerdSuite is ctr, containerd's own client, with a containerd daemon
// of the test's own, in one column per containerd version (confCtrd16,
// confCtrd24). ctr makes the registry requests itself, with containerd's
// resolver (User-Agent containerd/<version>), as dockerd with the containerd
// image store, nerdctl and BuildKit do; the daemon keeps the content store.
//
// With credentials (--user) containerd asks for tokens by the OAuth2 POST
// password grant (grant_type=password, client_id=containerd-client, every
// scope space-separated in one field) and falls back to GET with Basic auth
// only when the POST fails (401, 404, 400); anonymous requests use GET.
// Pushes ask "pull,push" along with the challenge's "pull". A push of blobs
// that were pulled from another repository of the same registry mounts them,
// naming the source's pull in the same token request.
func containerdSuite(v confCtrdVersion) confClientSuite {
	const noDelete = "ctr cannot delete from a registry: ctr images rm removes only the local image"
	const noCatalog = "ctr has no catalog command"
	return confClientSuite{
		name: v.column,
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
			"push":           v.pushFlow,
			"pull":           v.pullFlow,
			"manifest-head":  v.headFlow,
			"nested-name":    v.nestedFlow,
			"anonymous-pull": v.anonymousPullFlow,
			"mount":          v.mountFlow,
			"space-scope":    v.spaceScopeFlow,
			"mount-refused":  v.mountRefusedFlow,
			"wrong-password": func(t *testing.T, c *confStack) { v.badCredentials(t, c, "alice", "wrong") },
			"unknown-user":   func(t *testing.T, c *confStack) { v.badCredentials(t, c, "mallory", "mallory") },
			"no-credentials": v.noCredentialsFlow,
		},
	}
}

// A confCtrdVersion is what differs between the containerd columns: the
// binaries, the daemon's configuration, how ctr is told to make the registry
// requests itself, and what the version does after a refused mount.
type confCtrdVersion struct {
	column string // the table's column: client name and version
	dir    string // the column's own path segment in repository names and tags
	// binaries returns the paths of the daemon and of ctr; a missing one
	// fails the step with its install hint.
	binaries func(t testing.TB) (containerd, ctr string)
	// config is the daemon's configuration: a format taking root, state, the
	// gRPC socket and the ttrpc socket.
	config string
	// remoteFlags go into every ctr command that talks to the registry.
	remoteFlags []string
	// agent starts the User-Agent of its registry requests: the wire shows
	// which containerd sent them, as both versions' binaries are named ctr.
	agent string
	// refusedLogin is what ctr prints when the token realm refuses the
	// credentials: only the status, never regtoken's message.
	refusedLogin []string
	// mountFallback: a push uploads a blob whose mount the registry refused.
	mountFallback bool
}

// confCtrd16 is Debian's containerd 1.6.20, found on PATH.
var confCtrd16 = confCtrdVersion{
	column: "containerd 1.6",
	dir:    "containerd",
	binaries: func(t testing.TB) (string, string) {
		return harness.Tool(t, "containerd"), harness.Tool(t, "ctr")
	},
	config:       confCtrd16Config,
	agent:        "containerd/1.6.",
	refusedLogin: []string{"failed to fetch oauth token: unexpected status: 401 Unauthorized"},
}

// confCtrd24 is containerd 2.4.2, built by .ci/test.sh into a directory of
// its own. Its ctr pulls and pushes through the daemon's transfer service
// unless told --local. With --local, ctr itself makes the requests with the
// resolver and authorizer of core/remotes/docker, as ctr 1.6 did and as
// dockerd's containerd image store, nerdctl and BuildKit do in their own
// process: that is the path this column tests. The transfer service runs the
// same resolver code inside the daemon, with ctr's credentials sent back over
// a stream (a push that way put the same POST on the wire), but it unpacks
// only as the daemon's transfer configuration says and refuses
// --snapshotter native ("no unpack platforms defined").
var confCtrd24 = confCtrdVersion{
	column:        "containerd 2.4",
	dir:           "containerd2",
	binaries:      harness.Containerd2,
	config:        confCtrd24Config,
	remoteFlags:   []string{"--local"},
	agent:         "containerd/2.4.",
	mountFallback: true,
	// 2.x names the request that failed; the URL holds no credentials.
	refusedLogin: []string{"failed to fetch oauth token: unexpected status from GET request to http://",
		"/v2/token?scope=", ": 401 Unauthorized"},
}

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
	c       *confStack
	v       confCtrdVersion
	ctrPath string // the path of the ctr of the daemon's version
	sock    string
	p       *harness.Process
}

// confCtrd16Config is a minimal containerd 1.6 configuration. Of the plugins,
// ctr needs only the content store, metadata and images services; the ones
// turned off here cannot load in a test directory (aufs, btrfs, devmapper,
// zfs), serve Kubernetes (cri) or write outside it (opt: /opt/containerd).
const confCtrd16Config = `version = 2
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

// confCtrd24Config is the same for containerd 2.4, in its own format
// (version 4: the sockets are the server plugins' settings; an older version
// would be migrated at every start, with a warning). Turned off: Kubernetes
// (the three cri plugins and the pod sandbox controller, which fails without
// them), and what reads or writes outside the test directory: opt
// (/opt/containerd), NRI (/var/run/nri/nri.sock, /opt/nri, /etc/nri) and the
// image verifiers (runs programs from /opt/containerd/image-verifier/bin).
// No imports: nothing from /etc/containerd/conf.d. containerd 2.4 as built
// by .ci/test.sh has no aufs, btrfs, devmapper or zfs.
const confCtrd24Config = `version = 4
root = %q
state = %q
imports = []
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.cri.v1.images",
  "io.containerd.cri.v1.runtime",
  "io.containerd.podsandbox.controller.v1.podsandbox",
  "io.containerd.internal.v1.opt",
  "io.containerd.nri.v1.nri",
  "io.containerd.image-verifier.v1.bindir",
]

[plugins."io.containerd.server.v1.grpc"]
  address = %q

[plugins."io.containerd.server.v1.ttrpc"]
  address = %q
`

// startDaemon starts a containerd of version v for one step, stopped when
// the step ends. A daemon that does not start fails the step with its output.
func (v confCtrdVersion) startDaemon(t *testing.T, c *confStack) *confCtrd {
	t.Helper()
	// Fail here, with the install hint, rather than at the first command.
	containerd, ctr := v.binaries(t)
	dir := harness.ShortDir(t)
	d := &confCtrd{c: c, v: v, ctrPath: ctr, sock: filepath.Join(dir, "c.sock")}
	cfg := filepath.Join(dir, "config.toml")
	harness.WriteFile(t, cfg, fmt.Sprintf(v.config,
		filepath.Join(dir, "root"), filepath.Join(dir, "state"), d.sock, filepath.Join(dir, "t.sock")), 0o644)
	d.p = harness.Start(t, "containerd", exec.Command(containerd, "--config", cfg))
	d.p.WaitDial(t, "unix", d.sock, 30*time.Second)
	return d
}

// ctr runs ctr against the daemon, in the suite's namespace. run looks the
// program up with exec.LookPath, which takes a path as it is.
func (d *confCtrd) ctr(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	return run(t, d.c.s, d.ctrPath, append([]string{"--address", d.sock, "--namespace", confCtrdNamespace}, args...)...)
}

// remote runs a ctr command (cmd, then ref on the stack's registry) that
// talks to the plain-HTTP registry as user with pass, or anonymously for "".
func (d *confCtrd) remote(t *testing.T, user, pass string, cmd []string, ref string) (string, bool) {
	t.Helper()
	args := append(slices.Clone(cmd), d.v.remoteFlags...)
	args = append(args, "--plain-http")
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

// repo is a repository of this column's own under team/ (alice's), so that
// the two containerd columns do not push over each other's images.
func (v confCtrdVersion) repo(name string) string { return "team/" + v.dir + "/" + name }

// requireAgent checks that every token request came from this column's
// containerd: both versions' programs are named containerd and ctr.
func (v confCtrdVersion) requireAgent(t *testing.T, w confWire) {
	t.Helper()
	for _, r := range w.tokens() {
		if !strings.HasPrefix(r.Agent, v.agent) {
			t.Errorf("a token request came from %q, not %s (User-Agent %s…)", r.Agent, v.column, v.agent)
			return
		}
	}
}

// passwordGrant checks the point of this column: containerd, given
// credentials, asked for the token by the OAuth2 POST password grant as
// user, regtoken answered it 200, and containerd never fell back to GET.
// (The wire log keeps grant_type, username and scope of a POST; that the
// client_id is there shows in regtoken answering 200: it refuses a POST
// without one.)
func (v confCtrdVersion) passwordGrant(t *testing.T, w confWire, user, desc string, match func(harness.WireRequest) bool) harness.WireRequest {
	t.Helper()
	tok := w.requireToken(t, "by POST grant_type=password as "+user+" "+desc, func(r harness.WireRequest) bool {
		return r.Method == "POST" && r.Form.Get("grant_type") == "password" && r.Form.Get("username") == user && match(r)
	})
	for _, r := range w.tokens() {
		if r.Method != "POST" {
			t.Errorf("containerd fell back to %s for a token although it had credentials; token requests:\n%s", r.Method, w.tokens())
			break
		}
	}
	v.requireAgent(t, w)
	return tok
}

// anonymous checks that an anonymous containerd asked by GET, without Basic
// auth, and never by POST.
func (v confCtrdVersion) anonymous(t *testing.T, w confWire, desc string, match func(harness.WireRequest) bool) {
	t.Helper()
	w.requireToken(t, "anonymously by GET "+desc, confByUser("-", func(r harness.WireRequest) bool {
		return r.Method == "GET" && match(r)
	}))
	for _, r := range w.tokens() {
		if r.Method == "POST" {
			t.Errorf("containerd without credentials sent a POST to the token realm:\n%s", w.tokens())
			break
		}
	}
	v.requireAgent(t, w)
}

func (v confCtrdVersion) pushFlow(t *testing.T, c *confStack) {
	d := v.startDaemon(t, c)
	repo := v.repo("app")
	d.importImage(t, repo+":v1")
	w := c.watch(t, func() {
		out, ok := d.push(t, "alice", repo+":v1")
		confMustPass(t, "ctr images push as alice", out, ok)
	})
	v.passwordGrant(t, w, "alice", "for pull,push", confScopesInclude("repository:"+repo+":pull,push"))
	w.require(t, "PUT", "/v2/"+repo+"/manifests/v1", 201, nil)
}

func (v confCtrdVersion) pullFlow(t *testing.T, c *confStack) {
	d := v.startDaemon(t, c)
	repo := v.repo("app")
	w := c.watch(t, func() {
		out, ok := d.pull(t, "alice", "alice", repo+":v1")
		confMustPass(t, "ctr images pull as alice", out, ok)
	})
	v.passwordGrant(t, w, "alice", "for pull", confScopesAre("repository:"+repo+":pull"))
	w.require(t, "GET", "", 200, func(r harness.WireRequest) bool {
		return strings.HasPrefix(r.Path(), "/v2/"+repo+"/blobs/sha256:")
	})
}

// headFlow: containerd resolves a tag with HEAD before it fetches the
// manifest by digest.
func (v confCtrdVersion) headFlow(t *testing.T, c *confStack) {
	d := v.startDaemon(t, c)
	repo := v.repo("app")
	w := c.watch(t, func() {
		out, ok := d.pull(t, "alice", "alice", repo+":v1")
		confMustPass(t, "ctr images pull as alice", out, ok)
	})
	w.require(t, "HEAD", "/v2/"+repo+"/manifests/v1", 200, nil)
}

// nestedFlow pushes with one daemon and pulls with a second, whose content
// store is empty, so that the pull downloads.
func (v confCtrdVersion) nestedFlow(t *testing.T, c *confStack) {
	const name = "team/web-app.v2/api_x"
	tag := v.dir
	pusher, puller := v.startDaemon(t, c), v.startDaemon(t, c)
	pusher.importImage(t, name+":"+tag)
	w := c.watch(t, func() {
		out, ok := pusher.push(t, "alice", name+":"+tag)
		confMustPass(t, "ctr images push "+name, out, ok)
		out, ok = puller.pull(t, "alice", "alice", name+":"+tag)
		confMustPass(t, "ctr images pull "+name, out, ok)
	})
	v.passwordGrant(t, w, "alice", "for "+name, confScopesInclude("repository:"+name+":pull,push"))
	w.require(t, "PUT", "/v2/"+name+"/manifests/"+tag, 201, nil)
	w.require(t, "HEAD", "/v2/"+name+"/manifests/"+tag, 200, nil)
}

func (v confCtrdVersion) anonymousPullFlow(t *testing.T, c *confStack) {
	d := v.startDaemon(t, c)
	w := c.watch(t, func() {
		out, ok := d.pull(t, "", "", "some-image:latest")
		confMustPass(t, "anonymous ctr images pull some-image", out, ok)
	})
	v.anonymous(t, w, "for some-image", confScopesAre("repository:some-image:pull"))
}

// mountPush pulls the column's app repository as alice, which labels its
// blobs with the repository they came from, names the image target too, and
// pushes that as user: containerd asks for the source's pull and mounts. It
// returns what the push put on the wire and whether it succeeded.
func (v confCtrdVersion) mountPush(t *testing.T, c *confStack, user, target string) (confWire, string, bool) {
	d := v.startDaemon(t, c)
	source := v.repo("app")
	out, ok := d.pull(t, "alice", "alice", source+":v1")
	confMustPass(t, "ctr images pull (the mount's source)", out, ok)
	d.tag(t, source+":v1", target+":v1")
	w := c.watch(t, func() { out, ok = d.push(t, user, target+":v1") })
	return w, out, ok
}

// mountFlow: the token request names target and source, the registry mounts
// every blob, and nothing is uploaded.
func (v confCtrdVersion) mountFlow(t *testing.T, c *confStack) {
	source, target := v.repo("app"), v.repo("mounted")
	w, out, ok := v.mountPush(t, c, "alice", target)
	confMustPass(t, "ctr images push "+target+" as alice", out, ok)
	v.passwordGrant(t, w, "alice", "naming target and source",
		confScopesInclude("repository:"+target+":pull,push", "repository:"+source+":pull"))
	if from := w.mountFrom(t, target, c.mountStatus()); from != source {
		t.Errorf("containerd mounted from %s, want %s", from, source)
	}
	for _, r := range w {
		if !c.onZot() && r.Method == "PUT" && strings.HasPrefix(r.Path(), "/v2/"+target+"/blobs/uploads/") {
			t.Errorf("containerd uploaded a blob it could mount:\n%s", w)
			break
		}
	}
	w.require(t, "PUT", "/v2/"+target+"/manifests/v1", 201, nil)
}

// spaceScopeFlow: containerd's POST carries target and source in one
// space-separated scope field, and regtoken grants both.
func (v confCtrdVersion) spaceScopeFlow(t *testing.T, c *confStack) {
	source, target := v.repo("app"), v.repo("mounted-again")
	w, out, ok := v.mountPush(t, c, "alice", target)
	confMustPass(t, "ctr images push "+target+" as alice", out, ok)
	v.passwordGrant(t, w, "alice", "with target and source space-separated in one field",
		confSpaceSeparated("repository:"+target+":pull,push", "repository:"+source+":pull"))
	w.require(t, "POST", "/v2/"+target+"/blobs/uploads/", c.mountStatus(), confWithMount(source))
}

// confCtrdNoMountFallback is why containerd 1.6's mount-refused cell is n/a.
const confCtrdNoMountFallback = "containerd before 2.1 (ctr 1.6.20 here) ends the push when the registry " +
	"refuses the mount (401 insufficient_scope), instead of uploading the blob: containerd issue #12163, " +
	"fixed by containerd PR #11709 (the containerd 2.4 column passes this row); the test checks that regtoken granted the target and left the source " +
	"out (200 POST) and that ctr failed only on the refused mount"

// mountRefusedFlow pushes as bob, who may not read team/**: his token leaves
// the source out and the registry refuses the mount. A client should then
// upload the blobs. containerd 2.4 does (the fix of containerd#12163 in 2.1);
// containerd 1.6 gives up instead, which makes its cell n/a once the wire
// shows that regtoken did its part.
func (v confCtrdVersion) mountRefusedFlow(t *testing.T, c *confStack) {
	source, target := v.repo("app"), "bob/"+v.dir+"-copy"
	w, out, ok := v.mountPush(t, c, "bob", target)
	v.passwordGrant(t, w, "bob", "naming the refused source", confScopesInclude("repository:"+source+":pull"))
	w.require(t, "POST", "/v2/"+target+"/blobs/uploads/", c.refusedMountStatus(), confWithMount(source))
	if c.onZot() {
		c.requireRefused(t, "bob", "repository:"+source+":pull")
		confMustPass(t, "ctr images push as bob with a refused source (zot starts an upload)", out, ok)
		c.requireUploadAfterRefusedMount(t, w, target)
		w.require(t, "PUT", "/v2/"+target+"/manifests/v1", 201, nil)
		return
	}
	if !ok && !v.mountFallback {
		confMustFailWith(t, "ctr images push as bob with a refused source", out, ok, "insufficient_scope: authorization failed")
		c.notApplicable(confCtrdNoMountFallback)
		return
	}
	confMustPass(t, "ctr images push as bob with a refused source (it must upload instead)", out, ok)
	confCtrdUploadAfterRefusedMount(t, w, target)
	w.require(t, "PUT", "/v2/"+target+"/manifests/v1", 201, nil)
}

// confCtrdUploadAfterRefusedMount checks the order of the fallback: a plain
// upload POST to target (no mount) answered 202 after a mount POST answered
// 401, and a blob PUT 201 after that.
func confCtrdUploadAfterRefusedMount(t *testing.T, w confWire, target string) {
	t.Helper()
	uploads := "/v2/" + target + "/blobs/uploads/"
	refused := slices.IndexFunc(w, func(r harness.WireRequest) bool {
		return r.Method == "POST" && r.Path() == uploads && r.Status == 401 && r.Query().Get("mount") != ""
	})
	started := -1
	if refused >= 0 {
		started = slices.IndexFunc(w[refused:], func(r harness.WireRequest) bool {
			return r.Method == "POST" && r.Path() == uploads && r.Status == 202 && confWithoutMount(r)
		})
	}
	if started < 0 {
		t.Errorf("no upload POST to %s answered 202 after a refused mount; requests seen:\n%s", target, w)
		return
	}
	w[refused+started:].require(t, "PUT", "", 201, func(r harness.WireRequest) bool {
		return strings.HasPrefix(r.Path(), uploads)
	})
}

// badCredentials: the POST password grant is refused with 401, so
// containerd retries by GET with Basic auth, which is refused too: 401, not
// 429, because the same wrong password again is no new failure for the
// throttle (mallory has been refused in every column before this one).
func (v confCtrdVersion) badCredentials(t *testing.T, c *confStack, user, pass string) {
	d := v.startDaemon(t, c)
	repo := v.repo("app")
	var out string
	var ok bool
	w := c.watch(t, func() { out, ok = d.pull(t, user, pass, repo+":v1") })
	confMustFailWith(t, "ctr images pull as "+user+" with a bad password", out, ok, v.refusedLogin...)
	w.require(t, "POST", "/v2/token", 401, func(r harness.WireRequest) bool {
		return r.Form.Get("grant_type") == "password" && r.Form.Get("username") == user
	})
	w.require(t, "GET", "/v2/token", 401, func(r harness.WireRequest) bool { return r.User == user })
	v.requireAgent(t, w)
}

func (v confCtrdVersion) noCredentialsFlow(t *testing.T, c *confStack) {
	d := v.startDaemon(t, c)
	repo := v.repo("app")
	var out string
	var ok bool
	w := c.watch(t, func() { out, ok = d.pull(t, "", "", repo+":v1") })
	confMustFailWith(t, "anonymous ctr images pull of a private repository", out, ok, c.refusal(
		[]string{"pull access denied", "may require authorization", "insufficient_scope"},
		[]string{"failed to resolve reference", "401 Unauthorized"})...)
	v.anonymous(t, w, "for the private repository", confScopesAre("repository:"+repo+":pull"))
	w.require(t, "HEAD", "/v2/"+repo+"/manifests/v1", 401, nil)
}
