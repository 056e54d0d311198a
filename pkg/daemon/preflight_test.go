package daemon

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/listen"
	"github.com/regtoken/regtoken/pkg/robot"
)

// serve logs a warning for every user nobody can log in as, and starts;
// the same finding is an error in check (Problem).
func TestPreflightWarnsOfUsersWhoCannotLogIn(t *testing.T) {
	path := fixture(t, 0o600)
	dir := filepath.Dir(path)
	os.WriteFile(filepath.Join(dir, "users.json"), []byte(`{"mallory": {"pass_hash": "not-a-bcrypt-hash", "repositories": {"x": ["pull"]}},
 "zed": {"pass_hash": "$2a$04$TzPkAY92YPVKsYxnGvlybekWJozpg8gGxSSN4aq/vfvjYQOwPiV2y"}}`), 0o644)
	specs := []listen.Spec{{Protocol: listen.HTTP, Address: "tcp:127.0.0.1:0"}}
	r := Preflight(load(t, path), specs, NotActivated, time.Now())
	if r.State == nil || r.startError() != nil || r.Count(Problem) != 1 {
		t.Fatalf("findings %+v, start error %v", r.Findings, r.startError())
	}
	var logs strings.Builder
	r.Log(slog.New(slog.NewTextHandler(&logs, nil)))
	if !strings.Contains(logs.String(), `level=WARN msg="`) || !strings.Contains(logs.String(), `\"mallory\": line 1: pass_hash is not a bcrypt hash`) {
		t.Errorf("log:\n%s", &logs)
	}
	if strings.Contains(logs.String(), "not-a-bcrypt-hash") {
		t.Error("the log repeats the broken hash")
	}
}

// What stops serve is fatal, and serve's error counts it.
func TestPreflightFatal(t *testing.T) {
	cfg := load(t, fixture(t, 0o644)) // a readable key without allow_readable_key
	r := Preflight(cfg, nil, NotActivated, time.Now())
	if r.State != nil || r.Count(Fatal) != 2 {
		t.Fatalf("findings %+v", r.Findings)
	}
	if err := r.startError(); err == nil || err.Error() != "2 problems above stop the start; `regtoken check` lists everything" {
		t.Errorf("start error %v", err)
	}
	if r := Preflight(cfg, nil, Activated, time.Now()); r.Count(Fatal) != 1 {
		t.Errorf("socket-activated, no listeners is fine: %+v", r.Findings)
	}
	if r := Preflight(cfg, nil, ActivationUnknown, time.Now()); r.Count(Fatal) != 1 || r.Count(Warning) != 1 {
		t.Errorf("check cannot know: a warning: %+v", r.Findings)
	}
}

// An audit file serve could not open stops the start.
func TestPreflightAuditFile(t *testing.T) {
	cfg := load(t, fixture(t, 0o600))
	specs := []listen.Spec{{Protocol: listen.HTTP, Address: "tcp:127.0.0.1:0"}}
	for path, fatal := range map[string]int{
		filepath.Join(t.TempDir(), "audit.log"):            0,
		filepath.Join(t.TempDir(), "missing", "audit.log"): 1,
	} {
		cfg.Log.AuditFile = path
		if r := Preflight(cfg, specs, NotActivated, time.Now()); r.Count(Fatal) != fatal {
			t.Errorf("%s: findings %+v", path, r.Findings)
		}
	}
}

// appendConfig adds TOML to the configuration at path.
func appendConfig(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(text)
}

// wantFindings checks that r has exactly one finding of severity s with
// each text.
func wantFindings(t *testing.T, r Report, s Severity, texts ...string) {
	t.Helper()
	for _, text := range texts {
		n := 0
		for _, f := range r.Findings {
			if f.Severity == s && strings.Contains(f.Message, text) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d findings of severity %d with %q in %+v", n, s, text, r.Findings)
		}
	}
}

// Every file the State is built from is checked at once: a service key
// that does not load, a robot named like a user and an issuer's key file
// that cannot be read are each a fatal finding, and there is no State.
func TestPreflightReportsEveryPartThatDoesNotLoad(t *testing.T) {
	path := fixture(t, 0o600)
	dir := filepath.Dir(path)
	conf, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(conf), `services = ["Authentication"]`, `services = ["Authentication", "zot"]`, 1)), 0o644)
	appendConfig(t, path, `[token.service.zot]
key = "zot.key"
[robots]
file = "robots.json"
[[oidc]]
name = "k8s"
issuer = "https://kubernetes.default.svc"
audience = "registry"
jwks_file = "missing-jwks.json"
  [[oidc.rules]]
  claims = { sub = "x" }
  repositories = { "k8s/**" = ["pull"] }
`)
	os.WriteFile(filepath.Join(dir, "zot.key"), []byte("not a key"), 0o600)
	err := robot.Update(filepath.Join(dir, "robots.json"), func(rs []robot.Robot) ([]robot.Robot, error) {
		return append(rs, robot.Robot{Name: "carol", SecretHash: robot.HashSecret(robot.NewSecret()), Rules: map[string][]string{"x": {"pull"}}}), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	specs := []listen.Spec{{Protocol: listen.HTTP, Address: "tcp:127.0.0.1:0"}}
	r := Preflight(load(t, path), specs, NotActivated, time.Now())
	if r.State != nil || r.Count(Fatal) != 3 {
		t.Fatalf("findings %+v", r.Findings)
	}
	wantFindings(t, r, Fatal, `key: service "zot": `, `robots: `+filepath.Join(dir, "robots.json")+`: robot "carol" has the name of a user`,
		"oidc: issuer k8s: open "+filepath.Join(dir, "missing-jwks.json"))
}

// What the State says about itself: services sharing a key and a robot
// about to expire are warnings, a group_map entry to no group a problem;
// serve starts with all of them.
func TestPreflightWarnsOfTheState(t *testing.T) {
	path := fixture(t, 0o600)
	dir := filepath.Dir(path)
	conf, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(conf), `services = ["Authentication"]`, `services = ["Authentication", "zot-a"]`, 1)), 0o644)
	appendConfig(t, path, "[robots]\nfile = \"robots.json\"\n")
	err := robot.Update(filepath.Join(dir, "robots.json"), func(rs []robot.Robot) ([]robot.Robot, error) {
		return append(rs, robot.Robot{Name: "ci", SecretHash: robot.HashSecret(robot.NewSecret()), Rules: map[string][]string{"x": {"pull"}},
			Expires: time.Now().Add(50 * time.Hour)}), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	specs := []listen.Spec{{Protocol: listen.HTTP, Address: "tcp:127.0.0.1:0"}}
	r := Preflight(load(t, path), specs, NotActivated, time.Now())
	if r.State == nil || r.startError() != nil {
		t.Fatalf("findings %+v", r.Findings)
	}
	wantFindings(t, r, Warning, `services "Authentication", "zot-a" are signed with one key`, "robot ci expires in 2 days")
}

// With [ldap], a directory that does not answer is a problem, not a reason
// to refuse to start: serve answers its users 503 until it does. A
// group_map entry to a group the rules lack is a problem too.
func TestPreflightDirectory(t *testing.T) {
	path := ldapFixture(t, "secret\n", 0o600)
	appendConfig(t, path, "timeout = \"1s\"\n[ldap.group_map]\ndevelopers = \"no-such-group\"\n")
	specs := []listen.Spec{{Protocol: listen.HTTP, Address: "tcp:127.0.0.1:0"}}
	r := Preflight(load(t, path), specs, NotActivated, time.Now())
	defer r.Close()
	if r.State == nil || r.Directory == nil || r.State.Directory == nil || r.DirectoryReached || r.startError() != nil {
		t.Fatalf("state %v, directory %v, findings %+v", r.State, r.Directory, r.Findings)
	}
	wantFindings(t, r, Problem, "ldap ldap://127.0.0.1:1: ", `ldap.group_map: "developers" maps to group "no-such-group"`)
	os.Chmod(filepath.Join(filepath.Dir(path), "ldap.pw"), 0o644)
	if r := Preflight(load(t, path), specs, NotActivated, time.Now()); r.State != nil || r.Directory != nil || r.Count(Fatal) != 1 {
		t.Errorf("a bind password file others can read: findings %+v", r.Findings)
	}
}
