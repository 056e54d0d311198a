//go:build e2e

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
	"github.com/regtoken/regtoken/pkg/oidc/oidctest"
)

// machineAudience is the audience CI jobs ask their platform for.
const machineAudience = "https://registry.example.com"

// k8sIssuer is the issuer URL of the test's Kubernetes cluster, which
// regtoken never reaches: its keys come from a JWKS file, as for a cluster
// whose API server is private.
const k8sIssuer = "https://kubernetes.default.svc.cluster.local"

// machineStack is nginx + regtoken + a registry with three OIDC issuers on
// loopback: "github" (HTTPS, discovery, its CA in ca_file), "gitlab"
// (plain HTTP on loopback, discovery) and "k8s" (keys from jwks_file), and
// a robots file. The issuers are real HTTP servers: regtoken fetches their
// discovery documents and key sets over the network.
type machineStack struct {
	s                   *harness.Stack
	github, gitlab, k8s *oidctest.Issuer
	robots, lastUsed    string
	operator            string // http://127.0.0.1:PORT
	wire                *harness.WireLog
}

func startMachineStack(t *testing.T, version string) *machineStack {
	t.Helper()
	m := &machineStack{github: oidctest.New(true), gitlab: oidctest.New(false), k8s: oidctest.New(false)}
	t.Cleanup(m.github.Close)
	t.Cleanup(m.gitlab.Close)
	t.Cleanup(m.k8s.Close)
	dir := harness.ShortDir(t)
	m.robots, m.lastUsed = filepath.Join(dir, "robots.json"), filepath.Join(dir, "robots-last-used.json")
	ca, jwks := filepath.Join(dir, "github-ca.pem"), filepath.Join(dir, "k8s-jwks.json")
	harness.WriteFile(t, ca, string(m.github.CAPEM()), 0o644)
	harness.WriteFile(t, jwks, httpBody(t, m.k8s.URL+"/keys"), 0o644)
	op := harness.FreePort(t)
	m.operator = fmt.Sprintf("http://127.0.0.1:%d", op)
	m.s = harness.StartStack(t, harness.StackOptions{Registry: version, Delete: true, ExtraConfig: fmt.Sprintf(`
[log]
audit = true
format = "json" # auditUsers reads the audit lines as JSON

[operator]
listen = "tcp:127.0.0.1:%d"

[robots]
file = %q
last_used = %q

[[oidc]]
name = "github"
issuer = %q
audience = %q
ca_file = %q

  [[oidc.rules]]
  claims = { repository_owner = "acme" }
  repositories = { "${repository:path}/**" = ["pull", "push"] }

[[oidc]]
name = "gitlab"
issuer = %q
audience = %q

  [[oidc.rules]]
  claims = { namespace_path = "team", ref_protected = "true" }
  repositories = { "${project_path:path}/**" = ["pull", "push"] }

[[oidc]]
name = "k8s"
issuer = %q
audience = %q
jwks_file = %q

  [[oidc.rules]]
  claims = { kubernetes.io.serviceaccount.name = "puller" }
  repositories = { "k8s/${kubernetes.io.namespace}/**" = ["pull"] }
`, op, m.robots, m.lastUsed, m.github.URL, machineAudience, ca, m.gitlab.URL, machineAudience, k8sIssuer, machineAudience, jwks)})
	m.wire = m.s.EnableWireLog(t)
	return m
}

func httpBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// Tokens with the claim sets the platforms document.
func (m *machineStack) githubToken(repository, ref string) string {
	return m.github.Sign(oidctest.GitHubClaims(machineAudience, repository, ref, time.Now()))
}

func (m *machineStack) gitlabToken(projectPath string) string {
	return m.gitlab.Sign(oidctest.GitLabClaims(machineAudience, projectPath, "main", time.Now()))
}

func (m *machineStack) k8sToken(namespace, serviceAccount string) string {
	c := oidctest.KubernetesClaims(machineAudience, namespace, serviceAccount, time.Now())
	c["iss"] = k8sIssuer
	return m.k8s.Sign(c)
}

// regtokenCLI runs the regtoken binary built from this tree (robot, explain).
func regtokenCLI(t *testing.T, args ...string) (stdout, stderr string, ok bool) {
	t.Helper()
	cmd := exec.Command(harness.Binary(t), args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err == nil
}

// createRobot makes a robot with the real command and returns its secret.
func (m *machineStack) createRobot(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, errOut, ok := regtokenCLI(t, append([]string{"robot", "create", name, "-config", m.s.ConfigPath}, args...)...)
	if !ok {
		t.Fatalf("regtoken robot create %s: %s%s", name, out, errOut)
	}
	return strings.TrimSpace(out)
}

// tokenStatus asks the realm (through nginx) for scope with Basic user:pass
// and returns the status, the granted actions of the first scope, and the
// error message.
func (m *machineStack) tokenStatus(t *testing.T, user, pass, scope string) (int, string, string) {
	t.Helper()
	a := oauthGet(t, m.s, url.Values{"scope": {scope}}, user, pass)
	if a.status != 200 {
		return a.status, "", errorMessage(a.body)
	}
	return 200, strings.Join(grantedActions(t, a.str("token"))[scope[:strings.LastIndexByte(scope, ':')]], ","), ""
}

func errorMessage(body map[string]any) string {
	errs, _ := body["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	e, _ := errs[0].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// grantedActions reads a token's access claim: "type:name" -> actions.
func grantedActions(t *testing.T, jwt string) map[string][]string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %.40q", jwt)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Sub    string `json:"sub"`
		Access []struct {
			Type, Name string
			Actions    []string
		} `json:"access"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{"sub": {c.Sub}}
	for _, a := range c.Access {
		out[a.Type+":"+a.Name] = a.Actions
	}
	return out
}

// TestMachineIdentities: CI jobs and pods log in with the ID tokens their
// platforms give them, through crane, docker, skopeo and containerd, against
// distribution 2.8 and 3.1 and zot, and get exactly what their claims allow; the
// tokens that must be refused are, each with a message that says why; the
// issuer rotates its key mid-test; RFC 8693 exchange works on the wire.
func TestMachineIdentities(t *testing.T) {
	t.Parallel()
	_, whyNoZot := harness.Zot(t)
	for _, version := range []string{harness.Registry28, harness.Registry3, harness.RegistryZot} {
		if version == harness.RegistryZot && whyNoZot != "" {
			t.Logf("THE ZOT PART DID NOT RUN: %s", whyNoZot)
			continue
		}
		t.Run("registry "+version, func(t *testing.T) {
			t.Parallel()
			m := startMachineStack(t, version)
			t.Run("crane with a GitHub Actions token", func(t *testing.T) { machineCrane(t, m) })
			t.Run("docker with a GitLab CI token", func(t *testing.T) { machineDocker(t, m) })
			t.Run("skopeo with a Kubernetes token", func(t *testing.T) { machineSkopeo(t, m) })
			t.Run("containerd with a Kubernetes token", func(t *testing.T) { machineContainerd(t, m) })
			t.Run("refused tokens", func(t *testing.T) { machineRefusals(t, m) })
			t.Run("key rotation", func(t *testing.T) { machineRotation(t, m) })
			t.Run("token exchange", func(t *testing.T) { machineExchange(t, m) })
		})
	}
}

func machineCrane(t *testing.T, m *machineStack) {
	s := m.s
	craneLogout(t, s)
	// A job logs in the way a workflow step does: any user name, the
	// token as the password.
	craneLogin(t, s, "github-actions", m.githubToken("acme/app", "refs/heads/main"))
	out, ok := cranePush(t, s, "acme/app/web:v1")
	confMustPass(t, "crane push to the job's own repository", out, ok)
	out, ok = crane(t, s, "manifest", s.Host+"/acme/app/web:v1")
	confMustPass(t, "crane pull of it", out, ok)
	out, ok = cranePush(t, s, "acme/other/web:v1")
	if ok || !refused(out) {
		t.Errorf("crane push outside the job's repository: ok=%v\n%s", ok, out)
	}
	craneLogout(t, s)
	audit := strings.Join(auditUsers(t, s), "\n")
	if !strings.Contains(audit, "github:repo:acme/app:ref:refs/heads/main id_token") {
		t.Errorf("the audit log does not name issuer and subject:\n%s", audit)
	}
}

// auditUsers lists "user grant_type" of every audit line so far.
func auditUsers(t *testing.T, s *harness.Stack) []string {
	var out []string
	for _, l := range oauthAuditLines(t, s) {
		out = append(out, fmt.Sprintf("%v %v", l["user"], l["grant_type"]))
	}
	return out
}

func machineDocker(t *testing.T, m *machineStack) {
	if _, why := harness.DockerEngine(t); why != "" {
		t.Logf("THE DOCKER PART DID NOT RUN: %s", why)
		return
	}
	c := &confStack{s: m.s}
	t.Cleanup(func() { confDockerCleanup(t, c) })
	c.as(t, "")
	out, ok := confRunIn(t, m.s, m.gitlabToken("team/app")+"\n", "docker", "login", "-u", "gitlab-ci-token", "--password-stdin", m.s.Host)
	confMustPass(t, "docker login with a GitLab CI token", out, ok)
	confDockerImport(t, c, "team/app/api:v1")
	out, ok = confDocker(t, c, "push", c.ref("team/app/api:v1"))
	confMustPass(t, "docker push to the project's repository", out, ok)
	out, ok = confDocker(t, c, "rmi", c.ref("team/app/api:v1"))
	confMustPass(t, "docker rmi before the pull", out, ok)
	out, ok = confDocker(t, c, "pull", c.ref("team/app/api:v1"))
	confMustPass(t, "docker pull of it with the same CI token", out, ok)
	confDockerImport(t, c, "team/elsewhere:v1")
	out, ok = confDocker(t, c, "push", c.ref("team/elsewhere:v1"))
	if ok || !refused(out) {
		t.Errorf("docker push outside the project: ok=%v\n%s", ok, out)
	}
	confDocker(t, c, "logout", m.s.Host)
}

func machineSkopeo(t *testing.T, m *machineStack) {
	s := m.s
	c := &confStack{s: s, policy: filepath.Join(s.Dir, "policy.json")}
	harness.WriteFile(t, c.policy, `{"default":[{"type":"insecureAcceptAnything"}]}`, 0o644)
	// A robot seeds the image the pod pulls; pods may only pull.
	creds := "seeder:" + m.createRobot(t, "seeder", "-repo", "k8s/**=pull,push")
	eventuallyLogin(t, m, creds)
	confSkopeoPush(t, c, creds, "k8s/ci/app:v1")
	pod := "pod:" + m.k8sToken("ci", "puller")
	out, ok := confSkopeoCopy(t, c, "docker://"+c.ref("k8s/ci/app:v1"), pod, "oci:"+t.TempDir()+":v1", "")
	confMustPass(t, "skopeo pull with the pod's token", out, ok)
	out, ok = confSkopeoCopy(t, c, confSkopeoArchive(t, c, "k8s/ci/app:v2"), "", "docker://"+c.ref("k8s/ci/app:v2"), pod)
	if ok || !refused(out) {
		t.Errorf("skopeo push with a pull-only pod token: ok=%v\n%s", ok, out)
	}
	other := "pod:" + m.k8sToken("prod", "puller")
	out, ok = confSkopeoCopy(t, c, "docker://"+c.ref("k8s/ci/app:v1"), other, "oci:"+t.TempDir()+":v1", "")
	if ok || !refused(out) {
		t.Errorf("skopeo pull from another namespace's repository: ok=%v\n%s", ok, out)
	}
}

// containerd, given credentials, asks by the OAuth2 POST password grant:
// the pod's token travels as the password and is taken for what it is.
func machineContainerd(t *testing.T, m *machineStack) {
	c := &confStack{s: m.s, wire: m.wire}
	d := confCtrd16.startDaemon(t, c)
	token := m.k8sToken("ci", "puller")
	w := c.watch(t, func() {
		out, ok := d.pull(t, "pod", token, "k8s/ci/app:v1")
		confMustPass(t, "ctr pull with the pod's token", out, ok)
	})
	confCtrd16.passwordGrant(t, w, "pod", "for k8s/ci/app", func(harness.WireRequest) bool { return true })
	if out, ok := d.pull(t, "pod", m.k8sToken("prod", "puller"), "k8s/ci/app:v1"); ok {
		t.Errorf("ctr pull with another namespace's token succeeded:\n%s", out)
	}
}

// eventuallyLogin waits for a robot made a moment ago: regtoken reloads
// the robots file within a second.
func eventuallyLogin(t *testing.T, m *machineStack, creds string) {
	t.Helper()
	user, pass, _ := strings.Cut(creds, ":")
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, _, _ := m.tokenStatus(t, user, pass, "repository:x:pull")
		if status == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("robot %s cannot log in: %d", user, status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func machineRefusals(t *testing.T, m *machineStack) {
	now := time.Now()
	good := func() map[string]any {
		return oidctest.GitHubClaims(machineAudience, "acme/app", "refs/heads/main", now)
	}
	with := func(name string, v any) map[string]any { c := good(); c[name] = v; return c }
	stranger := oidctest.New(false)
	defer stranger.Close()
	cases := []struct{ name, token, message string }{
		{"another audience", m.github.Sign(with("aud", "https://other-registry.example.com")), `is for audience "https://other-registry.example.com", which is not accepted here`},
		{"expired", m.github.Sign(with("exp", now.Add(-10*time.Minute).Unix())), "token of issuer github expired at"},
		{"unknown key", oidctest.SignWith(oidctest.NewKey(), with("iss", m.github.URL)), "signed by a key the issuer does not publish"},
		{"issuer not configured", stranger.Sign(good()), "is not configured here"},
		{"claims match no rule", m.github.Sign(oidctest.GitHubClaims(machineAudience, "evil/app", "refs/heads/main", now)), `subject "repo:evil/app:ref:refs/heads/main" matches no rule`},
		{"gitlab, unprotected ref", m.gitlab.Sign(with2(oidctest.GitLabClaims(machineAudience, "team/app", "feature", now), "ref_protected", "false")), "matches no rule"},
	}
	for n, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Each refusal counts as a failed login of its user name from
			// this address: one name per case keeps the throttle out of it.
			user := fmt.Sprintf("refused-%d", n)
			status, _, msg := m.tokenStatus(t, user, c.token, "repository:acme/app:pull")
			if status != 401 || !strings.Contains(msg, c.message) {
				t.Errorf("status %d, message %q; want 401 saying %q", status, msg, c.message)
			}
			// What a user sees: crane prints the token endpoint's message.
			craneLogin(t, m.s, user, c.token)
			out, ok := crane(t, m.s, "manifest", m.s.Host+"/acme/app/web:v1")
			if ok || !strings.Contains(out, c.message) {
				t.Errorf("crane with the token: ok=%v, output lacks %q:\n%s", ok, c.message, out)
			}
		})
	}
	craneLogout(t, m.s)
}

func with2(c map[string]any, name string, v any) map[string]any { c[name] = v; return c }

// The issuer starts signing with a new key and stops publishing the old
// one: regtoken fetches the keys again when it meets the new kid (at most
// every 10 s), and the jobs keep pushing.
func machineRotation(t *testing.T, m *machineStack) {
	m.github.Rotate()
	m.github.Retire()
	token := m.githubToken("acme/app", "refs/heads/main")
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, granted, msg := m.tokenStatus(t, "rotation", token, "repository:acme/app/web:pull,push")
		if status == 200 && granted == "pull,push" {
			break
		}
		if time.Now().After(deadline) || !strings.Contains(msg, "does not publish") {
			t.Fatalf("after rotation: %d %q %q", status, granted, msg)
		}
		time.Sleep(time.Second)
	}
	craneLogin(t, m.s, "rotation", token)
	out, ok := cranePush(t, m.s, "acme/app/web:rotated")
	confMustPass(t, "crane push after the key rotation", out, ok)
	craneLogout(t, m.s)
	if fetches := m.github.JWKS.Load(); fetches < 2 {
		t.Errorf("the JWKS was fetched %d times", fetches)
	}
}

// RFC 8693 on the wire, through nginx: a job trades its token for a
// registry token and uses it on the registry; malformed exchanges and
// refused tokens get the RFC's errors.
func machineExchange(t *testing.T, m *machineStack) {
	form := func(subject string) url.Values {
		return url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {subject},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"}, "scope": {"repository:acme/app/web:pull"}}
	}
	a := oauthPost(t, m.s, form(m.githubToken("acme/app", "refs/heads/main")))
	if a.status != 200 || a.str("issued_token_type") != "urn:ietf:params:oauth:token-type:access_token" || a.str("token_type") != "Bearer" {
		t.Fatalf("exchange: %d %s", a.status, a.raw)
	}
	req, _ := http.NewRequest("GET", "http://"+m.s.Host+"/v2/acme/app/web/tags/list", nil)
	req.Header.Set("Authorization", "Bearer "+a.str("access_token"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"v1"`) {
		t.Errorf("the exchanged token on the registry: %d %s", resp.StatusCode, body)
	}
	missing := form("")
	expired := form(m.github.Sign(oidctest.GitHubClaims(machineAudience, "acme/app", "refs/heads/main", time.Now().Add(-time.Hour))))
	wrongType := form(m.githubToken("acme/app", "refs/heads/main"))
	wrongType.Set("subject_token_type", "urn:ietf:params:oauth:token-type:access_token")
	for name, c := range map[string]struct {
		form  url.Values
		oauth string
	}{"no subject_token": {missing, "invalid_request"}, "wrong token type": {wrongType, "invalid_request"}, "expired token": {expired, "invalid_grant"}} {
		a := oauthPost(t, m.s, c.form)
		if a.status != 400 || a.str("error") != c.oauth || a.str("error_description") == "" {
			t.Errorf("%s: %d %s, want 400 %s", name, a.status, a.raw, c.oauth)
		}
	}
}
