package throttle

import (
	"testing"
	"time"
)

// A block learned from a shared store refuses Check here: the pair's for
// that user only, the address's for everyone; it ends when it ends.
func TestMirror(t *testing.T) {
	l := New(Policy{})
	l.Mirror("alice", addrA, true, false, 3*time.Second, t0)
	if w := l.Check("alice", addrA, t0); w != 3*time.Second {
		t.Errorf("mirrored pair block: wait %s, want 3s", w)
	}
	if w := l.Check("bob", addrA, t0); w != 0 {
		t.Errorf("another user at the address: wait %s", w)
	}
	l.Mirror("x", addrB, false, true, time.Second, t0)
	if w := l.Check("anyone", addrB, t0.Add(500*time.Millisecond)); w != 500*time.Millisecond {
		t.Errorf("mirrored address block: wait %s, want 500ms", w)
	}
	if w := l.Check("alice", addrA, t0.Add(3*time.Second)); w != 0 {
		t.Errorf("after the block: wait %s", w)
	}
	var nilLimiter *Limiter
	nilLimiter.Mirror("a", addrA, true, true, time.Second, t0) // no panic
}

// PairFailed tells a pair with failures (or a block) from a clean one.
func TestPairFailed(t *testing.T) {
	l := New(Policy{})
	if l.PairFailed("alice", addrA, t0) {
		t.Error("a clean pair has failed")
	}
	fail(l, "alice", addrA, t0, 1)
	if !l.PairFailed("alice", addrA, t0) || l.PairFailed("alice", addrB, t0) {
		t.Error("one failure at addrA only")
	}
	l.Success("alice", addrA)
	if l.PairFailed("alice", addrA, t0) {
		t.Error("a success forgets the pair")
	}
	l.Mirror("bob", addrA, true, false, time.Second, t0)
	if !l.PairFailed("bob", addrA, t0) {
		t.Error("a mirrored block is a failed pair")
	}
}

// AddressID is what the key hashes: ports and IPv4 mapping ignored, an
// IPv6 address by its /64, anything else as it is.
func TestAddressID(t *testing.T) {
	same := [][2]string{
		{"192.0.2.1:1", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:5", "192.0.2.1"},
		{"[2001:db8:1:2::1]:80", "2001:db8:1:2:ffff::9"},
	}
	for _, p := range same {
		if string(AddressID(p[0])) != string(AddressID(p[1])) {
			t.Errorf("%s and %s differ", p[0], p[1])
		}
	}
	if string(AddressID("2001:db8:1:2::1")) == string(AddressID("2001:db8:1:3::1")) || string(AddressID("@")) != "@" {
		t.Error("different /64s are one client, or a non-IP is changed")
	}
}
