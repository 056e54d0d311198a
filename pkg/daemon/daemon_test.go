package daemon

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/endpoint"
)

// fixture copies the check/explain test configuration into a temporary
// directory, with the key at the given mode.
func fixture(t *testing.T, keyMode os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	src := "../../cmd/regtoken/testdata"
	for _, f := range []string{"RootCA.key", "RootCA.crt", "users.json", "repositories.json", "groups.json", "htpasswd"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	os.Chmod(filepath.Join(dir, "RootCA.key"), keyMode)
	cfg := `[token]
issuer = "example issuer"
services = ["Authentication"]
key = "RootCA.key"
certificate = "RootCA.crt"
[acl]
users = "users.json"
repositories = "repositories.json"
groups = "groups.json"
htpasswd = "htpasswd"
`
	os.WriteFile(filepath.Join(dir, "regtoken.toml"), []byte(cfg), 0o644)
	return filepath.Join(dir, "regtoken.toml")
}

func load(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestLoadStateRefusesReadableKey(t *testing.T) {
	cfg := load(t, fixture(t, 0o640))
	if _, err := loadState(cfg); !errors.Is(err, errKeyPermissions) {
		t.Fatalf("a group-readable key: %v, want errKeyPermissions", err)
	}
	cfg.Token.AllowReadableKey = true
	if _, err := loadState(cfg); err != nil {
		t.Fatalf("allow_readable_key: %v", err)
	}
}

func TestLoadState(t *testing.T) {
	cfg := load(t, fixture(t, 0o600))
	st, err := loadState(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Issuer != "example issuer" || st.Signer.Algorithm() != "ES256" || len(st.Signer.Certificates()) != 1 {
		t.Errorf("state: %+v", st)
	}
	if got := typicalCost(st.Rules); got != 12 {
		t.Errorf("typical bcrypt cost of the fixture = %d, want 12", got)
	}
}

func TestReloaderKeepsLastGood(t *testing.T) {
	path := fixture(t, 0o600)
	var logs strings.Builder
	r, h, st := reloading(t, path, slog.New(slog.NewTextHandler(&logs, nil)))

	users := filepath.Join(filepath.Dir(path), "users.json")
	good, _ := os.ReadFile(users)
	os.WriteFile(users, []byte("{\n\"foo\": [\n"), 0o644)
	if err := r.Reload("test", false); err == nil {
		t.Fatal("a broken users.json reloaded")
	}
	if h.State() != st {
		t.Fatal("a failed reload replaced the state")
	}
	if s := r.Status(); !strings.Contains(s.Error, "users.json") || r.failures.Load() != 1 {
		t.Errorf("status after failure: %+v", s)
	}
	r.Reload("test again", false) // the same error is not logged twice
	if n := strings.Count(logs.String(), "reload failed"); n != 1 {
		t.Errorf("logged the same broken file %d times", n)
	}

	os.WriteFile(users, good, 0o644)
	if err := r.Reload("fixed", false); err != nil {
		t.Fatal(err)
	}
	if h.State() == st || r.Status().Error != "" || r.successes.Load() != 1 {
		t.Error("a good reload did not swap the state or clear the error")
	}
	if d := h.State().Rules.Decide(acl.Subject{Name: "dave"}, "repository", "dave/x", []string{"push"}); len(d.Granted) != 1 {
		t.Errorf("rules after reload: %+v", d)
	}
}

func TestWatchedFiles(t *testing.T) {
	path := fixture(t, 0o600)
	cfg := load(t, path)
	files := watchedFiles(path, cfg)
	if len(files) != 7 {
		t.Errorf("watched %d files, want config, key, certificate and four rule files: %v", len(files), files)
	}
}

func TestCertificateWarnings(t *testing.T) {
	st, err := loadState(load(t, fixture(t, 0o600)))
	if err != nil {
		t.Fatal(err)
	}
	notAfter := st.Signer.Certificates()[0].NotAfter
	for _, c := range []struct {
		now  time.Time
		want string
	}{
		{notAfter.Add(-365 * 24 * time.Hour), ""},
		{notAfter.Add(-10 * 24 * time.Hour), "expires soon"},
		{notAfter.Add(time.Hour), "has expired"},
	} {
		var logs strings.Builder
		warnCertificate(slog.New(slog.NewTextHandler(&logs, nil)), st, c.now)
		if c.want == "" && logs.Len() > 0 || !strings.Contains(logs.String(), c.want) {
			t.Errorf("at %s: log %q, want %q", c.now, logs.String(), c.want)
		}
	}
}

// An edit that lands after the files were read but before the watcher's
// goroutine runs must still be reloaded (CI once lost exactly this race).
func TestWatcherSeesEditRacingStartup(t *testing.T) {
	path := fixture(t, 0o600)
	r, h, st := reloading(t, path, slog.New(slog.DiscardHandler))

	users := filepath.Join(filepath.Dir(path), "users.json")
	b, _ := os.ReadFile(users)
	os.WriteFile(users, append(b, '\n'), 0o644) // the edit, before the watcher exists
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go newWatcher(r, slog.New(slog.DiscardHandler)).Run(ctx)

	deadline := time.Now().Add(3 * time.Second)
	for h.State() == st {
		if time.Now().After(deadline) {
			t.Fatal("an edit made before the watcher started was never reloaded")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A reload that fails leaves nothing to fire again until the files change.
func TestWatcherQuietAfterFailedReload(t *testing.T) {
	path := fixture(t, 0o600)
	cfg := load(t, path)
	st, _ := loadState(cfg)
	h := endpoint.New(st, endpoint.Options{})
	r := newReloader(path, cfg, stampFiles(path, cfg), h, slog.New(slog.DiscardHandler))
	os.WriteFile(path, []byte("[token\n"), 0o644)
	r.Reload("test", false)
	w := newWatcher(r, slog.New(slog.DiscardHandler))
	if w.changed() {
		t.Error("a broken configuration that was already reported counts as a new change")
	}
	os.WriteFile(path, []byte("[token]\n"), 0o644)
	if !w.changed() {
		t.Error("a second edit of the broken configuration is not seen")
	}
}

// A configuration that names a new, broken rules file fails to reload; the
// watcher then watches that file (where the fix will land), and does not
// count the difference between the old and new file lists as a change,
// which would reload again on every poll.
func TestWatcherFollowsFilesOfAFailedReload(t *testing.T) {
	path := fixture(t, 0o600)
	cfg := load(t, path)
	st, _ := loadState(cfg)
	h := endpoint.New(st, endpoint.Options{})
	r := newReloader(path, cfg, stampFiles(path, cfg), h, slog.New(slog.DiscardHandler))
	dir := filepath.Dir(path)
	other := filepath.Join(dir, "other-users.json")
	os.WriteFile(other, []byte("{\n\"foo\": [\n"), 0o644)
	text, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(text), `users = "users.json"`, `users = "other-users.json"`, 1)), 0o644)
	if err := r.Reload("test", false); err == nil {
		t.Fatal("a configuration naming a broken users file reloaded")
	}
	w := newWatcher(r, slog.New(slog.DiscardHandler))
	if w.changed() {
		t.Error("nothing changed since the failed reload, yet the watcher would reload again")
	}
	good, _ := os.ReadFile(filepath.Join(dir, "users.json"))
	os.WriteFile(other, append(good, '\n'), 0o644)
	if !w.changed() {
		t.Error("the fix to the file the new configuration names is not seen")
	}
}
