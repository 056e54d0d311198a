//go:build e2e

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// direct is a regtoken serving plain HTTP on loopback with an operator
// listener, for tests about the service itself rather than a gateway.
type direct struct {
	proc     *harness.Process
	base     string // http://127.0.0.1:PORT/v2/token
	operator string // http://127.0.0.1:PORT
	users    string // path of users.json
	dir      string
}

// startDirect runs regtoken with a copy of the demo rules and cost-4 hashes so
// tests do not wait for bcrypt; extra is added to the configuration.
func startDirect(t *testing.T, users string, extra ...string) *direct {
	t.Helper()
	dir := harness.ShortDir(t)
	key, cert := harness.KeyPair(t, dir)
	d := &direct{dir: dir, users: filepath.Join(dir, "users.json")}
	harness.WriteFile(t, d.users, users, 0o644)
	harness.CopyFile(t, harness.Testdata("demo", "repositories.json"), filepath.Join(dir, "repositories.json"))
	port, opPort := harness.FreePort(t), harness.FreePort(t)
	cfg := filepath.Join(dir, "regtoken.toml")
	harness.WriteFile(t, cfg, fmt.Sprintf(`[token]
issuer = "example issuer"
services = ["Authentication"]
key = %q
certificate = %q
[acl]
users = "users.json"
repositories = "repositories.json"
[[listen]]
protocol = "http"
address = "tcp:127.0.0.1:%d"
[operator]
listen = "tcp:127.0.0.1:%d"
%s`, key, cert, port, opPort, strings.Join(extra, "\n")), 0o644)
	d.proc = harness.StartRegtoken(t, cfg, fmt.Sprintf("tcp:127.0.0.1:%d", port))
	d.base = fmt.Sprintf("http://127.0.0.1:%d/v2/token", port)
	d.operator = fmt.Sprintf("http://127.0.0.1:%d", opPort)
	return d
}

// grant asks for one scope as user:pass and returns the granted actions, or
// the HTTP status as an error.
func (d *direct) grant(t *testing.T, user, pass, scope string) (string, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", d.base+"?service=Authentication&scope="+scope, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	var r struct{ Token string }
	json.Unmarshal(body, &r)
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(r.Token, ".")[1])
	var c struct {
		Access []struct{ Actions []string }
	}
	json.Unmarshal(payload, &c)
	if len(c.Access) != 1 {
		return "", fmt.Errorf("access claim: %s", payload)
	}
	return strings.Join(c.Access[0].Actions, ","), nil
}

// eventually polls f every 100 ms until it returns true or 2 s pass (the
// reload promise).
func eventually(t *testing.T, what string, f func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < 2*time.Second {
		if f() {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not within 2 s", what)
	return 0
}

func (d *direct) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get(d.operator + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// usersJSON makes users.json text with cost-4 hashes of "foo" and "bar".
func usersJSON(fooRepos string) string {
	return fmt.Sprintf(`{
  "foo": {"pass_hash": "%s", "repositories": %s},
  "bar": {"pass_hash": "%s", "repositories": {"*": ["pull", "push"]}}
}
`, hashFoo, fooRepos, hashBar)
}

// bcrypt cost-4 hashes of "foo" and "bar".
const (
	hashFoo = "$2a$04$TzPkAY92YPVKsYxnGvlybekWJozpg8gGxSSN4aq/vfvjYQOwPiV2y"
	hashBar = "$2a$04$n/i647dYsFUxxvVownuYpO3ikqAGxKmwiSOS3aY/egUOQRTTIhdzm"
)

func TestLiveReload(t *testing.T) {
	t.Parallel()
	d := startDirect(t, usersJSON(`{"some-image": ["pull"]}`))
	if got, err := d.grant(t, "foo", "foo", "repository:some-image:pull,push"); err != nil || got != "pull" {
		t.Fatalf("before the edit: %q %v", got, err)
	}

	// 1. An edit in place applies within 2 s.
	harness.WriteFile(t, d.users, usersJSON(`{"some-image": ["pull", "push"]}`), 0o644)
	took := eventually(t, "edit applied", func() bool {
		got, _ := d.grant(t, "foo", "foo", "repository:some-image:pull,push")
		return got == "pull,push"
	})
	t.Logf("edit applied after %s", took)

	// 2. A broken file keeps the last good rules and shows in /healthz and /metrics.
	harness.WriteFile(t, d.users, "{\n  \"foo\": {\n    \"pass_hash\": oops\n}\n", 0o644)
	eventually(t, "broken file reported in /healthz", func() bool {
		return strings.Contains(d.get(t, "/healthz"), `"status":"degraded"`)
	})
	health := d.get(t, "/healthz")
	if !strings.Contains(health, "users.json") || !strings.Contains(health, "line 3") {
		t.Errorf("/healthz should name the file and line: %s", health)
	}
	if got, err := d.grant(t, "foo", "foo", "repository:some-image:pull,push"); err != nil || got != "pull,push" {
		t.Fatalf("a broken file must keep the last good rules: %q %v", got, err)
	}
	metrics := d.get(t, "/metrics")
	for _, want := range []string{"regtoken_config_reload_error 1", `regtoken_reloads_total{result="failure"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if n := strings.Count(d.proc.Output(), "reload failed"); n != 1 {
		t.Errorf("a broken file should be logged once, got %d lines", n)
	}

	// 3. Editors replace files: remove, then create anew.
	os.Remove(d.users)
	time.Sleep(300 * time.Millisecond)
	harness.WriteFile(t, d.users, usersJSON(`{"other": ["pull"]}`), 0o644)
	eventually(t, "recreated file applied", func() bool {
		got, _ := d.grant(t, "foo", "foo", "repository:other:pull")
		return got == "pull"
	})
	eventually(t, "health back to ok", func() bool { return strings.Contains(d.get(t, "/healthz"), `"status":"ok"`) })

	// 4. SIGHUP reloads too.
	d.proc.Cmd.Process.Signal(syscall.SIGHUP)
	eventually(t, "SIGHUP reload logged", func() bool { return strings.Contains(d.proc.Output(), "trigger=SIGHUP") })
}

// Metrics count what happened: issued, unauthorized, bcrypt checks, cache hits.
func TestMetricsCountRequests(t *testing.T) {
	t.Parallel()
	d := startDirect(t, usersJSON(`{"some-image": ["pull"]}`))
	for range 3 {
		d.grant(t, "foo", "foo", "repository:some-image:pull")
	}
	d.grant(t, "foo", "wrong", "repository:some-image:pull")
	d.grant(t, "", "", "repository:some-image:pull")
	m := d.get(t, "/metrics")
	for _, want := range []string{
		`regtoken_requests_total{outcome="issued"} 4`,
		`regtoken_requests_total{outcome="unauthorized"} 1`,
		`regtoken_bcrypt_checks_total 2`,
		`regtoken_credential_cache_hits_total 2`,
		`regtoken_request_duration_seconds_count{status="200"} 4`,
		`regtoken_certificate_expiry_seconds`,
		`regtoken_config_age_seconds`,
		`regtoken_transport_rejected_total{reason="malformed"} 0`,
		`regtoken_throttle_failures_total 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// hashOf returns a cost-4 bcrypt hash of password.
func hashOf(t *testing.T, password string) string {
	t.Helper()
	if h, ok := hashCache.Load(password); ok {
		return h.(string)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	hashCache.Store(password, string(h))
	return string(h)
}

var hashCache sync.Map

// A users.json that loses most of its users at once (a file caught in the
// middle of a write) is refused: the old users keep logging in, /healthz
// says why; SIGHUP loads it anyway.
func TestShrinkGuardAndSIGHUP(t *testing.T) {
	t.Parallel()
	many := func(n int) string {
		var entries []string
		for i := range n {
			entries = append(entries, fmt.Sprintf("%q: {\"pass_hash\": %q, \"repositories\": {\"some-image\": [\"pull\"]}}", fmt.Sprint("user", i), hashFoo))
		}
		return "{\n" + strings.Join(entries, ",\n") + "\n}\n"
	}
	d := startDirect(t, many(20))
	if _, err := d.grant(t, "user19", "foo", "repository:some-image:pull"); err != nil {
		t.Fatalf("before the edit: %v", err)
	}
	harness.WriteFile(t, d.users, many(3), 0o644)
	eventually(t, "the shrunk file refused in /healthz", func() bool {
		return strings.Contains(d.get(t, "/healthz"), "too many users removed at once")
	})
	if h := d.get(t, "/healthz"); !strings.Contains(h, "3 of its 20 users") || !strings.Contains(h, "SIGHUP") {
		t.Errorf("/healthz should give the counts and the way out: %s", h)
	}
	if _, err := d.grant(t, "user19", "foo", "repository:some-image:pull"); err != nil {
		t.Fatalf("a user of the refused file's predecessor: %v", err)
	}
	d.proc.Cmd.Process.Signal(syscall.SIGHUP)
	eventually(t, "SIGHUP loads the smaller file", func() bool {
		_, err := d.grant(t, "user19", "foo", "repository:some-image:pull")
		return err != nil && strings.Contains(err.Error(), "status 401")
	})
	if _, err := d.grant(t, "user2", "foo", "repository:some-image:pull"); err != nil {
		t.Errorf("a user of the smaller file after SIGHUP: %v", err)
	}
	eventually(t, "health back to ok", func() bool { return strings.Contains(d.get(t, "/healthz"), `"status":"ok"`) })
}
