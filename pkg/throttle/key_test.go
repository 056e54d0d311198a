package throttle

import "testing"

func TestAddressForms(t *testing.T) {
	h := newHasher()
	same := [][]string{
		{"192.0.2.1", "192.0.2.1:1234", "192.0.2.1:80", "::ffff:192.0.2.1", "[::ffff:192.0.2.1]:8080"},
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", "[2001:db8:1:2::99]:443", "[2001:db8:1:2::1%eth0]:443"},
		{"@", "@"},
	}
	for _, group := range same {
		for _, a := range group[1:] {
			if h.address(a) != h.address(group[0]) {
				t.Errorf("%q and %q should be one client", a, group[0])
			}
		}
	}
	different := []string{"192.0.2.1", "192.0.2.2", "2001:db8:1:2::1", "2001:db8:1:3::1", "@", "", "localhost", "192.0.2.1:x"}
	seen := map[uint64]string{}
	for _, a := range different {
		k := h.address(a)
		if prev, ok := seen[k]; ok {
			t.Errorf("%q and %q should be different clients", a, prev)
		}
		seen[k] = a
	}
}

func TestPairKeys(t *testing.T) {
	h := newHasher()
	a, b := h.address("192.0.2.1"), h.address("192.0.2.2")
	keys := map[uint64]bool{h.pair("alice", a): true, h.pair("alice", b): true, h.pair("bob", a): true, h.pair("", a): true}
	if len(keys) != 4 {
		t.Fatalf("pair keys collide: %d distinct of 4", len(keys))
	}
	if h.pair("alice", a) != h.pair("alice", h.address("192.0.2.1:999")) {
		t.Fatal("the same user at the same address on another port must be the same pair")
	}
	// Another Limiter has other seeds: keys are not predictable.
	if other := newHasher(); other.address("192.0.2.1") == a {
		t.Fatal("two hashers gave the same key; seeds are not random")
	}
}
