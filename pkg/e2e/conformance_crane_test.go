//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// craneSuite is crane (go-containerregistry), which asks "push,pull" for
// pushes and "push,pull,delete" for deletes, and re-sends a registry
// challenge's scope list as one space-separated scope parameter.
func craneSuite() confClientSuite {
	return confClientSuite{
		name: "crane",
		unsupported: map[string]string{
			"login":           "crane auth login only writes the credentials file; it never contacts the registry",
			"account-differs": "crane never sends the account parameter",
			"readme-tags":     "a curl row (the original README's example)",
			"readme-catalog":  "a curl row (the original README's example)",
		},
		unsupportedOn: map[string]map[string]string{harness.RegistryZot: {
			"space-scope": "crane sends a challenge's scope list back as one parameter, and zot's challenges name " +
				"one scope each (curl covers space-separated scopes on zot)",
			"mount-refused": "crane names a mount's source only when the registry's challenge asks for it (it reads " +
				"from a second registry name here); zot does not check a mount's source, so it never asks",
		}},
		steps: map[string]func(*testing.T, *confStack){
			"push":              cranePushFlow,
			"pull":              cranePullFlow,
			"tags-list":         craneTagsFlow,
			"manifest-head":     craneHeadFlow,
			"nested-name":       craneNestedFlow,
			"anonymous-pull":    craneAnonymousPullFlow,
			"mount":             func(t *testing.T, c *confStack) { craneMountFlow(t, c, "team/crane/mounted") },
			"repeated-scope":    func(t *testing.T, c *confStack) { craneMountFlow(t, c, "team/crane/mounted-again") },
			"mount-refused":     craneMountRefusedFlow,
			"space-scope":       craneSpaceScopeFlow,
			"delete":            func(t *testing.T, c *confStack) { craneDeleteFlow(t, c, "alice", "team/crane/del") },
			"delete-star":       func(t *testing.T, c *confStack) { craneDeleteFlow(t, c, "bob", "bob/crane-del") },
			"delete-refused":    craneDeleteRefusedFlow,
			"catalog":           craneCatalogFlow,
			"catalog-anonymous": craneCatalogAnonymousFlow,
			"wrong-password":    func(t *testing.T, c *confStack) { craneBadCredentials(t, c, "alice", "wrong") },
			"unknown-user":      func(t *testing.T, c *confStack) { craneBadCredentials(t, c, "mallory", "mallory") },
			"no-credentials":    craneNoCredentialsFlow,
		},
	}
}

const confCraneRepo = "team/crane/app"

func cranePushFlow(t *testing.T, c *confStack) {
	c.as(t, "alice")
	w := c.watch(t, func() {
		out, ok := cranePush(t, c.s, confCraneRepo+":v1")
		confMustPass(t, "crane append (push) as alice", out, ok)
	})
	w.requireToken(t, "from alice for push,pull", confByUser("alice", confScopesAre("repository:"+confCraneRepo+":push,pull")))
	w.require(t, "PUT", "/v2/"+confCraneRepo+"/manifests/v1", 201, nil)
}

func cranePullFlow(t *testing.T, c *confStack) {
	c.as(t, "alice")
	w := c.watch(t, func() {
		out, ok := crane(t, c.s, "pull", c.ref(confCraneRepo+":v1"), filepath.Join(t.TempDir(), "img.tar"))
		confMustPass(t, "crane pull", out, ok)
	})
	w.requireToken(t, "for pull", confByUser("alice", confScopesAre("repository:"+confCraneRepo+":pull")))
}

func craneTagsFlow(t *testing.T, c *confStack) {
	c.as(t, "alice")
	w := c.watch(t, func() {
		out, ok := crane(t, c.s, "ls", c.ref(confCraneRepo))
		confMustPass(t, "crane ls", out, ok)
		if strings.TrimSpace(out) != "v1" {
			t.Errorf("crane ls printed %q, want v1", out)
		}
	})
	w.require(t, "GET", "/v2/"+confCraneRepo+"/tags/list", 200, nil)
}

func craneHeadFlow(t *testing.T, c *confStack) {
	c.as(t, "alice")
	w := c.watch(t, func() {
		out, ok := crane(t, c.s, "digest", c.ref(confCraneRepo+":v1"))
		confMustPass(t, "crane digest", out, ok)
		if !strings.HasPrefix(out, "sha256:") {
			t.Errorf("crane digest printed %q", out)
		}
	})
	w.require(t, "HEAD", "/v2/"+confCraneRepo+"/manifests/v1", 200, nil)
}

func craneNestedFlow(t *testing.T, c *confStack) {
	c.as(t, "alice")
	const name = "team/web-app.v2/api_x"
	w := c.watch(t, func() {
		out, ok := cranePush(t, c.s, name+":crane")
		confMustPass(t, "crane push "+name, out, ok)
		out, ok = crane(t, c.s, "pull", c.ref(name+":crane"), filepath.Join(t.TempDir(), "img.tar"))
		confMustPass(t, "crane pull "+name, out, ok)
	})
	w.requireToken(t, "for "+name, confScopesAre("repository:"+name+":push,pull"))
	w.require(t, "PUT", "/v2/"+name+"/manifests/crane", 201, nil)
}

func craneAnonymousPullFlow(t *testing.T, c *confStack) {
	c.as(t, "")
	w := c.watch(t, func() {
		out, ok := crane(t, c.s, "pull", c.ref("some-image:latest"), filepath.Join(t.TempDir(), "img.tar"))
		confMustPass(t, "anonymous crane pull some-image", out, ok)
	})
	w.requireToken(t, "anonymous for some-image", confByUser("-", confScopesAre("repository:some-image:pull")))
}

// craneMountFlow copies within the registry: crane first asks for the
// target, then (seeing a layer from another repository) for target and
// source together, as separate scope parameters, and mounts.
func craneMountFlow(t *testing.T, c *confStack, target string) {
	c.as(t, "alice")
	w := c.watch(t, func() {
		out, ok := crane(t, c.s, "copy", c.ref(confCraneRepo+":v1"), c.ref(target+":v1"))
		confMustPass(t, "crane copy", out, ok)
	})
	w.requireToken(t, "with target and source as two scope parameters",
		confSeparateScopes("repository:"+target+":push,pull", "repository:"+confCraneRepo+":pull"))
	w.require(t, "POST", "/v2/"+target+"/blobs/uploads/", c.mountStatus(), confWithMount(confCraneRepo))
}

// craneSpaceScopeFlow reads through the registry's second name (as alice)
// and writes through the first (as alice): for crane these are two
// registries, so it mounts without asking for the source; the registry's
// challenge lists both scopes, which crane sends back as one
// space-separated scope parameter, and then the mount succeeds.
func craneSpaceScopeFlow(t *testing.T, c *confStack) {
	c.as(t, "alice")
	confCraneLoginTo(t, c.s, c.alias(), "alice")
	target := "team/crane/via-alias"
	w := c.watch(t, func() {
		out, ok := crane(t, c.s, "copy", c.alias()+"/"+confCraneRepo+":v1", c.ref(target+":v1"))
		confMustPass(t, "crane copy from the alias", out, ok)
	})
	w.requireToken(t, "with target and source space-separated in one parameter",
		confByUser("alice", confSpaceSeparated("repository:"+confCraneRepo+":pull")))
	w.require(t, "POST", "/v2/"+target+"/blobs/uploads/", 201, confWithMount(confCraneRepo))
}

// craneMountRefusedFlow is the same copy with bob as the writer: bob may not
// read team/**, so his token leaves the source out, the mount is refused, and
// crane uploads the blobs instead.
func craneMountRefusedFlow(t *testing.T, c *confStack) {
	c.as(t, "bob")
	confCraneLoginTo(t, c.s, c.alias(), "alice")
	target := "bob/crane-copy"
	w := c.watch(t, func() {
		out, ok := crane(t, c.s, "copy", c.alias()+"/"+confCraneRepo+":v1", c.ref(target+":v1"))
		confMustPass(t, "crane copy as bob with a refused source", out, ok)
	})
	w.requireToken(t, "from bob naming the refused source", confByUser("bob", confScopesInclude("repository:"+confCraneRepo+":pull")))
	w.require(t, "POST", "/v2/"+target+"/blobs/uploads/", 401, confWithMount(confCraneRepo))
	w.require(t, "POST", "/v2/"+target+"/blobs/uploads/", 202, confWithoutMount)
	w.require(t, "PUT", "/v2/"+target+"/manifests/v1", 201, nil)
}

func craneDeleteFlow(t *testing.T, c *confStack, user, repo string) {
	c.as(t, user)
	out, ok := cranePush(t, c.s, repo+":v1")
	confMustPass(t, "crane push "+repo, out, ok)
	digest, ok := crane(t, c.s, "digest", c.ref(repo+":v1"))
	confMustPass(t, "crane digest", digest, ok)
	digest = strings.TrimSpace(digest)
	w := c.watch(t, func() {
		out, ok := crane(t, c.s, "delete", c.ref(repo+"@"+digest))
		confMustPass(t, "crane delete as "+user, out, ok)
	})
	w.requireToken(t, "for push,pull,delete", confByUser(user, confScopesInclude("repository:"+repo+":push,pull,delete")))
	w.require(t, "DELETE", "/v2/"+repo+"/manifests/"+digest, 202, nil)
	if out, ok := crane(t, c.s, "digest", c.ref(repo+":v1")); ok {
		t.Errorf("the manifest is still there after crane delete: %s", out)
	}
}

func craneDeleteRefusedFlow(t *testing.T, c *confStack) {
	c.as(t, "bar")
	digest, ok := crane(t, c.s, "digest", c.ref(confCraneRepo+":v1"))
	confMustPass(t, "crane digest as bar", digest, ok)
	digest = strings.TrimSpace(digest)
	out, ok := crane(t, c.s, "delete", c.ref(confCraneRepo+"@"+digest))
	confMustFailWith(t, "crane delete as bar (pull,push only)", out, ok, "UNAUTHORIZED")
	if out, ok := crane(t, c.s, "digest", c.ref(confCraneRepo+":v1")); !ok {
		t.Errorf("the refused delete removed the manifest: %s", out)
	}
}

func craneCatalogFlow(t *testing.T, c *confStack) {
	c.as(t, "alice")
	w := c.watch(t, func() {
		out, ok := crane(t, c.s, "catalog", c.s.Host)
		confMustPass(t, "crane catalog as alice", out, ok)
		for _, repo := range []string{"some-image", confCraneRepo} {
			if !strings.Contains(out, repo+"\n") {
				t.Errorf("crane catalog lacks %s:\n%s", repo, out)
			}
		}
	})
	w.requireToken(t, "for the catalog", confByUser("alice", confScopesAre("registry:catalog:*")))
	if c.onZot() {
		// zot challenges the catalog with its own scope, which crane adds.
		w.requireToken(t, "for zot's catalog scope", confByUser("alice", confScopesInclude("registry:catalog:*", "repository::pull")))
	}
}

func craneCatalogAnonymousFlow(t *testing.T, c *confStack) {
	c.as(t, "")
	out, ok := crane(t, c.s, "catalog", c.s.Host)
	confMustFailWith(t, "anonymous crane catalog", out, ok, "UNAUTHORIZED", "authentication required")
}

// craneBadCredentials: the token endpoint's 401 message must reach the user.
func craneBadCredentials(t *testing.T, c *confStack, user, pass string) {
	c.as(t, "")
	confCraneLoginAs(t, c.s, c.s.Host, user, pass)
	out, ok := crane(t, c.s, "pull", c.ref(confCraneRepo+":v1"), filepath.Join(t.TempDir(), "img.tar"))
	confMustFailWith(t, "crane pull as "+user+" with a bad password", out, ok, "UNAUTHORIZED", "incorrect username or password")
}

func craneNoCredentialsFlow(t *testing.T, c *confStack) {
	c.as(t, "")
	out, ok := crane(t, c.s, "pull", c.ref(confCraneRepo+":v1"), filepath.Join(t.TempDir(), "img.tar"))
	confMustFailWith(t, "anonymous crane pull of a private repository", out, ok, "UNAUTHORIZED", "authentication required")
}

// confCraneLoginTo stores user's credentials (password = user name) for host.
func confCraneLoginTo(t *testing.T, s *harness.Stack, host, user string) {
	t.Helper()
	confCraneLoginAs(t, s, host, user, user)
}

func confCraneLoginAs(t *testing.T, s *harness.Stack, host, user, pass string) {
	t.Helper()
	if out, ok := crane(t, s, "auth", "login", host, "-u", user, "-p", pass); !ok {
		t.Fatalf("crane auth login %s at %s: %s", user, host, out)
	}
}
