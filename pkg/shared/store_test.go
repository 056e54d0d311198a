package shared

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/regtoken/regtoken/pkg/throttle"
)

// The e2e test (pkg/e2e/replicas_test.go) proves the same against a real
// redis-server; miniredis runs the scripts here in-process.

var secret = []byte("0123456789abcdef0123456789abcdef")

func newStore(t *testing.T, addr string, o Options) *Store {
	t.Helper()
	o.URL, o.SecretFile = "redis://"+addr+"/0", "unused"
	s, err := New(o, Secrets{Key: secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func policy() throttle.Policy {
	return throttle.Policy{PairThreshold: 5, AddressThreshold: 50, BaseDelay: time.Second,
		MaxDelay: time.Minute, Decay: 15 * time.Minute}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		url, policy, want string
	}{
		{url: "redis://127.0.0.1:6379/0"},
		{url: "valkey://127.0.0.1:6379/2"},
		{url: "valkeys://cache.example.org:6380"},
		{url: "rediss://cache.example.org"},
		{url: "redis://:sentinelpw@10.0.0.1:26379/0?master_name=regtoken&addr=10.0.0.2:26379"},
		{url: "redis://10.0.0.1:7000?cluster=true&addr=10.0.0.2:7000"},
		{url: "redis://127.0.0.1:6379/0", policy: FailClosed},
		{url: "http://127.0.0.1:6379", want: `scheme "http"`},
		{url: "redis:///0", want: "no host"},
		{url: "redis://:hunter2@127.0.0.1:6379/x", want: "invalid database"},
		{url: "redis://127.0.0.1:6379", policy: "fail_maybe", want: `policy "fail_maybe"`},
	} {
		err := Options{URL: tc.url, SecretFile: "/s", Policy: tc.policy}.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.url, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.url, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("%s: the error repeats the password: %v", tc.url, err)
		}
	}
	if err := (Options{URL: "redis://h"}).Validate(); err == nil || !strings.Contains(err.Error(), "secret_file") {
		t.Errorf("no secret file: %v", err)
	}
	uo, err := Options{URL: "valkey://u@h:1/3?master_name=m&addr=h2:1", SecretFile: "/s"}.universal("pw")
	if err != nil || uo.MasterName != "m" || len(uo.Addrs) != 2 || uo.DB != 3 || uo.Password != "pw" {
		t.Errorf("sentinel options: %+v, %v", uo, err)
	}
	uo, err = Options{URL: "redis://h:1?cluster=true&addr=h2:1", SecretFile: "/s"}.universal("")
	if err != nil || !uo.IsClusterMode || len(uo.Addrs) != 2 {
		t.Errorf("cluster options: %+v, %v", uo, err)
	}
}

func TestNewRefusesShortSecret(t *testing.T) {
	_, err := New(Options{URL: "redis://h", SecretFile: "/s"}, Secrets{Key: []byte("short")}, nil)
	if !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("short secret: %v", err)
	}
}

// Guesses spread over replicas count as one: the sixth is refused, on
// whichever replica it arrives, and no key holds a name or address.
func TestAdmitAcrossReplicas(t *testing.T) {
	mr := miniredis.RunT(t)
	replicas := []*Store{newStore(t, mr.Addr(), Options{}), newStore(t, mr.Addr(), Options{})}
	for i := range 5 {
		s := replicas[i%2]
		v, err := s.Admit(s.Login("alice", "192.0.2.7:4000", []byte("$2y$hash"), "guess"+string(rune('a'+i)), policy()), true)
		if err != nil || v.Wait != 0 || v.Repeat {
			t.Fatalf("guess %d: %+v, %v", i+1, v, err)
		}
	}
	s := replicas[1]
	v, err := s.Admit(s.Login("alice", "192.0.2.7:5000", []byte("$2y$hash"), "guess-f", policy()), true)
	if err != nil || v.Wait < time.Second-10*time.Millisecond || !v.PairBlocked || v.AddressBlocked {
		t.Errorf("sixth guess: %+v, %v; want the pair blocked for about 1 s", v, err)
	}
	other, _ := s.Admit(s.Login("alice", "198.51.100.1:1", nil, "x", policy()), true)
	if other.Wait != 0 {
		t.Errorf("alice from another address: %+v, want admitted", other)
	}
	for _, k := range mr.Keys() {
		if strings.Contains(k, "alice") || strings.Contains(k, "192.0.2.7") {
			t.Errorf("key %q names the user or the address", k)
		}
	}
}

// A right password gives its failure back and clears the pair, even the
// block that its own admission started.
func TestGiveBack(t *testing.T) {
	mr := miniredis.RunT(t)
	s := newStore(t, mr.Addr(), Options{})
	var last Login
	for i := range 5 {
		last = s.Login("bob", "192.0.2.8", nil, "pw"+string(rune('a'+i)), policy())
		if v, err := s.Admit(last, false); err != nil || v.Wait != 0 {
			t.Fatalf("admit %d: %+v %v", i, v, err)
		}
	}
	if err := s.GiveBack(last, true); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Admit(s.Login("bob", "192.0.2.8", nil, "right", policy()), false); v.Wait != 0 {
		t.Errorf("after a right password: %+v, want admitted", v)
	}
	a := mr.HGet(keyPrefix+"t:a:"+s.hash("address", throttle.AddressID("192.0.2.8")), "c")
	if !strings.HasPrefix(a, "5") && !strings.HasPrefix(a, "4.99") {
		t.Errorf("address count %q, want 5 (6 admitted, 1 given back)", a)
	}
}

func TestRepeatedWrongPasswordIsNotCounted(t *testing.T) {
	mr := miniredis.RunT(t)
	a, b := newStore(t, mr.Addr(), Options{}), newStore(t, mr.Addr(), Options{})
	l := a.Login("carol", "192.0.2.9", []byte("h"), "stale", policy())
	if v, err := a.Admit(l, true); err != nil || v.Repeat {
		t.Fatalf("first: %+v %v", v, err)
	}
	if err := a.RememberWrong(l, time.Minute); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if v, err := b.Admit(b.Login("carol", "192.0.2.10", []byte("h"), "stale", policy()), true); err != nil || !v.Repeat {
			t.Fatalf("repeat on the other replica: %+v %v", v, err)
		}
	}
	if v, _ := b.Admit(b.Login("carol", "192.0.2.10", []byte("changed"), "stale", policy()), true); v.Repeat {
		t.Error("a changed hash still finds the old wrong password")
	}
}

func TestRevokeReachesOtherReplicas(t *testing.T) {
	mr := miniredis.RunT(t)
	cli, replica := newStore(t, mr.Addr(), Options{}), newStore(t, mr.Addr(), Options{})
	replica.Poll()
	if !replica.RevokedAt("dave").IsZero() {
		t.Fatal("revoked before any revocation")
	}
	at := time.Now()
	if err := cli.Revoke("dave", at); err != nil {
		t.Fatal(err)
	}
	replica.Poll()
	if got := replica.RevokedAt("dave"); !got.Equal(time.Unix(0, at.UnixNano())) {
		t.Errorf("RevokedAt = %v, want %v", got, at)
	}
	if !replica.RevokedAt("erin").IsZero() {
		t.Error("another user is revoked too")
	}
	cli.Revoke("erin", at.Add(-48*time.Hour))
	if err := cli.Prune(at.Add(-24 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	replica.Poll()
	if !replica.RevokedAt("erin").IsZero() || replica.RevokedAt("dave").IsZero() {
		t.Error("Prune dropped the wrong revocations")
	}
	for _, k := range mr.Keys() {
		if strings.Contains(k, "dave") {
			t.Errorf("key %q names the user", k)
		}
	}
}

// Without a server: an error, the health says so; when the server is back,
// the next round trip finds it without a restart.
func TestHealthAndReconnect(t *testing.T) {
	mr := miniredis.RunT(t)
	s := newStore(t, mr.Addr(), Options{Policy: FailClosed})
	s.Poll()
	if h := s.Health(); !h.Known || !h.Up {
		t.Fatalf("health %+v, want up", h)
	}
	mr.Close()
	if _, err := s.Admit(s.Login("u", "192.0.2.1", nil, "p", policy()), true); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("admit without a server: %v", err)
	}
	if h := s.Health(); h.Up || h.Error == "" || s.Stats.Errors.Load() == 0 {
		t.Errorf("health %+v, errors %d: want down", h, s.Stats.Errors.Load())
	}
	tried := s.Stats.Commands.Load()
	if _, err := s.Admit(s.Login("u", "192.0.2.1", nil, "p", policy()), true); !errors.Is(err, ErrUnavailable) || s.Stats.Commands.Load() != tried {
		t.Errorf("a login while the store is known to be down: %v, %d round trips; want none", err, s.Stats.Commands.Load()-tried)
	}
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	s.Poll()
	if h := s.Health(); !h.Up {
		t.Errorf("health after restart %+v, want up", h)
	}
	if !s.FailClosed() {
		t.Error("FailClosed() = false for fail_closed")
	}
}

// The password of password_file authenticates; a wrong one leaves the
// store down, and no error repeats it.
func TestPassword(t *testing.T) {
	mr := miniredis.RunT(t)
	mr.RequireAuth("s3cret-pw")
	for pw, up := range map[string]bool{"s3cret-pw": true, "wrong-pw": false} {
		s, err := New(Options{URL: "redis://" + mr.Addr(), SecretFile: "unused"}, Secrets{Key: secret, Password: pw}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.Poll()
		h := s.Health()
		if h.Up != up || strings.Contains(h.Error, pw) {
			t.Errorf("password %s: health %+v", pw, h)
		}
		s.Close()
	}
}

// An address that fails for many users is blocked for all of them, on
// every replica; every key the store keeps expires.
func TestAddressBlockAcrossReplicas(t *testing.T) {
	mr := miniredis.RunT(t)
	a, b := newStore(t, mr.Addr(), Options{}), newStore(t, mr.Addr(), Options{})
	p := policy()
	p.AddressThreshold = 3
	for i, s := range []*Store{a, b, a} {
		if v, err := s.Admit(s.Login("user"+string(rune('a'+i)), "192.0.2.20", nil, "x", p), true); err != nil || v.Wait != 0 {
			t.Fatalf("user %d: %+v %v", i, v, err)
		}
	}
	v, err := b.Admit(b.Login("zed", "192.0.2.20:1234", nil, "x", p), true)
	if err != nil || !v.AddressBlocked || v.PairBlocked || v.Wait <= 0 {
		t.Errorf("a fourth user from the address: %+v %v; want the address blocked", v, err)
	}
	for _, k := range mr.Keys() {
		if mr.TTL(k) <= 0 && !strings.HasPrefix(k, keyPrefix+"revoked") {
			t.Errorf("key %s never expires", k)
		}
	}
}
