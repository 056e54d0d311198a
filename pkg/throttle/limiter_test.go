package throttle

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const (
	addrA = "192.0.2.1:40000"
	addrB = "198.51.100.7:40000"
)

// fail records n failed checks of user at addr.
func fail(l *Limiter, user, addr string, now time.Time, n int) {
	for range n {
		l.failure(user, addr, now)
	}
}

// failure records one failed check of user at addr, whether or not Admit
// would let it run: the tests drive counts directly, past blocks too.
func (l *Limiter) failure(user, addr string, now time.Time) {
	addrKey, t := l.keys.address(addr), now.UnixNano()
	for _, k := range []struct {
		s   store
		key uint64
	}{{l.addrs, addrKey}, {l.pairs, l.keys.pair(user, addrKey)}} {
		if k.s != nil {
			k.s.done(k.key, t, true)
		}
	}
	l.Stats.Failures.Add(1)
}

func TestDelaysGrowAndCap(t *testing.T) {
	l := New(Policy{})
	fail(l, "alice", addrA, t0, 4)
	if w := l.Check("alice", addrA, t0); w != 0 {
		t.Fatalf("after 4 failures (threshold 5): wait %s, want 0", w)
	}
	now := t0
	want := time.Second
	for i := 5; i <= 17; i++ {
		l.failure("alice", addrA, now)
		w := l.Check("alice", addrA, now)
		if w != want {
			t.Fatalf("after failure %d: wait %s, want %s", i, w, want)
		}
		// Waiting out the block is enough to be let in again.
		now = now.Add(w)
		if w := l.Check("alice", addrA, now); w != 0 {
			t.Fatalf("after failure %d and its wait: wait %s, want 0", i, w)
		}
		want = min(2*want, DefaultMaxDelay)
	}
	if got := l.Stats.Blocked.Load(); got != 13 {
		t.Errorf("Stats.Blocked = %d, want 13", got)
	}
}

func TestPairThresholdIsPerUser(t *testing.T) {
	l := New(Policy{})
	// Four wrong passwords each for ten users from one address: no pair and
	// not the address (40 < 50) is over its threshold.
	for u := range 10 {
		fail(l, user(u), addrA, t0, 4)
	}
	for u := range 11 {
		if w := l.Check(user(u), addrA, t0); w != 0 {
			t.Fatalf("%s: wait %s, want 0", user(u), w)
		}
	}
	l.failure(user(3), addrA, t0)
	if w := l.Check(user(3), addrA, t0); w != time.Second {
		t.Fatalf("fifth failure of %s: wait %s, want 1s", user(3), w)
	}
	if w := l.Check(user(4), addrA, t0); w != 0 {
		t.Fatalf("%s, same address, 4 failures: wait %s, want 0", user(4), w)
	}
}

func TestAddressThresholdAcrossUsers(t *testing.T) {
	l := New(Policy{})
	for u := range 49 {
		l.failure(user(u), addrA, t0)
	}
	if w := l.Check("newcomer", addrA, t0); w != 0 {
		t.Fatalf("49 failures from the address: wait %s, want 0", w)
	}
	l.failure(user(49), addrA, t0)
	if w := l.Check("newcomer", addrA, t0); w != time.Second {
		t.Fatalf("50 failures from the address: a user with no failures waits %s, want 1s", w)
	}
	if w := l.Check(user(0), addrB, t0); w != 0 {
		t.Fatalf("another address waits %s, want 0", w)
	}
	l.failure(user(50), addrA, t0.Add(time.Second))
	if w := l.Check("newcomer", addrA, t0.Add(time.Second)); w != 2*time.Second {
		t.Fatalf("51st failure: wait %s, want 2s", w)
	}
}

// An attacker hammering one user from one address must not lock that user
// out from anywhere else.
func TestAttackerDoesNotBlockOtherAddresses(t *testing.T) {
	l := New(Policy{})
	fail(l, "alice", addrA, t0, 500)
	if w := l.Check("alice", addrA, t0); w != DefaultMaxDelay {
		t.Fatalf("attacker waits %s, want the cap %s", w, DefaultMaxDelay)
	}
	if w := l.Check("bob", addrA, t0); w == 0 {
		t.Fatalf("the attacker's address is over its own threshold and must wait for any user")
	}
	for _, other := range []string{addrB, "192.0.2.2", "[2001:db8::1]:443", "@"} {
		if w := l.Check("alice", other, t0); w != 0 {
			t.Errorf("alice from %s waits %s, want 0", other, w)
		}
	}
}

func TestSuccessClearsPairButNotAddress(t *testing.T) {
	l := New(Policy{})
	fail(l, "alice", addrA, t0, 5)
	now := t0.Add(time.Second)
	l.Success("alice", addrA)
	l.failure("alice", addrA, now)
	if w := l.Check("alice", addrA, now); w != 0 {
		t.Fatalf("one failure after a success: wait %s, want 0", w)
	}

	// The address keeps its count: logging into one's own account between
	// guesses at others does not reset it.
	l = New(Policy{})
	for u := range 50 {
		l.failure(user(u), addrA, t0)
	}
	l.Success("mallory", addrA)
	l.failure(user(60), addrA, now)
	if w := l.Check("carol", addrA, now); w != 2*time.Second {
		t.Fatalf("address after a success and one more failure: wait %s, want 2s", w)
	}
}

func TestDecay(t *testing.T) {
	l := New(Policy{})
	fail(l, "alice", addrA, t0, 4)
	// One half-life later the count is 2: two more failures make 4, still
	// under the threshold; a third makes 5.
	now := t0.Add(DefaultDecay)
	fail(l, "alice", addrA, now, 2)
	if w := l.Check("alice", addrA, now); w != 0 {
		t.Fatalf("4 failures, halved, plus 2: wait %s, want 0", w)
	}
	l.failure("alice", addrA, now)
	if w := l.Check("alice", addrA, now); w != time.Second {
		t.Fatalf("4 failures, halved, plus 3: wait %s, want 1s", w)
	}

	// A day later nothing is left.
	now = now.Add(24 * time.Hour)
	fail(l, "alice", addrA, now, 4)
	if w := l.Check("alice", addrA, now); w != 0 {
		t.Fatalf("a day later, 4 failures: wait %s, want 0", w)
	}
}

// Counts do not decay while a key is blocked: an attacker at the cap who waits
// it out is still at the cap on the next failure.
func TestNoDecayWhileBlocked(t *testing.T) {
	l := New(Policy{})
	fail(l, "alice", addrA, t0, 15)
	if w := l.Check("alice", addrA, t0); w != DefaultMaxDelay {
		t.Fatalf("15 failures: wait %s, want %s", w, DefaultMaxDelay)
	}
	now := t0.Add(DefaultMaxDelay)
	l.failure("alice", addrA, now)
	if w := l.Check("alice", addrA, now); w != DefaultMaxDelay {
		t.Fatalf("next failure right after a 15-minute block: wait %s, want %s", w, DefaultMaxDelay)
	}
}

// A patient attacker who always waits exactly as long as told gets about one
// guess per MaxDelay once at the cap.
func TestPatientAttackerRate(t *testing.T) {
	l := New(Policy{})
	now, end, guesses := t0, t0.Add(24*time.Hour), 0
	for now.Before(end) {
		if w := l.Check("alice", addrA, now); w > 0 {
			now = now.Add(w)
			continue
		}
		l.failure("alice", addrA, now)
		guesses++
	}
	// 14 to reach the cap, then one per 15 minutes: 14 + 96.
	if guesses > 111 {
		t.Fatalf("a patient attacker made %d guesses in a day, want at most 111", guesses)
	}
	t.Logf("guesses in 24 h against one (user, address): %d", guesses)
}

func TestDisabledKeys(t *testing.T) {
	l := New(Policy{AddressThreshold: -1})
	for u := range 500 {
		l.failure(user(u), addrA, t0)
	}
	if w := l.Check("newcomer", addrA, t0); w != 0 {
		t.Fatalf("address key off: wait %s, want 0", w)
	}
	l = New(Policy{PairThreshold: -1})
	fail(l, "alice", addrA, t0, 49)
	if w := l.Check("alice", addrA, t0); w != 0 {
		t.Fatalf("pair key off, 49 failures: wait %s, want 0", w)
	}
}

func TestNilLimiterAllowsEverything(t *testing.T) {
	var l *Limiter
	l.Success("alice", addrA)
	l.Sweep(t0)
	if w := l.Check("alice", addrA, t0); w != 0 {
		t.Fatalf("nil Limiter: wait %s", w)
	}
	for range 3 {
		p, w := l.Admit("alice", addrA, t0)
		if w != (Refusal{}) || p.Rank() != 0 {
			t.Fatalf("nil Limiter: Admit refuses %+v, rank %d", w, p.Rank())
		}
		p.Failure(t0)
	}
}

func TestPolicyDefaultsAndValidate(t *testing.T) {
	got := New(Policy{MaxDelay: time.Millisecond}).Policy()
	want := Policy{DefaultPairThreshold, DefaultAddressThreshold, DefaultAddressInFlight, DefaultBaseDelay, DefaultBaseDelay,
		DefaultDecay, DefaultMaxEntries, DefaultTarpit, DefaultTarpitSlots}
	if got != want {
		t.Fatalf("policy = %+v, want %+v", got, want)
	}
	if err := (Policy{}).Validate(); err != nil {
		t.Fatalf("zero policy: %v", err)
	}
	for _, p := range []Policy{
		{BaseDelay: -time.Second},
		{MaxDelay: -time.Second},
		{Decay: -time.Second},
		{MaxEntries: -1},
		{Tarpit: -time.Second},
		{BaseDelay: time.Minute, MaxDelay: time.Second},
		{BaseDelay: 20 * time.Minute}, // above the default cap
	} {
		if err := p.Validate(); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidPolicy", p, err)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	for _, c := range []struct {
		wait time.Duration
		want int
	}{{0, 0}, {-time.Second, 0}, {time.Nanosecond, 1}, {time.Second, 1}, {time.Second + 1, 2}, {15 * time.Minute, 900}} {
		if got := RetryAfter(c.wait); got != c.want {
			t.Errorf("RetryAfter(%s) = %d, want %d", c.wait, got, c.want)
		}
	}
}

func user(i int) string { return "user" + string(rune('A'+i/26)) + string(rune('a'+i%26)) }

// Failures microseconds apart decay a little between them; they must still
// reach the threshold (the endpoint sees them this way under load).
func TestRapidFailuresReachThreshold(t *testing.T) {
	l := New(Policy{PairThreshold: 3, AddressThreshold: -1})
	now := time.Now()
	for i := range 3 {
		l.failure("u", "192.0.2.1", now.Add(time.Duration(i)*time.Millisecond))
	}
	if wait := l.Check("u", "192.0.2.1", now.Add(3*time.Millisecond)); wait <= 0 {
		t.Fatal("three failures within milliseconds did not block at threshold 3")
	}
}
