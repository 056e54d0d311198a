//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// drainHashes are bcrypt cost-11 hashes of drain-1 ... drain-6: slow enough
// that requests are still in flight when SIGTERM arrives. Each user is
// different so no request is answered from the credential cache.
var drainHashes = []string{
	"$2a$11$iRVT/gcZzhFaLdRYuJsUi.sh9TfAUQI5UlOqxn99/TfZXqWF/RWWi",
	"$2a$11$U3J3KfudNcfO7HgCoVmC2ur5SNdoOwsq5YWBtAdRVDNFxLbqm7BK.",
	"$2a$11$YSHj0corvj3WP1EDt7uUz.vg5dOJYtpxtogwaGaGHOAx.PTRLeSNO",
	"$2a$11$RXvxuYfs14y8ei9F738yKeOwRQondxNGr4F.naAXl/S7aBxRzP75O",
	"$2a$11$gxFaqKSwI5k9GM/kVDEqY.jYHO55R6ul.z0SPcZgaZCQs19HCWhXe",
	"$2a$11$WWCZUFykLkQ/WCZ9BnQ9v.ZxfvjES2Iu4yU9ZJnmc7gJdhhdD/lvy",
}

// TestDrainOnSIGTERM sends token requests through each shipped nginx site,
// signals regtoken once it has accepted them all, and checks the promise of
// a graceful stop: the listener closes at once (new connections are
// refused, nginx answers 502), every request already in flight still gets
// its 200 and token, and regtoken exits with status 0.
func TestDrainOnSIGTERM(t *testing.T) {
	for _, proto := range frontProtocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			dir := harness.ShortDir(t)
			users := filepath.Join(dir, "drain-users.json")
			harness.WriteFile(t, users, drainUsers(), 0o644)
			// Every check gets a bcrypt slot, so none waits in authn's queue
			// (whose timeout a loaded test machine could reach).
			limits := fmt.Sprintf("[limits]\nbcrypt_concurrency = %d\n", len(drainHashes))
			s := harness.StartSite(t, harness.SiteOptions{Protocol: proto, Registry: harness.NoRegistry, Users: users, ExtraConfig: limits})

			pid := s.Regtoken.Cmd.Process.Pid
			idle := socketFDs(t, pid)
			results := sendDrainRequests(t, s)
			// In flight means accepted by regtoken: one more socket each.
			waitSocketFDs(t, pid, idle+len(drainHashes))
			s.Regtoken.Cmd.Process.Signal(syscall.SIGTERM)

			closedAt := waitRefused(t, s.Socket)
			if n := len(results); n == len(drainHashes) {
				t.Fatalf("all %d requests finished before the listener closed: nothing was in flight (raise the bcrypt cost)", n)
			}
			t.Logf("listener closed after %s with %d of %d requests still in flight", closedAt, len(drainHashes)-len(results), len(drainHashes))
			if a := fetch(t, newRequest(t, "GET", s.Realm+"?service=Authentication", nil)); a.status != 502 {
				t.Errorf("a request after the listener closed: nginx answered %d, want 502", a.status)
			}

			for range drainHashes {
				r := <-results
				if r.err != nil || r.status != 200 {
					t.Errorf("%s: in-flight request ended with %d %v %s", r.user, r.status, r.err, r.body)
				} else if c := jwtClaims(t, r.body); c.Subject != r.user {
					t.Errorf("%s got a token for %q", r.user, c.Subject)
				}
			}
			if err := s.Regtoken.Wait(30 * time.Second); err != nil {
				t.Fatal(err)
			}
			if code := s.Regtoken.Cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("exit status %d, want 0", code)
			}
			if out := s.Regtoken.Output(); strings.Contains(out, "drain did not finish") || !strings.Contains(out, "stopped") {
				t.Errorf("regtoken's log does not show a clean drain:\n%s", out)
			}
		})
	}
}

// drainUsers is a users.json for drain-1 ... drain-6, each may pull
// some-image.
func drainUsers() string {
	var entries []string
	for i, h := range drainHashes {
		entries = append(entries, fmt.Sprintf(`"drain-%d": {"pass_hash": %q, "repositories": {"some-image": ["pull"]}}`, i+1, h))
	}
	return "{\n" + strings.Join(entries, ",\n") + "\n}\n"
}

type drainResult struct {
	user   string
	status int
	body   []byte
	err    error
}

// sendDrainRequests starts one token request per drain user through the
// site's nginx; results receives each answer.
func sendDrainRequests(t *testing.T, s *harness.Site) chan drainResult {
	results := make(chan drainResult, len(drainHashes))
	for i := range drainHashes {
		user := fmt.Sprintf("drain-%d", i+1)
		req := newRequest(t, "GET", s.Realm+"?service=Authentication&scope=repository:some-image:pull", nil)
		req.SetBasicAuth(user, user)
		go func() {
			resp, err := plainClient.Do(req)
			r := drainResult{user: user, err: err}
			if err == nil {
				r.status = resp.StatusCode
				r.body, r.err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			results <- r
		}()
	}
	return results
}

// socketFDs counts the sockets process pid has open.
func socketFDs(t *testing.T, pid int) int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n
}

func waitSocketFDs(t *testing.T, pid, want int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if socketFDs(t, pid) >= want {
			return
		}
	}
	t.Fatalf("regtoken did not accept the requests: %d sockets open, want %d", socketFDs(t, pid), want)
}

// waitRefused waits until the socket at path no longer takes connections
// and returns how long that took.
func waitRefused(t *testing.T, path string) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < 5*time.Second {
		c, err := net.DialTimeout("unix", path, 100*time.Millisecond)
		if err != nil {
			return time.Since(start)
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s still accepts connections 5 s after SIGTERM", path)
	return 0
}
