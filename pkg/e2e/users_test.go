//go:build e2e

package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// `regtoken user add|passwd|del` change users.json while regtoken serves
// from it, and the running server applies each change within its reload
// time (2 s). A user nobody can log in as is named in a warning at start.
func TestUserCommandsWhileServing(t *testing.T) {
	t.Parallel()
	users := strings.Replace(usersJSON(`{"some-image": ["pull"]}`), "{\n", "{\n  \"mallory\": {\"pass_hash\": \"not-a-hash\", \"repositories\": {}},\n", 1)
	d := startDirect(t, users)
	if out := d.proc.Output(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, `\"mallory\": line 2: pass_hash is not a bcrypt hash`) {
		t.Errorf("no warning about mallory at start:\n%s", out)
	}
	config := filepath.Join(d.dir, "regtoken.toml")
	user := func(password string, args ...string) {
		t.Helper()
		cmd := exec.Command(harness.Binary(t), append([]string{"user"}, args...)...)
		cmd.Args = append(cmd.Args, "-config", config)
		cmd.Stdin = strings.NewReader(password + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("regtoken user %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	granted := func(user, pass, want string) func() bool {
		return func() bool {
			got, err := d.grant(t, user, pass, "repository:team/app:pull,push")
			return err == nil && got == want
		}
	}

	user("alice-1", "add", "-cost", "4", "-repo", "team/*=pull,push", "alice")
	took := eventually(t, "alice added", granted("alice", "alice-1", "pull,push"))
	t.Logf("user add applied after %v", took)

	user("alice-2", "passwd", "-cost", "4", "alice")
	eventually(t, "alice's new password", granted("alice", "alice-2", "pull,push"))
	if _, err := d.grant(t, "alice", "alice-1", "repository:team/app:pull"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("alice's old password after passwd: %v", err)
	}

	user("", "del", "alice")
	eventually(t, "alice deleted", func() bool {
		_, err := d.grant(t, "alice", "alice-2", "repository:team/app:pull")
		return err != nil && strings.Contains(err.Error(), "401")
	})
	if strings.Contains(d.proc.Output(), "reload failed") {
		t.Errorf("a reload saw a broken file:\n%s", d.proc.Output())
	}
}
