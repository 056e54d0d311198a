package throttle

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// admits checks that Admit lets a check of user at addr run, then cancels it.
func admits(t *testing.T, l *Limiter, user, addr string, now time.Time, what string) {
	t.Helper()
	p, w := l.Admit(user, addr, now)
	if w != (Refusal{}) {
		t.Fatalf("%s: refusal %+v, want none", what, w)
	}
	p.Cancel(now)
}

// refusesBusy checks that Admit refuses a check of user at addr because
// others are in flight.
func refusesBusy(t *testing.T, l *Limiter, user, addr string, now time.Time, what string) {
	t.Helper()
	if _, w := l.Admit(user, addr, now); w != (Refusal{Wait: busyWait, Busy: true}) {
		t.Fatalf("%s: refusal %+v, want busy for %s", what, w, busyWait)
	}
}

// One (user, address) pair has one check in flight at most; other users and
// other addresses are not held up by it.
func TestAdmitOnePerPair(t *testing.T) {
	l := New(Policy{})
	p, w := l.Admit("alice", addrA, t0)
	if w.Wait != 0 || p.Rank() != 0 {
		t.Fatalf("first check: refusal %+v, rank %d; want 0, 0", w, p.Rank())
	}
	refusesBusy(t, l, "alice", addrA, t0, "second check of the pair while the first runs")
	admits(t, l, "alice", addrB, t0, "alice at B while alice at A is checked")
	admits(t, l, "bob", addrA, t0, "bob at A while alice at A is checked")
	p.Failure(t0)
	admits(t, l, "alice", addrA, t0, "after the first check ended")
	if got := l.Stats.Busy.Load(); got != 1 {
		t.Errorf("Stats.Busy = %d, want 1", got)
	}
	if got := l.Stats.Pending(); got != 0 {
		t.Errorf("Stats.Pending = %d after every check ended, want 0", got)
	}
}

// An address has at most AddressInFlight checks in flight, whatever the users.
func TestAdmitAddressInFlight(t *testing.T) {
	l := New(Policy{AddressInFlight: 3})
	var passes []Pass
	for u := range 3 {
		p, w := l.Admit(user(u), addrA, t0)
		if w.Wait != 0 {
			t.Fatalf("check %d of 3: refusal %+v", u, w)
		}
		passes = append(passes, p)
	}
	refusesBusy(t, l, user(3), addrA, t0, "a fourth check from the address")
	admits(t, l, user(3), addrB, t0, "another address")
	passes[0].Success(t0)
	admits(t, l, user(3), addrA, t0, "after one check ended")
	// A pair refused after its address admitted the check leaves the
	// address's count of checks in flight as it was.
	refusesBusy(t, l, user(1), addrA, t0, "the pair of a check in flight")
	admits(t, l, user(4), addrA, t0, "third check in flight again")
}

// Checks in flight count against the threshold: with 7 failures and a
// threshold of 10, three checks may run at once, not four.
func TestAdmitCountsPendingTowardsThreshold(t *testing.T) {
	l := New(Policy{AddressThreshold: 10, AddressInFlight: 100})
	for u := range 7 {
		l.failure(user(u), addrA, t0)
	}
	var passes []Pass
	for u := 10; u < 13; u++ {
		p, w := l.Admit(user(u), addrA, t0)
		if w.Wait != 0 {
			t.Fatalf("check %d: refusal %+v", u-9, w)
		}
		passes = append(passes, p)
	}
	refusesBusy(t, l, user(13), addrA, t0, "a fourth check that could be the tenth failure")
	for _, p := range passes {
		p.Failure(t0)
	}
	if w := l.Check("newcomer", addrA, t0); w != time.Second {
		t.Fatalf("ten failures: wait %s, want 1s", w)
	}
	if _, w := l.Admit("newcomer", addrA, t0); w != (Refusal{Wait: time.Second}) {
		t.Fatalf("a check while the address is blocked: refusal %+v, want a 1s block", w)
	}
	// Once the block ends the key is at its threshold: one guess at a time,
	// each failure a longer block.
	later := t0.Add(time.Second)
	p, w := l.Admit(user(20), addrA, later)
	if w.Wait != 0 {
		t.Fatalf("after the block: refusal %+v, want 0", w)
	}
	refusesBusy(t, l, user(21), addrA, later, "a second guess at the threshold")
	p.Failure(later)
	if w := l.Check("newcomer", addrA, later); w != 2*time.Second {
		t.Fatalf("eleventh failure: wait %s, want 2s", w)
	}
}

// However a burst interleaves, no more checks are admitted for one pair
// than its threshold allows before the block, and no more for one address
// (many users) than the address threshold, never more at once than the
// in-flight bound.
func TestBurstAdmitsNoMoreThanThresholds(t *testing.T) {
	for _, c := range []struct {
		name  string
		users int
		limit int
	}{{"one user", 1, DefaultPairThreshold}, {"many users", 200, 20}} {
		t.Run(c.name, func(t *testing.T) {
			l := New(Policy{AddressThreshold: 20, AddressInFlight: 4})
			var admitted, inFlight, most atomic.Int32
			var wg sync.WaitGroup
			for i := range 200 {
				wg.Go(func() {
					p, w := l.Admit(user(i%c.users), addrA, t0)
					if w.Wait > 0 {
						return
					}
					admitted.Add(1)
					n := inFlight.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					time.Sleep(time.Millisecond)
					inFlight.Add(-1)
					p.Failure(t0)
				})
			}
			wg.Wait()
			if n := int(admitted.Load()); n > c.limit || n == 0 {
				t.Errorf("%d checks admitted, want 1 to %d", n, c.limit)
			}
			if m := most.Load(); m > 4 {
				t.Errorf("%d checks in flight at once, want at most 4", m)
			}
			t.Logf("200 attempts: %d admitted, at most %d at once, %d refused busy, %d blocked",
				admitted.Load(), most.Load(), l.Stats.Busy.Load(), l.Stats.Blocked.Load())
		})
	}
}

// A check ranks by the failures of its address and pair, and by the checks
// its address already has in flight.
func TestAdmitRank(t *testing.T) {
	l := New(Policy{})
	l.failure("mallory", addrA, t0)
	for _, c := range []struct {
		user, addr string
		rank       int
	}{{"alice", addrB, 0}, {"alice", addrA, 1}, {"mallory", addrA, 2}} {
		p, w := l.Admit(c.user, c.addr, t0)
		if w.Wait != 0 || p.Rank() != c.rank {
			t.Errorf("%s at %s: refusal %+v, rank %d; want none, %d", c.user, c.addr, w, p.Rank(), c.rank)
		}
		p.Cancel(t0)
	}
	for i := range 3 { // a burst from a fresh address
		if p, _ := l.Admit(user(i), "203.0.113.1", t0); p.Rank() != i {
			t.Errorf("check %d of a burst: rank %d, want %d", i+1, p.Rank(), i)
		}
	}
}

// Cancel counts nothing; Success forgets the pair's failures.
func TestPassEnds(t *testing.T) {
	l := New(Policy{})
	fail(l, "alice", addrA, t0, 4)
	p, _ := l.Admit("alice", addrA, t0)
	p.Cancel(t0)
	p, _ = l.Admit("alice", addrA, t0)
	p.Success(t0)
	fail(l, "alice", addrA, t0, 4)
	if w := l.Check("alice", addrA, t0); w != 0 {
		t.Fatalf("4 failures after a success (and a cancelled check): wait %s, want 0", w)
	}
	if got := l.Stats.Failures.Load(); got != 8 {
		t.Errorf("Stats.Failures = %d, want 8", got)
	}
}

// An entry with a check in flight survives a full table: the failure that
// ends the check still counts towards its block.
func TestPendingEntriesAreNotEvicted(t *testing.T) {
	l := New(Policy{MaxEntries: 64})
	fail(l, "alice", addrA, t0, 4)
	p, w := l.Admit("alice", addrA, t0)
	if w.Wait != 0 {
		t.Fatalf("refused: %+v", w)
	}
	for i := range 10_000 {
		l.failure("mallory", fmt.Sprintf("10.9.%d.%d", i>>8, i&255), t0)
	}
	p.Failure(t0)
	if w := l.Check("alice", addrA, t0); w != time.Second {
		t.Fatalf("fifth failure, ended after 10 000 other keys: wait %s, want 1s", w)
	}
}
