package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/endpoint"
)

// htpasswdLines are n htpasswd entries, user0 to user(n-1).
func htpasswdLines(n int) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf("user%d:$2y$12$UCCJVe.oW2n.6f34U5QeMOU0eULrYrpgofqZ3D6zUXxlIPZQurziu\n", i)
	}
	return lines
}

// reloading serves the configuration at path and returns its reloader,
// the handler and the State it started with.
func reloading(t *testing.T, path string, log *slog.Logger) (*reloader, *endpoint.Handler, *endpoint.State) {
	t.Helper()
	cfg := load(t, path)
	before := stampFiles(path, cfg)
	st, err := loadState(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := endpoint.New(st, endpoint.Options{})
	return newReloader(path, cfg, before, h, nil, &directories{}, log), h, st
}

// serving is the fixture serving an htpasswd file of n users, with its
// reloader and the htpasswd path.
func serving(t *testing.T, n int) (*reloader, *endpoint.Handler, string) {
	t.Helper()
	path := fixture(t, 0o600)
	htpasswd := filepath.Join(filepath.Dir(path), "htpasswd")
	os.WriteFile(htpasswd, []byte(strings.Join(htpasswdLines(n), "")), 0o644)
	r, h, _ := reloading(t, path, slog.New(slog.DiscardHandler))
	return r, h, htpasswd
}

func hasUser(h *endpoint.Handler, name string) bool {
	_, ok := h.State().Rules.User(name)
	return ok
}

// A reload that would drop most users of htpasswd is refused, the old
// users keep being served, and the error says what to do; SIGHUP loads it.
func TestReloadRefusesShrunkFileUnlessForced(t *testing.T) {
	r, h, htpasswd := serving(t, 30)
	os.WriteFile(htpasswd, []byte(strings.Join(htpasswdLines(5), "")), 0o644)
	err := r.Reload("file change", false)
	if !errors.Is(err, acl.ErrShrunk) || !strings.Contains(err.Error(), "5 of its 30 users") || !strings.Contains(err.Error(), "SIGHUP") {
		t.Fatalf("reload of a file cut to 5 of 30 users: %v", err)
	}
	if !hasUser(h, "user29") || !strings.Contains(r.Status().Error, "SIGHUP") {
		t.Fatalf("after the refused reload: user29 served %v, status %+v", hasUser(h, "user29"), r.Status())
	}
	if err := r.Reload("SIGHUP", true); err != nil {
		t.Fatalf("SIGHUP: %v", err)
	}
	if hasUser(h, "user29") || !hasUser(h, "user4") {
		t.Fatal("SIGHUP did not load the smaller file")
	}
}

// watch runs a watcher on r until the test ends.
func watch(t *testing.T, r *reloader) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go newWatcher(r, slog.New(slog.DiscardHandler)).Run(ctx)
}

// writeSlowly truncates path and writes lines in pieces, pausing between
// them, as a slow writer does; it returns when the last piece is written.
func writeSlowly(t *testing.T, path string, lines []string, pieces int, pause time.Duration) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	per := (len(lines) + pieces - 1) / pieces
	for i := 0; i < len(lines); i += per {
		if i > 0 {
			time.Sleep(pause)
		}
		f.WriteString(strings.Join(lines[i:min(i+per, len(lines))], ""))
	}
}

// waitReloaded waits up to 2 s, the reload promise, for n reloads in all.
func waitReloaded(t *testing.T, r *reloader, n uint64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for r.successes.Load()+r.failures.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d reloads within 2 s, want %d", r.successes.Load()+r.failures.Load(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A file written in pieces, 300 ms apart, is read once it is complete:
// never half-written, and within the 2 s promise after the last piece.
func TestWatcherWaitsForFilesToSettle(t *testing.T) {
	r, h, htpasswd := serving(t, 30)
	watch(t, r)
	writeSlowly(t, htpasswd, htpasswdLines(40), 8, 300*time.Millisecond)
	waitReloaded(t, r, 1)
	time.Sleep(settle + 100*time.Millisecond) // room for a second, unwanted, reload
	if s, f := r.successes.Load(), r.failures.Load(); s != 1 || f != 0 || !hasUser(h, "user39") {
		t.Fatalf("%d reloads and %d failed ones, user39 served %v; want the complete file loaded once", s, f, hasUser(h, "user39"))
	}
}

// A writer that pauses longer than the settle time gets its half-written
// file read; when it lost most users, the shrink guard refuses it, and the
// complete file is loaded when the write ends.
func TestShrinkGuardCatchesAPausedWriter(t *testing.T) {
	r, h, htpasswd := serving(t, 30)
	watch(t, r)
	lines := htpasswdLines(40)
	f, err := os.OpenFile(htpasswd, os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(strings.Join(lines[:5], ""))
	waitReloaded(t, r, 1)
	if r.failures.Load() != 1 || !hasUser(h, "user29") {
		t.Fatalf("a file cut to 5 of 30 users: %d failed reloads, user29 served %v; want it refused", r.failures.Load(), hasUser(h, "user29"))
	}
	f.WriteString(strings.Join(lines[5:], ""))
	f.Close()
	waitReloaded(t, r, 2)
	if !hasUser(h, "user39") {
		t.Fatal("the completed file was not loaded")
	}
}

// While a large users file loads, the old rules keep answering.
func TestReloadDoesNotBlockServing(t *testing.T) {
	path := fixture(t, 0o600)
	r, h, _ := reloading(t, path, slog.New(slog.DiscardHandler))
	var users strings.Builder
	users.WriteString("{\n")
	for i := range 100_000 {
		fmt.Fprintf(&users, "  \"user-%d\": {\"pass_hash\": \"$2b$12$t3CyGthihgneFNCkMY3Cj.8/3aB3dijI2k.HcJ35m2tSQifoMRvgu\"},\n", i)
	}
	users.WriteString("  \"last\": {}\n}\n")
	os.WriteFile(filepath.Join(filepath.Dir(path), "users.json"), []byte(users.String()), 0o644)

	reloaded := make(chan error, 1)
	go func() { reloaded <- r.Reload("test", true) }()
	var during atomic.Int32
	for {
		select {
		case err := <-reloaded:
			if err != nil {
				t.Fatal(err)
			}
			if during.Load() == 0 {
				t.Fatal("no request was answered while 100 000 users loaded")
			}
			t.Logf("%d requests answered while 100 000 users loaded", during.Load())
			return
		default:
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/v2/token?service=Authentication&scope=repository:some-image:pull", nil))
		if w.Code != 200 {
			t.Fatalf("a request during the reload: %d %s", w.Code, w.Body)
		}
		if r.successes.Load() == 0 {
			during.Add(1)
		}
	}
}
