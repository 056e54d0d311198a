package authn

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/regtoken/regtoken/pkg/shared"
	"github.com/regtoken/regtoken/pkg/throttle"
)

// replicas are Authenticators sharing one store (an in-process miniredis
// here; pkg/e2e/replicas_test.go runs real replicas on a real
// redis-server).
func replicas(t *testing.T, n int, policy string) ([]*Authenticator, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	var out []*Authenticator
	for range n {
		s, err := shared.New(shared.Options{URL: "redis://" + mr.Addr(), SecretFile: "unused", Policy: policy},
			shared.Secrets{Key: []byte("0123456789abcdef0123456789abcdef")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		a, _ := newTestAuthenticator(throttle.New(throttle.Policy{PairThreshold: 5, Tarpit: time.Millisecond}))
		a.UseShared(s)
		out = append(out, a)
	}
	return out, mr
}

func bcryptChecks(as []*Authenticator) (n uint64) {
	for _, a := range as {
		n += a.verifier.Stats.BcryptChecks.Load()
	}
	return n
}

// Issue 14's rule across replicas: guesses spread round-robin over three
// replicas get the pair threshold's checks, not three times it.
func TestSharedThrottleAcrossReplicas(t *testing.T) {
	as, _ := replicas(t, 3, "")
	src := testSource(t)
	throttled := 0
	for i := range 20 {
		_, err := as[i%3].Authenticate(context.Background(), src, password("foo", "guess"+string(rune('a'+i))))
		if e := wantRefusalAny(t, err); e.Reason == Throttled {
			throttled++
		}
	}
	if n := bcryptChecks(as); n != 5 {
		t.Errorf("bcrypt checks over 3 replicas: %d, want 5 (the pair threshold)", n)
	}
	if throttled != 15 {
		t.Errorf("throttled %d of 20 guesses, want 15", throttled)
	}
	// Each replica now refuses locally, without the store.
	for _, a := range as {
		if wait := a.throttle.Check("foo", "192.0.2.1:4711", a.now()); wait <= 0 {
			t.Error("a replica does not hold the shared block")
		}
	}
}

func wantRefusalAny(t *testing.T, err error) *Error {
	t.Helper()
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("err = %v, want an *Error", err)
	}
	return e
}

// The same wrong password on another replica is a repeat: no bcrypt, not
// counted.
func TestSharedRepeatMemory(t *testing.T) {
	as, _ := replicas(t, 2, "")
	src := testSource(t)
	for i := range 10 {
		_, err := as[i%2].Authenticate(context.Background(), src, password("foo", "stale"))
		wantRefusal(t, err, WrongCredentials)
	}
	if n := bcryptChecks(as); n != 1 {
		t.Errorf("bcrypt checks for one wrong password sent 10 times to 2 replicas: %d, want 1", n)
	}
}

// A right password gives its failure back: four typos and the right
// password, five times over, never block.
func TestSharedSuccessGivesBack(t *testing.T) {
	as, _ := replicas(t, 2, "")
	src := testSource(t)
	for round := range 5 {
		for i := range 4 {
			_, err := as[i%2].Authenticate(context.Background(), src, password("foo", "typo"+string(rune('a'+round*4+i))))
			wantRefusal(t, err, WrongCredentials)
		}
		if _, err := as[round%2].Authenticate(context.Background(), src, password("foo", "foo")); err != nil {
			t.Fatalf("round %d: the right password: %v", round, err)
		}
	}
}

// A revocation through the store refuses refresh tokens issued before it
// and forgets remembered logins, once a replica has polled.
func TestSharedRevocation(t *testing.T) {
	as, _ := replicas(t, 2, "")
	src := testSource(t)
	_, r := login(t, as[0], src, "foo", "foo")
	if _, err := as[1].Authenticate(context.Background(), src, refreshCredentials(r.Token)); err != nil {
		t.Fatalf("refresh before revocation: %v", err)
	}
	if err := as[0].shared.Revoke("foo", time.Now()); err != nil {
		t.Fatal(err)
	}
	as[1].shared.Poll()
	_, err := as[1].Authenticate(context.Background(), src, refreshCredentials(r.Token))
	wantRefusal(t, err, Expired)
	before := as[0].verifier.Stats.BcryptChecks.Load()
	as[0].shared.Poll()
	if _, err := as[0].Authenticate(context.Background(), src, password("foo", "foo")); err != nil {
		t.Fatal(err)
	}
	if as[0].verifier.Stats.BcryptChecks.Load() != before+1 {
		t.Error("a login remembered from before the revocation was not checked again")
	}
}

// Store down: fail_closed refuses uncached passwords (503) and still
// serves cached ones and refresh tokens; fail_open checks with the local
// throttle.
func TestSharedStoreDown(t *testing.T) {
	for _, policy := range []string{shared.FailClosed, shared.FailOpen} {
		as, mr := replicas(t, 1, policy)
		a, src := as[0], testSource(t)
		_, r := login(t, a, src, "foo", "foo")
		mr.Close()
		if _, err := a.Authenticate(context.Background(), src, password("foo", "foo")); err != nil {
			t.Errorf("%s: cached password with the store down: %v", policy, err)
		}
		if _, err := a.Authenticate(context.Background(), src, refreshCredentials(r.Token)); err != nil {
			t.Errorf("%s: refresh token with the store down: %v", policy, err)
		}
		_, err := a.Authenticate(context.Background(), src, password("bar", "bar"))
		if policy == shared.FailClosed {
			wantRefusal(t, err, Unavailable)
		} else if err != nil {
			t.Errorf("fail_open: uncached password with the store down: %v", err)
		}
	}
}
