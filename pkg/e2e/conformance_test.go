//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// TestConformance drives real clients (crane, skopeo, the docker CLI with a
// real engine, oras, containerd, curl for the original README's examples)
// through every flow in confFlows against nginx + regtoken (SCGI) +
// registry 2.8, 3.1 and zot, one stack per registry, and prints the client ×
// registry × flow table. Any cell a client supports that does not pass fails
// the test. Without a zot binary (and without REGTOKEN_REQUIRE_ZOT) the zot
// columns say they did not run, as the docker columns do without an engine.
//
// Rules: testdata/conformance (see its README.md). The nginx access log of
// each stack (harness.WireLog) shows what the clients put on the wire, so the
// rows about request shapes check the real requests, not what we assume.
func TestConformance(t *testing.T) {
	t.Parallel()
	versions := []string{harness.Registry28, harness.Registry3, harness.RegistryZot}
	tb := confNewTable(versions)
	_, why := harness.DockerEngine(t)
	engine := why == ""
	if !engine {
		t.Logf("THE DOCKER PART DID NOT RUN: %s. Its cells say %q.", why, confCellNoDocker)
	}
	_, whyNoZot := harness.Zot(t)
	if whyNoZot != "" {
		t.Logf("THE ZOT COLUMNS DID NOT RUN: %s. Their cells say %q.", whyNoZot, confCellNoZot)
	}
	t.Run("registries", func(t *testing.T) {
		for _, v := range versions {
			if v == harness.RegistryZot && whyNoZot != "" {
				tb.notRun(v, confCellNoZot)
				continue
			}
			t.Run("registry "+v, func(t *testing.T) {
				t.Parallel()
				confRunConformance(t, tb, v, engine)
			})
		}
	})
	for _, m := range tb.missing() {
		t.Errorf("conformance cell without a result: %s", m)
	}
	out := tb.markdown()
	t.Log("conformance table:\n" + out)
	fmt.Printf("\nregtoken conformance (client/registry × flow):\n\n%s\n", out)
	if !engine {
		fmt.Printf("The docker columns did not run: %s.\n", why)
	}
	if whyNoZot != "" {
		fmt.Printf("The zot columns did not run: %s.\n", whyNoZot)
	}
	fmt.Printf("n/a cells:\n%s", tb.naNotes())
	// go test shows a passing package's output only with -v; CI and README
	// updates can ask for the table in a file instead.
	if path := os.Getenv("REGTOKEN_CONFORMANCE_TABLE"); path != "" {
		if err := os.WriteFile(path, []byte(out+"\nn/a cells:\n"+tb.naNotes()), 0o644); err != nil {
			t.Errorf("write the conformance table: %v", err)
		}
	}
}

// confStack is one registry version's stack and what its flows share.
type confStack struct {
	s        *harness.Stack
	wire     *harness.WireLog
	version  string
	results  *confTable
	dockerOK bool   // a Docker engine answers
	naWhy    string // set by a step that finds its flow does not apply
	policy   string // containers policy.json for skopeo
}

// confClientSuite is one client's column: a step per flow it supports, and the
// reason for every flow it does not.
type confClientSuite struct {
	name        string
	steps       map[string]func(t *testing.T, c *confStack)
	unsupported map[string]string
	// unsupportedOn are the flows that do not apply on one registry
	// (harness.RegistryZot, ...) only, and why.
	unsupportedOn map[string]map[string]string
	// needsDocker marks the suite that cannot run without a Docker engine.
	needsDocker bool
}

// confAllSuites are the columns, in the order they run. curl stays last: its
// README catalog row turns on anonymous_catalog for the rest of the stack.
func confAllSuites() []confClientSuite {
	return []confClientSuite{
		craneSuite(), skopeoSuite(), dockerSuite(), orasSuite(),
		containerdSuite(confCtrd16), containerdSuite(confCtrd24),
		curlSuite(),
	}
}

func confRunConformance(t *testing.T, tb *confTable, version string, engine bool) {
	s := harness.StartStack(t, harness.StackOptions{
		Registry:     version,
		Users:        harness.Testdata("conformance", "users.json"),
		Repositories: harness.Testdata("conformance", "repositories.json"),
		Groups:       harness.Testdata("conformance", "groups.json"),
		Delete:       true,
	})
	c := &confStack{s: s, wire: s.EnableWireLog(t), version: version, results: tb, dockerOK: engine}
	c.policy = filepath.Join(s.Dir, "policy.json")
	harness.WriteFile(t, c.policy, `{"default":[{"type":"insecureAcceptAnything"}]}`, 0o644)
	if engine {
		t.Cleanup(func() { confDockerCleanup(t, c) })
	}
	confCheckRegistry(t, c)
	c.setup(t)
	for _, suite := range confAllSuites() {
		c.runSuite(t, suite)
	}
}

// confCheckRegistry runs regtoken check -registry on the configuration the
// stack's registry really runs with: a pairing that works must pass, with
// every registry version that reads such a file accepting the sample token.
func confCheckRegistry(t *testing.T, c *confStack) {
	t.Helper()
	out, err := exec.Command(harness.Binary(t), "check", "-config", c.s.ConfigPath, "-registry", c.s.RegistryConfig).CombinedOutput()
	if err != nil || strings.Contains(string(out), "MISMATCH") || strings.Contains(string(out), "REFUSE") {
		t.Errorf("regtoken check -registry %s: %v\n%s", c.s.RegistryConfig, err, out)
	}
}

// setup pushes some-image:latest as bar (the original README's pusher): the
// README examples and the anonymous pulls read it, and the README's
// tags/list output must be exactly ["latest"].
func (c *confStack) setup(t *testing.T) {
	c.as(t, "bar")
	if out, ok := cranePush(t, c.s, "some-image:latest"); !ok {
		t.Fatalf("setup: bar pushes some-image:latest: %s", out)
	}
	c.as(t, "")
}

// runSuite runs a client's steps in table order, each as a subtest, and
// records its cells.
func (c *confStack) runSuite(t *testing.T, suite confClientSuite) {
	col := confColumn(suite.name, c.version)
	c.as(t, "")
	if suite.needsDocker && !c.dockerOK {
		t.Logf("docker/%s did not run: no Docker engine (docker info failed)", c.version)
	}
	for _, f := range confFlows {
		if why := suite.whyNA(f.id, c.version); why != "" {
			c.results.setNA(f.id, suite.name, c.version, why)
			continue
		}
		step := suite.steps[f.id]
		if step == nil {
			continue // reported as a missing cell
		}
		if suite.needsDocker && !c.dockerOK {
			c.results.set(f.id, col, confCellNoDocker)
			continue
		}
		c.naWhy = ""
		passed := t.Run(suite.name+"/"+f.id, func(t *testing.T) { step(t, c) })
		switch {
		case !passed:
			c.results.set(f.id, col, confCellFail)
		case c.naWhy != "":
			c.results.setNA(f.id, suite.name, c.version, c.naWhy)
		default:
			c.results.set(f.id, col, confCellPass)
		}
	}
	c.as(t, "")
}

// whyNA says why flow does not apply to the client on registry version, or
// "" when it does. A reason that holds on one registry only names it.
func (suite confClientSuite) whyNA(flow, version string) string {
	if why := suite.unsupported[flow]; why != "" {
		return why
	}
	if why := suite.unsupportedOn[version][flow]; why != "" {
		return confRegistryName(version) + ": " + why
	}
	return ""
}

// notRun fills every cell of registry version's columns that applies with
// cell (a column that could not run), and the others with n/a.
func (tb *confTable) notRun(version, cell string) {
	for _, suite := range confAllSuites() {
		for _, f := range confFlows {
			if why := suite.whyNA(f.id, version); why != "" {
				tb.setNA(f.id, suite.name, version, why)
				continue
			}
			tb.set(f.id, confColumn(suite.name, version), cell)
		}
	}
}

// notApplicable ends a step whose flow this client turned out not to
// produce (what it sends depends on the server's answers); the cell becomes
// n/a with why, instead of pass.
func (c *confStack) notApplicable(why string) { c.naWhy = why }

// as makes user the one whose credentials crane, skopeo and docker find in
// the stack's private config; "" logs everybody out.
func (c *confStack) as(t *testing.T, user string) {
	t.Helper()
	craneLogout(t, c.s)
	os.Remove(filepath.Join(c.s.Dir, "home", "auth.json"))
	if user != "" {
		craneLogin(t, c.s, user, user)
	}
}

// alias is the stack's registry under a second name (127.0.0.1:PORT), which
// clients treat as another registry with its own credentials.
func (c *confStack) alias() string {
	return strings.Replace(c.s.Host, "localhost", "127.0.0.1", 1)
}

// ref is a reference on the stack's registry.
func (c *confStack) ref(name string) string { return c.s.Host + "/" + name }

// watch runs fn and returns the requests nginx saw meanwhile.
func (c *confStack) watch(t *testing.T, fn func()) confWire {
	t.Helper()
	mark := c.wire.Mark()
	fn()
	return confWire(c.wire.Since(t, mark))
}

// confRunIn runs a client with stdin (docker/skopeo --password-stdin).
func confRunIn(t *testing.T, s *harness.Stack, stdin, name string, args ...string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, harness.Tool(t, name), args...)
	cmd.Env = s.Env()
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// confMustPass fails the step when a client command failed.
func confMustPass(t *testing.T, what, out string, ok bool) {
	t.Helper()
	if !ok {
		t.Fatalf("%s failed:\n%s", what, out)
	}
}

// confMustFailWith checks that a client command failed and printed every want:
// the message a user sees is part of the contract.
func confMustFailWith(t *testing.T, what, out string, ok bool, wants ...string) {
	t.Helper()
	t.Logf("%s printed (what the user sees):\n%s", what, out)
	if ok {
		t.Fatalf("%s succeeded; it must be refused:\n%s", what, out)
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s: the client's message lacks %q:\n%s", what, w, out)
		}
	}
}

// confWire is what nginx logged during a step.
type confWire []harness.WireRequest

// tokens are the requests to the token realm.
func (w confWire) tokens() confWire {
	var out confWire
	for _, r := range w {
		if r.Path() == "/v2/token" {
			out = append(out, r)
		}
	}
	return out
}

func (w confWire) String() string {
	var b strings.Builder
	for _, r := range w {
		fmt.Fprintf(&b, "  %s %d user=%s %s", r.Method, r.Status, r.User, r.URI)
		if len(r.Form) > 0 {
			fmt.Fprintf(&b, " form=%s", r.Form.Encode())
		}
		b.WriteString("\n")
	}
	return b.String()
}

// requireToken checks that a token request matching match was answered 200.
func (w confWire) requireToken(t *testing.T, desc string, match func(r harness.WireRequest) bool) harness.WireRequest {
	t.Helper()
	for _, r := range w.tokens() {
		if r.Status == 200 && match(r) {
			return r
		}
	}
	t.Errorf("no token request %s was answered 200; token requests seen:\n%s", desc, w.tokens())
	return harness.WireRequest{}
}

// require checks that a registry request was answered with status; an empty
// path leaves the path to match.
func (w confWire) require(t *testing.T, method, path string, status int, match func(r harness.WireRequest) bool) {
	t.Helper()
	for _, r := range w {
		if r.Method == method && (path == "" || r.Path() == path) && r.Status == status && (match == nil || match(r)) {
			return
		}
	}
	t.Errorf("no %s %s answered %d; requests seen:\n%s", method, path, status, w)
}

// mountFrom returns the source repository of the mount request to target
// answered with status, which must be one of the team/ repositories.
func (w confWire) mountFrom(t *testing.T, target string, status int) string {
	t.Helper()
	for _, r := range w {
		if r.Method == "POST" && r.Path() == "/v2/"+target+"/blobs/uploads/" && r.Status == status && r.Query().Get("mount") != "" {
			if from := r.Query().Get("from"); strings.HasPrefix(from, "team/") {
				return from
			}
		}
	}
	t.Fatalf("no mount request to %s from a team/ repository answered %d; requests seen:\n%s", target, status, w)
	return ""
}

// confScopesAre matches a token request whose scope parameters are exactly want,
// in order: the form the client put on the wire.
func confScopesAre(want ...string) func(harness.WireRequest) bool {
	return func(r harness.WireRequest) bool { return slices.Equal(r.Params()["scope"], want) }
}

// confScopesInclude matches a token request naming every want in one request,
// whether as separate parameters or space-separated in one.
func confScopesInclude(want ...string) func(harness.WireRequest) bool {
	return func(r harness.WireRequest) bool {
		var got []string
		for _, v := range r.Params()["scope"] {
			got = append(got, strings.Fields(v)...)
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				return false
			}
		}
		return true
	}
}

// confSeparateScopes matches a request that sends want as separate parameters.
func confSeparateScopes(want ...string) func(harness.WireRequest) bool {
	return func(r harness.WireRequest) bool {
		got := r.Params()["scope"]
		for _, w := range want {
			if !slices.Contains(got, w) {
				return false
			}
		}
		return true
	}
}

// confSpaceSeparated matches a request with one scope parameter holding several
// scopes, including every want.
func confSpaceSeparated(want ...string) func(harness.WireRequest) bool {
	return func(r harness.WireRequest) bool {
		for _, v := range r.Params()["scope"] {
			f := strings.Fields(v)
			if len(f) < 2 {
				continue
			}
			all := true
			for _, w := range want {
				all = all && slices.Contains(f, w)
			}
			if all {
				return true
			}
		}
		return false
	}
}

// confByUser narrows a match to the Basic-auth user ("-" for anonymous).
func confByUser(user string, match func(harness.WireRequest) bool) func(harness.WireRequest) bool {
	return func(r harness.WireRequest) bool { return r.User == user && match(r) }
}

// confWithMount matches a blob upload POST that asks to mount from repository.
func confWithMount(from string) func(harness.WireRequest) bool {
	return func(r harness.WireRequest) bool { return r.Query().Get("from") == from && r.Query().Get("mount") != "" }
}

// confWithoutMount matches a plain blob upload POST.
func confWithoutMount(r harness.WireRequest) bool { return r.Query().Get("mount") == "" }

// onZot reports whether the stack's registry is zot, whose answers differ
// from distribution's where the wire shows them: see mountStatus and
// refusal.
func (c *confStack) onZot() bool { return c.version == harness.RegistryZot }

// mountStatus is the registry's answer to a mount whose source the token
// grants: 201 on distribution. zot mounts across repositories only out of
// its dedupe cache, which the stack turns off (see harness.startZot): it
// answers 202 and starts an upload instead, which the distribution spec
// allows, and the client uploads into that session.
func (c *confStack) mountStatus() int {
	if c.onZot() {
		return 202
	}
	return 201
}

// refusedMountStatus is the registry's answer to a mount whose source the
// token leaves out: 401 on distribution. zot does not check a mount's source
// under bearer auth, so it answers as to any mount (mountStatus); that the
// grant left the source out is then checked at the token endpoint itself
// (requireRefused).
func (c *confStack) refusedMountStatus() int {
	if c.onZot() {
		return c.mountStatus()
	}
	return 401
}

// requireUploadAfterRefusedMount checks that the client uploaded to target
// after its mount was refused: with a new upload (POST without mount, 202)
// on distribution; on zot, into the session its mount POST opened.
func (c *confStack) requireUploadAfterRefusedMount(t *testing.T, w confWire, target string) {
	t.Helper()
	if !c.onZot() {
		w.require(t, "POST", "/v2/"+target+"/blobs/uploads/", 202, confWithoutMount)
	}
	w.require(t, "PUT", "", 201, func(r harness.WireRequest) bool {
		return strings.HasPrefix(r.Path(), "/v2/"+target+"/blobs/uploads/")
	})
}

// requireRefused asks the token endpoint for scope as user (password = user
// name) and checks that the grant is empty: on zot, which does not check a
// mount's source, this is where a refused source shows.
func (c *confStack) requireRefused(t *testing.T, user, scope string) {
	t.Helper()
	_, cl := confToken(t, c, user+":"+user, "&scope="+url.QueryEscape(scope))
	name := strings.TrimSuffix(strings.TrimPrefix(scope, "repository:"), ":pull")
	confRequireGrants(t, cl, "repository:"+name+":")
}

// refusal is what a client prints when the registry refuses a request for
// lack of a grant: distribution's words, or zot's where they differ (zot's
// challenge carries no error="insufficient_scope", and its 401 body is a
// bare error object that oras cannot read).
func (c *confStack) refusal(distribution, zot []string) []string {
	if c.onZot() {
		return zot
	}
	return distribution
}
