package throttle

import (
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"
)

// An attacker rotating through a million addresses must not grow the tables
// past MaxEntries, nor flush a block that is in force.
func TestBoundedUnderAddressRotation(t *testing.T) {
	const maxEntries = 10_000
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	l := New(Policy{MaxEntries: maxEntries})
	fail(l, "alice", addrA, t0, 15)
	ip := netip.AddrFrom4([4]byte{10, 0, 0, 0})
	now := t0
	for i := range n {
		ip = ip.Next()
		l.failure("alice", ip.String(), now)
		if i%1000 == 0 {
			now = now.Add(time.Millisecond)
		}
	}
	if e := l.Stats.Entries(); e > 2*maxEntries {
		t.Fatalf("%d entries after %d addresses, want at most %d", e, n, 2*maxEntries)
	}
	if l.Stats.Evicted.Load() == 0 {
		t.Fatal("no evictions counted")
	}
	if w := l.Check("alice", addrA, now); w == 0 {
		t.Fatal("the rotation flushed the block on (alice, A)")
	}

	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if grew > 16<<20 {
		t.Fatalf("heap grew by %d MB for %d entries", grew>>20, l.Stats.Entries())
	}
	t.Logf("%d addresses: %d entries, %d evicted, heap +%d KB", n, l.Stats.Entries(), l.Stats.Evicted.Load(), grew>>10)
	runtime.KeepAlive(l)
}

// Entries that decayed to nothing are dropped by Sweep and, a few at a time,
// by later inserts.
func TestForgottenEntriesAreDropped(t *testing.T) {
	l := New(Policy{})
	for i := range 1000 {
		l.failure(user(i%300), netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}).String(), t0)
	}
	if e := l.Stats.Entries(); e != 2000 {
		t.Fatalf("entries = %d, want 2000 (1000 pairs, 1000 addresses)", e)
	}
	fail(l, "alice", addrA, t0, 15) // blocked for 15 minutes
	later := t0.Add(2 * DefaultDecay)
	l.Sweep(later)
	if e := l.Stats.Entries(); e != 2 {
		t.Fatalf("after two half-lives: %d entries, want 2 (the blocked pair and its address)", e)
	}
	if w := l.Check("alice", addrA, later); w != 0 {
		t.Fatalf("the 15-minute block should have ended: wait %s", w)
	}
	l.Sweep(later.Add(7 * time.Hour))
	if e := l.Stats.Entries(); e != 0 {
		t.Fatalf("hours later: %d entries, want 0", e)
	}
}

func TestConcurrentUse(t *testing.T) {
	l := New(Policy{MaxEntries: 64})
	addrs := []string{"192.0.2.1:1", "192.0.2.2:2", "[2001:db8::1]:3", "@"}
	const workers, rounds = 8, 3000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				u, a := user((w+i)%16), addrs[i%len(addrs)]
				now := t0.Add(time.Duration(i) * time.Millisecond)
				switch i % 3 {
				case 0:
					l.Check(u, a, now)
				case 1:
					l.failure(u, a, now)
				case 2:
					l.Success(u, a)
				}
			}
			l.Sweep(t0)
		})
	}
	wg.Wait()
	if got, want := l.Stats.Failures.Load(), uint64(workers*rounds/3); got != want {
		t.Fatalf("Failures = %d, want %d", got, want)
	}
	// 16 users x 4 addresses, and 4 addresses, within the bound.
	if e := l.Stats.Entries(); e < 4 || e > 16*4+4 {
		t.Fatalf("entries = %d, want between 4 and 68", e)
	}
	// The counter matches what the tables hold.
	var held int64
	for _, tb := range []*table{l.pairs.(*table), l.addrs.(*table)} {
		for i := range tb.shards {
			held += int64(len(tb.shards[i].m))
		}
	}
	if held != l.Stats.Entries() {
		t.Fatalf("tables hold %d entries, Stats.Entries says %d", held, l.Stats.Entries())
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Log("allocation counts are not meaningful under -race; checked in the normal run")
		return
	}
	l := New(Policy{})
	fail(l, "alice", addrA, t0, 20)
	for _, c := range []struct{ name, user, addr string }{
		{"absent IPv4", "bob", "203.0.113.9:5555"},
		{"absent IPv6", "bob", "[2001:db8::7]:5555"},
		{"absent bare IP", "bob", "203.0.113.9"},
		{"blocked", "alice", addrA},
	} {
		if n := testing.AllocsPerRun(200, func() { l.Check(c.user, c.addr, t0) }); n != 0 {
			t.Errorf("Check (%s) allocates %.1f times", c.name, n)
		}
	}
}

func BenchmarkCheckAbsent(b *testing.B) {
	l := New(Policy{})
	for b.Loop() {
		l.Check("bob", "203.0.113.9:5555", t0)
	}
}

func BenchmarkCheckBlocked(b *testing.B) {
	l := New(Policy{})
	fail(l, "alice", addrA, t0, 20)
	for b.Loop() {
		l.Check("alice", addrA, t0)
	}
}

func BenchmarkCheckParallel(b *testing.B) {
	l := New(Policy{})
	for i := range 10_000 {
		l.failure(user(i%500), netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}).String(), t0)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Check("bob", "10.2.3.4:5555", t0)
		}
	})
}

func BenchmarkAdmitFailure(b *testing.B) {
	l := New(Policy{AddressThreshold: -1})
	for b.Loop() {
		p, _ := l.Admit("bob", "203.0.113.9:5555", t0)
		p.Failure(t0)
		l.Success("bob", "203.0.113.9:5555")
	}
}
