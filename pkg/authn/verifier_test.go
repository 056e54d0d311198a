package authn

import (
	"context"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func hash(t testing.TB, pw string) []byte {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// verify reports whether password is right for hash.
func verify(ctx context.Context, v *Verifier, user string, hash []byte, password string) (bool, error) {
	res, err := v.check(ctx, user, hash, password, openGate{})
	return res == rightPassword, err
}

func TestVerifyAndCache(t *testing.T) {
	v := New(Options{})
	h := hash(t, "secret")
	ctx := context.Background()

	ok, err := verify(ctx, v, "alice", h, "secret")
	if !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if v.Stats.BcryptChecks.Load() != 1 {
		t.Fatalf("first check should run bcrypt")
	}
	ok, _ = verify(ctx, v, "alice", h, "secret")
	if !ok || v.Stats.CacheHits.Load() != 1 || v.Stats.BcryptChecks.Load() != 1 {
		t.Fatalf("second check should hit the cache: %+v", &v.Stats)
	}

	for _, pw := range []string{"wrong-1", "wrong-2", "wrong-3"} {
		if ok, _ := verify(ctx, v, "alice", h, pw); ok {
			t.Fatal("wrong password accepted")
		}
	}
	if got := v.Stats.BcryptChecks.Load(); got != 4 {
		t.Fatalf("each new wrong password must run bcrypt; bcrypt checks = %d", got)
	}
	if ok, _ := verify(ctx, v, "bob", h, "secret"); ok != true {
		t.Fatal("another user with the same hash and password is still verified by bcrypt")
	}

	// A changed hash (password changed in users.json) misses the cache.
	h2 := hash(t, "new")
	if ok, _ := verify(ctx, v, "alice", h2, "secret"); ok {
		t.Fatal("old password accepted after the hash changed")
	}
}

// The same wrong password again is refused from memory and reported as a
// repeat, for known and unknown users alike; a new hash forgets it.
func TestRepeatedWrongPassword(t *testing.T) {
	v := New(Options{})
	h := hash(t, "secret")
	ctx := context.Background()
	for _, user := range []struct {
		name string
		hash []byte
	}{{"alice", h}, {"nobody", nil}} {
		before := v.Stats.BcryptChecks.Load()
		if res, err := v.check(ctx, user.name, user.hash, "guess", openGate{}); res != wrongPassword || err != nil {
			t.Fatalf("%s, first wrong password: %v %v", user.name, res, err)
		}
		for range 3 {
			if res, _ := v.check(ctx, user.name, user.hash, "guess", openGate{}); res != repeatedWrongPassword {
				t.Fatalf("%s, the same wrong password again: %v, want a repeat", user.name, res)
			}
		}
		if n := v.Stats.BcryptChecks.Load() - before; n != 1 {
			t.Errorf("%s: %d bcrypt checks for one wrong password sent four times, want 1", user.name, n)
		}
	}
	if res, _ := v.check(ctx, "alice", h, "secret", openGate{}); res != rightPassword {
		t.Fatalf("the right password after wrong ones: %v", res)
	}
	// The operator sets alice's password to what was refused a moment ago.
	if res, _ := v.check(ctx, "alice", hash(t, "guess"), "guess", openGate{}); res != rightPassword {
		t.Fatalf("a refused password that became right under a new hash: %v", res)
	}
	if v.Stats.Repeats.Load() != 6 {
		t.Errorf("repeats counted %d, want 6", v.Stats.Repeats.Load())
	}
}

func TestUnknownUserRunsBcrypt(t *testing.T) {
	v := New(Options{})
	v.SetDummyCost(bcrypt.MinCost)
	ok, err := verify(context.Background(), v, "nobody", nil, "x")
	if ok || err != nil {
		t.Fatalf("unknown user: %v %v", ok, err)
	}
	if v.Stats.BcryptChecks.Load() != 1 {
		t.Fatal("unknown user must cost a bcrypt comparison like a known one")
	}
}

func TestCacheExpires(t *testing.T) {
	v := New(Options{CacheTTL: 50 * time.Millisecond})
	h := hash(t, "pw")
	verify(context.Background(), v, "u", h, "pw")
	time.Sleep(80 * time.Millisecond)
	verify(context.Background(), v, "u", h, "pw")
	if v.Stats.BcryptChecks.Load() != 2 {
		t.Fatal("expired entry served")
	}
}

func TestCacheBounded(t *testing.T) {
	c := newCache(100)
	exp := time.Now().Add(time.Hour)
	for i := range 1000 {
		c.put([32]byte{byte(i), byte(i >> 8)}, exp)
	}
	if n := c.len(); n > 100 {
		t.Fatalf("cache grew to %d entries, limit 100", n)
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	v := New(Options{})
	h := hash(b, "pw")
	verify(context.Background(), v, "u", h, "pw")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			verify(context.Background(), v, "u", h, "pw")
		}
	})
}
