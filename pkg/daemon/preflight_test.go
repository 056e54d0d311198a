package daemon

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/listen"
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
