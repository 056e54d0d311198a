//go:build e2e

package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// TestRobotAccounts drives robots through their life with the real command
// while regtoken serves: create, log in with crane, docker and skopeo,
// never more than the robot's rules, rotate, expire, revoke, list with the
// last login, and the robots file rewritten under a running server without
// one failed reload.
func TestRobotAccounts(t *testing.T) {
	t.Parallel()
	m := startMachineStack(t, harness.Registry3)
	s := m.s
	secret := m.createRobot(t, "ci", "-repo", "team/ci/**=pull,push", "-repo", "team/ci/secret=",
		"-description", "the CI of team/ci")
	eventuallyLogin(t, m, "ci:"+secret)

	t.Run("crane within the rules", func(t *testing.T) {
		craneLogin(t, s, "ci", secret)
		defer craneLogout(t, s)
		out, ok := cranePush(t, s, "team/ci/app:v1")
		confMustPass(t, "crane push within the robot's rules", out, ok)
		for _, ref := range []string{"team/other:v1", "team/ci/secret:v1", "some-image:v9"} {
			if out, ok := cranePush(t, s, ref); ok || !refused(out) {
				t.Errorf("crane push to %s: ok=%v\n%s", ref, ok, out)
			}
		}
	})
	t.Run("never wider than its rules", func(t *testing.T) {
		a := oauthGet(t, s, map[string][]string{"scope": {"repository:team/ci/app:pull,push,delete,*",
			"repository:team/ci/secret:pull", "repository:team/other:pull", "registry:catalog:*", "repository:some-image:push"}},
			"ci", secret)
		if a.status != 200 {
			t.Fatalf("%d %s", a.status, a.raw)
		}
		got := grantedActions(t, a.str("token"))
		want := map[string]string{"sub": "robot:ci", "repository:team/ci/app": "pull,push", "repository:team/ci/secret": "",
			"repository:team/other": "", "registry:catalog": "", "repository:some-image": ""}
		for k, v := range want {
			if strings.Join(got[k], ",") != v {
				t.Errorf("%s: %v, want %q", k, got[k], v)
			}
		}
	})
	t.Run("docker", func(t *testing.T) {
		if _, why := harness.DockerEngine(t); why != "" {
			t.Logf("THE DOCKER PART DID NOT RUN: %s", why)
			return
		}
		c := &confStack{s: s}
		t.Cleanup(func() { confDockerCleanup(t, c) })
		out, ok := confRunIn(t, s, secret+"\n", "docker", "login", "-u", "ci", "--password-stdin", s.Host)
		confMustPass(t, "docker login as a robot", out, ok)
		confDockerImport(t, c, "team/ci/docker:v1")
		out, ok = confDocker(t, c, "push", c.ref("team/ci/docker:v1"))
		confMustPass(t, "docker push as a robot", out, ok)
		confDocker(t, c, "logout", s.Host)
	})
	t.Run("skopeo", func(t *testing.T) {
		c := &confStack{s: s, policy: s.Dir + "/policy.json"}
		harness.WriteFile(t, c.policy, `{"default":[{"type":"insecureAcceptAnything"}]}`, 0o644)
		confSkopeoPush(t, c, "ci:"+secret, "team/ci/skopeo:v1")
	})
	t.Run("list and metrics", func(t *testing.T) {
		out, errOut, ok := regtokenCLI(t, "robot", "list", "-config", s.ConfigPath)
		if !ok || !strings.Contains(out, "ci ") || !strings.Contains(out, "the CI of team/ci") {
			t.Errorf("robot list: %s%s", out, errOut)
		}
		metrics := httpBody(t, m.operator+"/metrics")
		for _, want := range []string{`regtoken_robot_last_login_timestamp_seconds{robot="ci"}`, `regtoken_robot_expires_in_seconds{robot="ci"}`, "regtoken_robots_expiring 0"} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
	t.Run("rotate", func(t *testing.T) {
		out, errOut, ok := regtokenCLI(t, "robot", "rotate", "ci", "-config", s.ConfigPath)
		rotated := strings.TrimSpace(out)
		if !ok || !strings.HasPrefix(rotated, "regtoken_") || rotated == secret {
			t.Fatalf("robot rotate: %s%s", out, errOut)
		}
		eventuallyLogin(t, m, "ci:"+rotated)
		if status, _, msg := m.tokenStatus(t, "ci", secret, "repository:team/ci/app:pull"); status != 401 {
			t.Errorf("the old secret after rotate: %d %q", status, msg)
		}
		secret = rotated
	})
	t.Run("expire", func(t *testing.T) {
		brief := m.createRobot(t, "brief", "-repo", "team/brief/**=pull", "-expires", "3s")
		eventuallyLogin(t, m, "brief:"+brief)
		time.Sleep(3 * time.Second)
		status, _, msg := m.tokenStatus(t, "brief", brief, "repository:team/brief/x:pull")
		if status != 401 || !strings.Contains(msg, "robot brief expired at") {
			t.Errorf("an expired robot: %d %q", status, msg)
		}
		craneLogin(t, s, "brief", brief)
		out, ok := crane(t, s, "manifest", s.Host+"/team/brief/x:v1")
		if ok || !strings.Contains(out, "expired") {
			t.Errorf("crane with an expired robot does not say so:\n%s", out)
		}
		craneLogout(t, s)
		metrics := httpBody(t, m.operator+"/metrics")
		if !strings.Contains(metrics, "regtoken_robots_expiring 1") {
			t.Error("/metrics does not count the expired robot")
		}
	})
	t.Run("revoke", func(t *testing.T) {
		if out, errOut, ok := regtokenCLI(t, "robot", "revoke", "ci", "-config", s.ConfigPath); !ok {
			t.Fatalf("robot revoke: %s%s", out, errOut)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			status, _, _ := m.tokenStatus(t, "ci", secret, "repository:team/ci/app:pull")
			if status == 401 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a revoked robot still logs in: %d", status)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	if out := s.Regtoken.Output(); strings.Contains(out, "reload failed") {
		t.Errorf("a robot command made a reload fail (a half-written file?):\n%s", out)
	}
	// regtoken writes the last logins once a minute and when it stops.
	s.Regtoken.Stop(10 * time.Second)
	if b, err := os.ReadFile(m.lastUsed); err != nil || !strings.Contains(string(b), `"brief"`) {
		t.Errorf("last-used file after stop: %s %v", b, err)
	}
	out, errOut, ok := regtokenCLI(t, "robot", "list", "-config", s.ConfigPath)
	if !ok || !strings.Contains(out, "brief") || !strings.Contains(out, "EXPIRED") || strings.Contains(out, "never  ") {
		t.Errorf("robot list after the run:\n%s%s", out, errOut)
	}
}
