package authn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// helperEnv makes the test binary act as the bcrypt helper (TestMain).
const helperEnv = "REGTOKEN_AUTHN_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		if err := ServeWorker(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startHelper runs this test binary as the helper, the way regtoken runs
// itself with a hidden subcommand.
func startHelper(t *testing.T) *Worker {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.Stderr = os.Stderr
	w, err := StartWorker(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func TestWorkerCompares(t *testing.T) {
	t.Parallel()
	w := startHelper(t)
	h := hash(t, "secret")
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			pw, want := "secret", true
			if i%3 == 0 {
				pw, want = "wrong"+strconv.Itoa(i), false
			}
			ok, err := w.Compare(context.Background(), h, pw)
			if err != nil || ok != want {
				t.Errorf("Compare(%q) = %v, %v; want %v", pw, ok, err, want)
			}
		})
	}
	wg.Wait()
	if ok, _ := w.Compare(context.Background(), []byte("not a hash"), "secret"); ok {
		t.Error("a malformed hash matched")
	}
	if n := w.Fallbacks.Load(); n != 0 || w.Err() != nil {
		t.Errorf("%d comparisons ran in-process (helper error %v); want all in the helper", n, w.Err())
	}
}

// policies returns the scheduling policy of every thread of pid, except
// the main thread when skipMain is set.
func policies(t *testing.T, pid string, skipMain bool) []int {
	t.Helper()
	stats, _ := filepath.Glob(filepath.Join("/proc", pid, "task", "*", "stat"))
	self := strconv.Itoa(os.Getpid())
	var out []int
	for _, path := range stats {
		if skipMain && filepath.Base(filepath.Dir(path)) == self {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the thread has just ended
		}
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		policy, err := strconv.Atoi(fields[38]) // field 41 of proc_pid_stat(5)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, policy)
	}
	return out
}

func TestWorkerRunsInTheIdleClass(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the scheduling class is per thread on Linux only; elsewhere the helper runs at normal priority")
	}
	w := startHelper(t)
	// Let the helper start its runtime's threads first.
	if ok, err := w.Compare(context.Background(), hash(t, "pw"), "pw"); !ok || err != nil {
		t.Fatalf("Compare = %v, %v", ok, err)
	}
	got := policies(t, strconv.Itoa(w.cmd.Process.Pid), false)
	if len(got) == 0 {
		t.Fatal("no threads found for the helper")
	}
	for _, p := range got {
		if p != schedIdle {
			t.Fatalf("helper threads have scheduling policies %v; want all SCHED_IDLE (%d)", got, schedIdle)
		}
	}
	// The thread that started the helper is gone; no thread of this
	// process kept the idle class. (If that thread was the main thread, Go
	// parks it for good instead of ending it: it keeps the class but never
	// runs Go code again, so it is left out.)
	deadline := time.Now().Add(2 * time.Second)
	for {
		self := policies(t, "self", true)
		if !contains(self, schedIdle) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a thread of the parent kept SCHED_IDLE: %v", self)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func TestWorkerFallsBackWhenTheHelperDies(t *testing.T) {
	t.Parallel()
	w := startHelper(t)
	h := hash(t, "secret")
	if err := w.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !errors.Is(w.Err(), ErrWorkerGone) {
		t.Fatalf("Err() = %v after the helper was killed, want ErrWorkerGone", w.Err())
	}
	for pw, want := range map[string]bool{"secret": true, "wrong": false} {
		if ok, err := w.Compare(context.Background(), h, pw); ok != want || err != nil {
			t.Errorf("Compare(%q) without helper = %v, %v; want %v", pw, ok, err, want)
		}
	}
	if w.Fallbacks.Load() != 2 {
		t.Errorf("Fallbacks = %d, want 2", w.Fallbacks.Load())
	}
}

func TestWorkerCompareHonoursContext(t *testing.T) {
	t.Parallel()
	w := startHelper(t)
	slow, err := bcrypt.GenerateFromPassword([]byte("pw"), 10) // long enough to cancel during
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := w.Compare(ctx, slow, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Compare with an expiring context = %v, want DeadlineExceeded", err)
	}
	// The helper is still usable afterwards.
	if ok, err := w.Compare(context.Background(), hash(t, "x"), "x"); !ok || err != nil {
		t.Fatalf("Compare after a cancelled one = %v, %v", ok, err)
	}
}

func TestServeWorkerStreams(t *testing.T) {
	t.Parallel()
	h := hash(t, "pw")
	request := func(id byte, hash []byte, pw string) []byte {
		b := []byte{0, 0, 0, id, 0, byte(len(hash))}
		b = append(b, hash...)
		return append(append(b, 0, byte(len(pw))), pw...)
	}
	var out bytes.Buffer
	in := append(request(7, h, "pw"), request(9, h, "nope")...)
	if err := ServeWorker(bytes.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	got := map[byte]byte{}
	for b := out.Bytes(); len(b) >= 5; b = b[5:] {
		got[b[3]] = b[4]
	}
	if len(got) != 2 || got[7] != 1 || got[9] != 0 {
		t.Errorf("answers %v (raw %x), want id 7 -> 1, id 9 -> 0", got, out.Bytes())
	}
	for name, stream := range map[string][]byte{
		"truncated id":       {0, 0},
		"truncated hash":     {0, 0, 0, 1, 0, 60, '$', '2'},
		"missing password":   append(request(1, h, "pw")[:6+len(h)], 0),
		"truncated password": request(1, h, "pw")[:6+len(h)+3],
	} {
		if err := ServeWorker(bytes.NewReader(stream), &bytes.Buffer{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestVerifierUsesCompare(t *testing.T) {
	t.Parallel()
	calls := 0
	fake := func(ctx context.Context, hash []byte, password string) (bool, error) {
		calls++
		return password == "right", nil
	}
	v := New(Options{Compare: fake})
	h := hash(t, "unused")
	for range 3 {
		if ok, err := verify(context.Background(), v, "alice", h, "right"); !ok || err != nil {
			t.Fatalf("verify = %v, %v", ok, err)
		}
	}
	if ok, _ := verify(context.Background(), v, "alice", h, "wrong"); ok {
		t.Fatal("wrong password accepted")
	}
	if calls != 2 {
		t.Errorf("Compare called %d times, want 2 (the right password once, then cached)", calls)
	}
	if got, want := v.Concurrency(), runtime.GOMAXPROCS(0); got != want {
		t.Errorf("Concurrency with a helper = %d, want GOMAXPROCS = %d", got, want)
	}
	if got, want := New(Options{}).Concurrency(), max(1, runtime.GOMAXPROCS(0)-1); got != want {
		t.Errorf("Concurrency in-process = %d, want %d", got, want)
	}
}
