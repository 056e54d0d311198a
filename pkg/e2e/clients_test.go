//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// run runs a client command with the stack's private HOME and returns its
// combined output and whether it succeeded.
func run(t *testing.T, s *harness.Stack, name string, args ...string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, harness.Tool(t, name), args...)
	cmd.Env = s.Env()
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// crane runs crane against the stack's plain-HTTP registry.
func crane(t *testing.T, s *harness.Stack, args ...string) (string, bool) {
	t.Helper()
	return run(t, s, "crane", append(args, "--insecure")...)
}

// craneLogin stores user's credentials in the stack's docker config.
func craneLogin(t *testing.T, s *harness.Stack, user, pass string) {
	t.Helper()
	if out, ok := crane(t, s, "auth", "login", s.Host, "-u", user, "-p", pass); !ok {
		t.Fatalf("crane auth login %s: %s", user, out)
	}
}

// craneLogout forgets every stored credential.
func craneLogout(t *testing.T, s *harness.Stack) {
	t.Helper()
	os.RemoveAll(filepath.Join(s.Dir, "home", ".docker"))
}

// layer writes a small random tar layer and returns its path.
func layer(t *testing.T, dir, name string) string {
	t.Helper()
	src := filepath.Join(dir, "layer-src-"+name)
	os.MkdirAll(src, 0o755)
	harness.WriteFile(t, filepath.Join(src, "hello.txt"), fmt.Sprintf("hello from %s at %d\n", name, time.Now().UnixNano()), 0o644)
	tarPath := filepath.Join(dir, "layer-"+name+".tar")
	if out, err := exec.Command("tar", "-C", src, "-cf", tarPath, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	return tarPath
}

// cranePush makes an image from a fresh layer and pushes it to ref.
func cranePush(t *testing.T, s *harness.Stack, ref string) (string, bool) {
	t.Helper()
	return crane(t, s, "append", "-f", layer(t, s.Dir, strings.NewReplacer("/", "_", ":", "_").Replace(ref)), "-t", s.Host+"/"+ref)
}

// refused reports whether client output looks like an authorization refusal,
// which is what a user must see (not a crash or a protocol error).
func refused(out string) bool {
	for _, s := range []string{"UNAUTHORIZED", "DENIED", "unauthorized", "denied", "401", "403", "insufficient_scope", "authentication required"} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}
