package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/endpoint"
	"github.com/regtoken/regtoken/pkg/oidc"
	"github.com/regtoken/regtoken/pkg/robot"
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
	if _, err := loadState(cfg, nil, nil); !errors.Is(err, errKeyPermissions) {
		t.Fatalf("a group-readable key: %v, want errKeyPermissions", err)
	}
	cfg.Token.AllowReadableKey = true
	if _, err := loadState(cfg, nil, nil); err != nil {
		t.Fatalf("allow_readable_key: %v", err)
	}
}

func TestLoadState(t *testing.T) {
	cfg := load(t, fixture(t, 0o600))
	st, err := loadState(cfg, nil, nil)
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

// A certificate that expires soon is a warning, at the start and after
// every reload; an expired one is a problem (serve warns, check fails).
func TestCertificateWarnings(t *testing.T) {
	cfg := load(t, fixture(t, 0o600))
	st, err := loadState(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	notAfter := st.Signer.Certificates()[0].NotAfter
	for _, c := range []struct {
		now      time.Time
		severity Severity
		want     string
	}{
		{notAfter.Add(-365 * 24 * time.Hour), Warning, ""},
		{notAfter.Add(-10 * 24 * time.Hour), Warning, "certificate 0 expires in 10 days"},
		{notAfter.Add(time.Hour), Problem, "certificate 0 expired"},
	} {
		var r Report
		r.checkState(cfg, st, c.now)
		var logs strings.Builder
		r.Log(slog.New(slog.NewTextHandler(&logs, nil)))
		if c.want == "" && len(r.Findings) > 0 || c.want != "" && (r.Count(c.severity) != 1 || !strings.Contains(logs.String(), c.want)) {
			t.Errorf("at %s: findings %+v, log %q, want %q", c.now, r.Findings, logs.String(), c.want)
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
	st, _ := loadState(cfg, nil, nil)
	h := endpoint.New(st, endpoint.Options{})
	r := newReloader(path, cfg, stampFiles(path, cfg), h, nil, &directories{}, slog.New(slog.DiscardHandler))
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
	st, _ := loadState(cfg, nil, nil)
	h := endpoint.New(st, endpoint.Options{})
	r := newReloader(path, cfg, stampFiles(path, cfg), h, nil, &directories{}, slog.New(slog.DiscardHandler))
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

// A robot named like a user is refused at load, and the robots file is
// watched like the rule files.
func TestRobotsLoadAndWatch(t *testing.T) {
	path := fixture(t, 0o600)
	dir := filepath.Dir(path)
	robots := filepath.Join(dir, "robots.json")
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("[robots]\nfile = \"robots.json\"\n")
	f.Close()
	cfg := load(t, path)
	if !slices.Contains(watchedFiles(path, cfg), robots) {
		t.Errorf("robots file not watched: %v", watchedFiles(path, cfg))
	}
	st, err := loadState(cfg, nil, nil)
	if err != nil || st.Robots == nil || len(st.Robots.Robots()) != 0 {
		t.Fatalf("no robots file yet: %v %v", st, err)
	}
	mk := func(name string) {
		err := robot.Update(robots, func(rs []robot.Robot) ([]robot.Robot, error) {
			return append(rs, robot.Robot{Name: name, SecretHash: robot.HashSecret(robot.NewSecret()),
				Rules: map[string][]string{"x": {"pull"}}}), nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	mk("ci")
	if st, err = loadState(cfg, nil, nil); err != nil || !st.Robots.Has("ci") {
		t.Fatalf("robot ci: %v", err)
	}
	mk("carol") // a user of the fixture's users.json
	if _, err := loadState(cfg, nil, nil); err == nil || !strings.Contains(err.Error(), `robot "carol" has the name of a user`) {
		t.Errorf("a robot named like a user: %v", err)
	}
}

// A service with a key of its own: loaded into the state, watched for
// reloads, and counted when the soonest certificate expiry is reported.
func TestServiceKeys(t *testing.T) {
	path := fixture(t, 0o600)
	dir := filepath.Dir(path)
	for _, f := range []string{"regtoken.key", "regtoken.crt"} {
		b, err := os.ReadFile(filepath.Join("../registrycheck/testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "zot-"+f), b, 0o600)
	}
	conf, _ := os.ReadFile(path)
	conf = []byte(strings.Replace(string(conf), `services = ["Authentication"]`, `services = ["Authentication", "zot"]`, 1) +
		"[token.service.zot]\nkey = \"zot-regtoken.key\"\ncertificate = \"zot-regtoken.crt\"\n")
	os.WriteFile(path, conf, 0o644)
	cfg := load(t, path)
	st, err := loadState(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	zot := st.ServiceSigners["zot"]
	if zot == nil || zot.PublicKey() == st.Signer.PublicKey() || st.RefreshMAC == nil {
		t.Fatalf("service signers %v, refresh MAC %v", st.ServiceSigners, st.RefreshMAC)
	}
	if files := watchedFiles(path, cfg); !slices.Contains(files, filepath.Join(dir, "zot-regtoken.key")) ||
		!slices.Contains(files, filepath.Join(dir, "zot-regtoken.crt")) {
		t.Errorf("the service's key and certificate are not watched: %v", files)
	}
	// RootCA.crt (2036) expires before the zot certificate (2126).
	if first := firstToExpire(st); first == nil || first != st.Signer.Certificates()[0] {
		t.Errorf("first to expire: %v", first)
	}
	st.Signer = zot // with the zot key alone, its certificate is the first
	st.ServiceSigners = nil
	if first := firstToExpire(st); first == nil || !first.Equal(zot.Certificates()[0]) {
		t.Errorf("first to expire with one signer: %v", first)
	}
}

func TestHealthOfMachines(t *testing.T) {
	dir := t.TempDir()
	robots := filepath.Join(dir, "robots.json")
	err := robot.Update(robots, func(rs []robot.Robot) ([]robot.Robot, error) {
		return append(rs, robot.Robot{Name: "soon", SecretHash: robot.HashSecret(robot.NewSecret()),
			Rules: map[string][]string{"x": {"pull"}}, Expires: time.Now().Add(24 * time.Hour)}), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	set, _ := robot.Load(robots)
	body := map[string]any{"status": "ok"}
	healthOfMachines(&endpoint.State{Robots: set}, body, time.Now())
	if body["robots_expiring"] != 1 || body["status"] != "ok" {
		t.Errorf("healthz %v", body)
	}
	// An issuer nobody answers for: its tokens are refused, so regtoken is
	// degraded until its keys arrive.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	issuers, err := oidc.NewKeys(ctx).Verifier([]oidc.Issuer{{Name: "down", URL: "http://127.0.0.1:1",
		Audiences: []string{"a"}, Rules: []oidc.Rule{{Claims: map[string][]string{"sub": {"x"}}, Catalog: true}}}}, "regtoken.toml", nil)
	if err != nil {
		t.Fatal(err)
	}
	body = map[string]any{"status": "ok"}
	healthOfMachines(&endpoint.State{Issuers: issuers}, body, time.Now())
	if body["status"] != "degraded" || fmt.Sprint(body["oidc_issuers_without_keys"]) != "[down]" {
		t.Errorf("healthz %v", body)
	}
}
