//go:build e2e

package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// Margins past which the end sample counts as a leak.
const (
	goroutineMargin = 20
	fdMargin        = 20
	rssFactor       = 2.0
	// settleTime bounds the wait, after the load stops, for connections
	// still being served to end before the last sample.
	settleTime = serverTimeout + 10*time.Second
)

func TestSoak(t *testing.T) {
	d := soakDuration(t)
	warmUp := min(max(d/10, 5*time.Second), time.Minute)

	dir := harness.ShortDir(t)
	uwsgiSocket, opSocket := filepath.Join(dir, "uwsgi.sock"), filepath.Join(dir, "operator.sock")
	// Audit lines are off: the harness keeps the process's output in the test's
	// memory, and a 10-minute soak would write hundreds of thousands.
	newcomers := int(d/(500*time.Millisecond)) + 10
	stack := harness.StartStack(t, harness.StackOptions{Protocol: "scgi", Users: soakUsers(t, dir, newcomers), ExtraConfig: fmt.Sprintf(`
[[listen]]
protocol = "uwsgi"
address = "unix:%s"
mode = "0666"

[operator]
listen = "unix:%s"

[log]
audit = false
`, uwsgiSocket, opSocket)})
	stack.Regtoken.WaitDial(t, "unix", uwsgiSocket, 10*time.Second)
	stack.Regtoken.WaitDial(t, "unix", opSocket, 10*time.Second)
	op := newOperator(opSocket)

	l := &load{
		nginx:     "127.0.0.1:" + strings.TrimPrefix(stack.Host, "localhost:"),
		host:      stack.Host,
		scgi:      stack.Socket,
		uwsgi:     uwsgiSocket,
		timeout:   serverTimeout + 10*time.Second,
		maxRounds: int(d / time.Millisecond),
		newcomers: newcomers,
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	began := time.Now()
	var wg sync.WaitGroup
	l.run(ctx, &wg)

	pause(ctx, warmUp)
	start := mustSample(t, op, time.Since(began))
	t.Logf("start (after %s of warm-up): %s", warmUp, start)
	samples := []sample{start}
	for every := max(d/10, 5*time.Second); ctx.Err() == nil; {
		if pause(ctx, every); ctx.Err() != nil {
			break
		}
		s := mustSample(t, op, time.Since(began))
		samples = append(samples, s)
		t.Logf("under load: %s  honest=%d errors=%d", s, l.tally.honest.Load(), l.tally.honestErrs.Load())
	}
	wg.Wait()
	end := settle(t, op, began, start)
	t.Logf("end (load stopped, connections closed): %s", end)

	report(t, d, &l.tally, start, end)
	if stack.Regtoken.Exited() {
		t.Fatalf("regtoken exited during the soak")
	}
	check(t, &l.tally, start, end)
	if d > serverTimeout+10*time.Second && l.tally.cutOff.Load() == 0 {
		t.Errorf("no endless trickle was cut by the server within %s", d)
	}
}

// soakUsers writes the demo users.json plus n users newcomer-0 to
// newcomer-(n-1), whose password is foo's (bcrypt cost 12), into dir, and
// returns its path.
func soakUsers(t *testing.T, dir string, n int) string {
	b, err := os.ReadFile(harness.Testdata("demo", "users.json"))
	if err != nil {
		t.Fatal(err)
	}
	var users map[string]map[string]any
	if err := json.Unmarshal(b, &users); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		users[fmt.Sprintf("newcomer-%d", i)] = map[string]any{
			"pass_hash": users["foo"]["pass_hash"], "repositories": map[string][]string{"some-image": {"pull"}}}
	}
	out, _ := json.MarshalIndent(users, "", "  ")
	path := filepath.Join(dir, "users.json")
	harness.WriteFile(t, path, string(out), 0o644)
	return path
}

// soakDuration is REGTOKEN_SOAK (a Go duration), 60 s by default. It fails
// the test when go test's -timeout would cut the soak short.
func soakDuration(t *testing.T) time.Duration {
	d := time.Minute
	if v := os.Getenv("REGTOKEN_SOAK"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d < 10*time.Second {
			t.Fatalf("REGTOKEN_SOAK=%q: want a duration of at least 10s, like 10m", v)
		}
	}
	need := d + settleTime + time.Minute // load, settling, starting the stack
	if deadline, ok := t.Deadline(); ok && time.Until(deadline) < need {
		t.Fatalf("a %s soak needs about %s; run go test with -timeout %s or more", d, need.Round(time.Minute), (need + 5*time.Minute).Round(time.Minute))
	}
	return d
}

func mustSample(t *testing.T, op *operator, at time.Duration) sample {
	t.Helper()
	s, err := op.sample(at)
	if err != nil {
		t.Fatalf("reading regtoken's /metrics: %v", err)
	}
	return s
}

// settle samples until goroutines and fds are back within the margins or
// settleTime passes, and returns the last sample.
func settle(t *testing.T, op *operator, began time.Time, start sample) sample {
	deadline := time.Now().Add(settleTime)
	for {
		s := mustSample(t, op, time.Since(began))
		if within(s, start) || time.Now().After(deadline) {
			return s
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func within(end, start sample) bool {
	return end.goroutines <= start.goroutines+goroutineMargin && end.fds <= start.fds+fdMargin
}

// report logs the summary table.
func report(t *testing.T, d time.Duration, n *tally, start, end sample) {
	var b strings.Builder
	fmt.Fprintf(&b, "soak summary (%s of load)\n", d)
	fmt.Fprintf(&b, "  honest requests served      %8d  (slow trickled %d, straight to the sockets %d, first logins %d)\n",
		n.honest.Load(), n.slow.Load(), n.direct.Load(), n.firstLogin.Load())
	fmt.Fprintf(&b, "  honest errors               %8d\n", n.honestErrs.Load())
	fmt.Fprintf(&b, "  password guesses            %8d  (401 %d, 429 %d, 503 %d, other %d; %d bursts of %d at once)\n",
		n.guess401.Load()+n.guess429.Load()+n.guess503.Load()+n.guessOther.Load(),
		n.guess401.Load(), n.guess429.Load(), n.guess503.Load(), n.guessOther.Load(), n.bursts.Load(), burstSize)
	fmt.Fprintf(&b, "  malformed streams           %8d  (answered 4xx %d, other answer where allowed %d, closed silently %d, hanging or odd %d)\n",
		n.broken.Load()+n.unanswered.Load(), n.rejected.Load(), n.served.Load(), n.broken.Load()-n.rejected.Load()-n.served.Load(), n.unanswered.Load())
	fmt.Fprintf(&b, "  endless trickles cut        %8d  (not cut in time %d)\n", n.cutOff.Load(), n.notCut.Load())
	fmt.Fprintf(&b, "  regtoken                       start       end\n")
	fmt.Fprintf(&b, "    resident memory (MB)      %8.1f  %8.1f\n", start.rss/(1<<20), end.rss/(1<<20))
	fmt.Fprintf(&b, "    open file descriptors     %8.0f  %8.0f\n", start.fds, end.fds)
	fmt.Fprintf(&b, "    goroutines                %8.0f  %8.0f\n", start.goroutines, end.goroutines)
	n.mu.Lock()
	for _, p := range n.problems {
		fmt.Fprintf(&b, "  ! %s\n", p)
	}
	n.mu.Unlock()
	t.Log(b.String())
}

// check fails the test on honest errors, unexpected answers, hanging
// connections, and resource growth.
func check(t *testing.T, n *tally, start, end sample) {
	if n.honestErrs.Load() > 0 {
		t.Errorf("honest clients saw %d errors, want 0", n.honestErrs.Load())
	}
	if n.honest.Load() < 100 || n.slow.Load() == 0 || n.direct.Load() == 0 || n.firstLogin.Load() == 0 {
		t.Errorf("too little honest load to judge: %d served (%d slow, %d direct, %d first logins)",
			n.honest.Load(), n.slow.Load(), n.direct.Load(), n.firstLogin.Load())
	}
	if n.bursts.Load() == 0 {
		t.Errorf("no burst of guesses was fired")
	}
	if n.guessOther.Load() > 0 {
		t.Errorf("%d password guesses got an answer other than 401, 429 or 503", n.guessOther.Load())
	}
	if n.guess401.Load()+n.guess429.Load() == 0 {
		t.Errorf("no password guess was answered 401 or 429")
	}
	if n.unanswered.Load() > 0 {
		t.Errorf("%d malformed streams were left hanging past %s or answered with a status other than 4xx", n.unanswered.Load(), serverTimeout+10*time.Second)
	}
	if n.broken.Load() == 0 {
		t.Errorf("no malformed stream was sent")
	}
	if n.notCut.Load() > 0 {
		t.Errorf("%d endless trickles were not cut by the server's %s request timeout", n.notCut.Load(), serverTimeout)
	}
	if end.goroutines > start.goroutines+goroutineMargin {
		t.Errorf("goroutines grew from %.0f to %.0f after the load stopped (margin %d)", start.goroutines, end.goroutines, goroutineMargin)
	}
	if end.fds > start.fds+fdMargin {
		t.Errorf("open fds grew from %.0f to %.0f after the load stopped (margin %d)", start.fds, end.fds, fdMargin)
	}
	if end.rss > rssFactor*start.rss {
		t.Errorf("resident memory grew from %.1f MB to %.1f MB (limit %.0fx)", start.rss/(1<<20), end.rss/(1<<20), rssFactor)
	}
}
