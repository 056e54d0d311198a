//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// One stream, one format: with format = "text" every line regtoken prints,
// audit lines included, is logfmt; with "json" every line is JSON. And audit
// lines stay in order with the rest: requests answered before SIGTERM are in
// the log before "stopping", although audit lines are buffered.
func TestLogFormatAndOrder(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			d := startDirect(t, usersJSON(`{"some-image": ["pull"]}`), "[log]\nformat = \""+format+"\"\n")
			const requests = 5
			for range requests {
				if _, err := d.grant(t, "foo", "foo", "repository:some-image:pull"); err != nil {
					t.Fatal(err)
				}
			}
			d.proc.Stop(10 * time.Second) // at once: well within the audit buffer's 100 ms
			lines := strings.Split(strings.TrimSpace(d.proc.Output()), "\n")
			audits, stopping := 0, -1
			for i, line := range lines {
				if strings.HasPrefix(line, "regtoken bcrypt-worker") {
					continue
				}
				fields := logLine(t, format, line)
				if fields["log"] == "audit" {
					audits++
					if stopping >= 0 {
						t.Errorf("audit line after %q: %s", lines[stopping], line)
					}
				}
				if strings.HasPrefix(fields["msg"], "stopping") {
					stopping = i
					if audits != requests {
						t.Errorf("%d audit lines before %q, want %d", audits, line, requests)
					}
				}
			}
			if stopping < 0 || !strings.Contains(lines[len(lines)-1], "stopped") {
				t.Errorf("no clean stop in the log:\n%s", d.proc.Output())
			}
		})
	}
}

// logLine parses one line of regtoken's log in format and returns its
// top-level string fields; a line in any other form fails the test.
func logLine(t *testing.T, format, line string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if format == "json" {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %s", line)
		}
		for k, v := range m {
			if s, ok := v.(string); ok {
				out[k] = s
			}
		}
		return out
	}
	if !strings.HasPrefix(line, "time=") || !strings.Contains(line, " level=") || strings.HasPrefix(line, "{") {
		t.Fatalf("not a text (logfmt) line: %s", line)
	}
	for _, key := range []string{"log", "msg"} {
		if _, rest, ok := strings.Cut(line, " "+key+"="); ok {
			value := rest
			if strings.HasPrefix(rest, `"`) {
				value, _, _ = strings.Cut(rest[1:], `"`)
			} else {
				value, _, _ = strings.Cut(rest, " ")
			}
			out[key] = value
		}
	}
	return out
}

// [log] audit_file takes the audit lines off stderr into a file, which
// SIGUSR1 (and SIGHUP) reopen after logrotate moved it.
func TestAuditFileReopened(t *testing.T) {
	t.Parallel()
	dir := harness.ShortDir(t)
	path := filepath.Join(dir, "audit.log")
	d := startDirect(t, usersJSON(`{"some-image": ["pull"]}`), "[log]\naudit_file = \""+path+"\"\n")
	auditLines := func(p string) int {
		b, _ := os.ReadFile(p)
		return strings.Count(string(b), " log=audit ")
	}
	for i, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGHUP} {
		if _, err := d.grant(t, "foo", "foo", "repository:some-image:pull"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the audit line in the file", func() bool { return auditLines(path) == 1 })
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
			t.Errorf("audit file mode %v, want 0640", fi.Mode().Perm())
		}
		rotated := path + "." + sig.String()
		if err := os.Rename(path, rotated); err != nil {
			t.Fatal(err)
		}
		d.proc.Cmd.Process.Signal(sig)
		eventually(t, "reopened on "+sig.String(), func() bool { _, err := os.Stat(path); return err == nil })
		if _, err := d.grant(t, "foo", "foo", "repository:some-image:pull"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the next line in the new file", func() bool { return auditLines(path) == 1 })
		if n := auditLines(rotated); n != 1 {
			t.Errorf("round %d: the rotated file has %d audit lines, want 1", i, n)
		}
		os.Remove(path + ".keep")
		os.Rename(path, path+".keep") // the next round starts with an empty file
		d.proc.Cmd.Process.Signal(syscall.SIGUSR1)
		eventually(t, "reopened again", func() bool { _, err := os.Stat(path); return err == nil })
	}
	if out := d.proc.Output(); strings.Contains(out, "log=audit") || !strings.Contains(out, `msg="audit file reopened" trigger=SIGUSR1`) {
		t.Errorf("stderr has audit lines, or no reopen message:\n%s", out)
	}
}
