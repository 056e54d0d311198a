package authn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/regtoken/regtoken/pkg/throttle"
)

// gatedCompare is a bcrypt helper whose comparisons of passwords starting
// with "guess" wait until open is closed, so a test controls what is in
// flight. It counts the comparisons started.
type gatedCompare struct {
	mu      sync.Mutex
	open    chan struct{}
	started chan struct{} // one value per comparison started
	calls   atomic.Int32
}

// release lets the held comparisons, and later ones, finish.
func (g *gatedCompare) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.open)
}

// hold makes later guesses wait again.
func (g *gatedCompare) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = make(chan struct{})
}

func (g *gatedCompare) gate() chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open
}

func newGatedCompare() *gatedCompare {
	return &gatedCompare{open: make(chan struct{}), started: make(chan struct{}, 1000)}
}

func (g *gatedCompare) compare(ctx context.Context, hash []byte, password string) (bool, error) {
	g.calls.Add(1)
	g.started <- struct{}{}
	if strings.HasPrefix(password, "guess") {
		select {
		case <-g.gate():
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	return bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil, nil
}

// burstAuthenticator authenticates testUsers with g's comparisons, two at
// once, behind a throttle with policy p (no tarpit: the test is about
// what is checked, not how long refusals are held).
func burstAuthenticator(t *testing.T, g *gatedCompare, p throttle.Policy) (*Authenticator, *Source) {
	p.TarpitSlots = -1
	v := New(Options{Compare: g.compare, Concurrency: 2, QueueTimeout: 10 * time.Second})
	v.SetDummyCost(bcrypt.MinCost)
	return NewAuthenticator(v, throttle.New(p), nil), testSource(t)
}

// attempt is one Authenticate call of a burst.
type attempt struct {
	creds Credentials
	err   error
}

// fire authenticates every attempt at once and waits for all of them.
func fire(a *Authenticator, src *Source, attempts []attempt) {
	var wg sync.WaitGroup
	for i := range attempts {
		wg.Go(func() { _, attempts[i].err = a.Authenticate(context.Background(), src, attempts[i].creds) })
	}
	wg.Wait()
}

// fireAndWait starts every attempt at once and returns when pending checks
// are admitted; done is closed when all attempts are answered.
func fireAndWait(t *testing.T, a *Authenticator, src *Source, attempts []attempt, pending int64) (done chan struct{}) {
	t.Helper()
	done = make(chan struct{})
	go func() { fire(a, src, attempts); close(done) }()
	deadline := time.After(10 * time.Second)
	for a.Throttle().Stats.Pending() < pending {
		select {
		case <-deadline:
			t.Fatalf("%d checks pending, want %d", a.Throttle().Stats.Pending(), pending)
		case <-time.After(time.Millisecond):
		}
	}
	return done
}

func from(c Credentials, client string) Credentials { c.Client = client; return c }

// 100 wrong passwords and the right one from one address, while the first
// guess is being checked: nothing else is checked, and the right password
// is refused with the others.
func TestBurstOneUserChecksOne(t *testing.T) {
	g := newGatedCompare()
	a, src := burstAuthenticator(t, g, throttle.Policy{})
	first := make(chan error, 1)
	go func() {
		_, err := a.Authenticate(context.Background(), src, password("foo", "guess-first"))
		first <- err
	}()
	<-g.started

	attempts := make([]attempt, 101)
	for i := range 100 {
		attempts[i].creds = password("foo", fmt.Sprint("guess-", i))
	}
	attempts[100].creds = password("foo", "foo")
	fire(a, src, attempts)
	g.release()
	wantRefusal(t, <-first, WrongCredentials)

	for i, at := range attempts {
		e := wantRefusal(t, at.err, Throttled)
		if e.Wait != time.Second || !strings.Contains(e.Message, "at once") {
			t.Fatalf("attempt %d: %+v, want a refusal for checks in flight, retry after 1 s", i, e)
		}
	}
	if n := g.calls.Load(); n != 1 {
		t.Errorf("%d bcrypt comparisons for 102 passwords, want 1", n)
	}
	if n := a.Throttle().Stats.Busy.Load(); n != 101 {
		t.Errorf("throttle counted %d refusals for checks in flight, want 101", n)
	}
}

// However the guesses of a burst interleave with their checks, one user at
// one address gets no more bcrypt checks than the pair threshold, and one
// address (many users) no more than the address threshold, and never more
// at once than its in-flight bound.
func TestBurstBoundedByThresholds(t *testing.T) {
	for _, c := range []struct {
		name  string
		user  func(i int) string
		limit int
	}{
		{"one user", func(int) string { return "foo" }, throttle.DefaultPairThreshold},
		{"many users", func(i int) string { return fmt.Sprint("user-", i) }, 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGatedCompare()
			g.release()
			a, src := burstAuthenticator(t, g, throttle.Policy{AddressThreshold: 20, AddressInFlight: 4, BaseDelay: time.Hour})
			attempts := make([]attempt, 200)
			for i := range attempts {
				attempts[i].creds = password(c.user(i), fmt.Sprint("guess-", i))
			}
			fire(a, src, attempts)
			if n := int(g.calls.Load()); n == 0 || n > c.limit {
				t.Errorf("%d bcrypt comparisons for 200 guesses, want 1 to %d", n, c.limit)
			}
			for i, at := range attempts {
				var e *Error
				if !errors.As(at.err, &e) || (e.Reason != WrongCredentials && e.Reason != Throttled) {
					t.Fatalf("attempt %d: %v, want wrong or throttled", i, at.err)
				}
			}
			t.Logf("200 guesses: %d checked", g.calls.Load())
		})
	}
}

// The in-flight bound of one address, many users: with checks held in
// bcrypt, the fifth is refused.
func TestBurstAddressInFlight(t *testing.T) {
	g := newGatedCompare()
	a, src := burstAuthenticator(t, g, throttle.Policy{AddressInFlight: 4})
	attempts := make([]attempt, 4)
	for i := range attempts {
		attempts[i].creds = password(fmt.Sprint("user-", i), "guess")
	}
	done := fireAndWait(t, a, src, attempts, 4)
	_, err := a.Authenticate(context.Background(), src, password("user-9", "guess"))
	wantRefusal(t, err, Throttled)
	g.release()
	<-done
	if n := g.calls.Load(); n != 4 {
		t.Errorf("%d comparisons, want 4", n)
	}
}

// A fleet sending the same credentials at once shares one comparison: the
// right password is checked once and everyone is served; a wrong one is
// checked once and counted once.
func TestIdenticalChecksShareOneComparison(t *testing.T) {
	g := newGatedCompare()
	a, src := burstAuthenticator(t, g, throttle.Policy{PairThreshold: 2})
	for _, c := range []struct {
		pw     string
		reason Reason // 0: served
	}{{"guess-stale", WrongCredentials}, {"foo", 0}} {
		calls, failures := g.calls.Load(), a.Throttle().Stats.Failures.Load()
		attempts := make([]attempt, 50)
		for i := range attempts {
			attempts[i].creds = from(password("foo", c.pw), fmt.Sprintf("192.0.2.%d:4711", i%3+1))
		}
		var opener sync.WaitGroup
		opener.Go(func() { <-g.started; time.Sleep(20 * time.Millisecond); g.release() })
		fire(a, src, attempts)
		opener.Wait()
		for i, at := range attempts {
			if c.reason == 0 && at.err != nil {
				t.Fatalf("%s, attempt %d: %v", c.pw, i, at.err)
			}
			if c.reason != 0 {
				wantRefusal(t, at.err, c.reason)
			}
		}
		if n := g.calls.Load() - calls; n != 1 {
			t.Errorf("%s sent 50 times at once: %d comparisons, want 1", c.pw, n)
		}
		if c.reason != 0 {
			if n := a.Throttle().Stats.Failures.Load() - failures; n != 1 {
				t.Errorf("%s sent 50 times at once: %d failures counted, want 1", c.pw, n)
			}
		}
		g.hold()
	}
}

// While guesses from addresses with failures fill the bcrypt queue, a user
// at an address without any is checked at once, and served.
func TestHonestLoginIsNotQueuedBehindGuesses(t *testing.T) {
	g := newGatedCompare()
	a, src := burstAuthenticator(t, g, throttle.Policy{})
	ctx := context.Background()
	var guesses []attempt
	for i := range 10 {
		addr := fmt.Sprintf("203.0.113.%d:4711", i+1)
		g.release()
		a.Authenticate(ctx, src, from(password("foo", fmt.Sprint("guess-old-", i)), addr))
		<-g.started
		g.hold()
		guesses = append(guesses, attempt{creds: from(password("foo", fmt.Sprint("guess-", i)), addr)})
	}
	done := fireAndWait(t, a, src, guesses, 10)
	honest, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := a.Authenticate(honest, src, from(password("bar", "bar"), "198.51.100.1:4711")); err != nil {
		t.Fatalf("an honest login while 10 guesses wait for bcrypt: %v", err)
	}
	g.release()
	<-done
}

// Identical requests refused by the throttle are refused side by side, each
// held by the tarpit once, not one tarpit after another.
func TestIdenticalRefusalsAreHeldSideBySide(t *testing.T) {
	g := newGatedCompare()
	v := New(Options{Compare: g.compare, Concurrency: 2})
	a := NewAuthenticator(v, throttle.New(throttle.Policy{Tarpit: 200 * time.Millisecond}), nil)
	src := testSource(t)
	first := make(chan error, 1)
	go func() {
		_, err := a.Authenticate(context.Background(), src, password("foo", "guess-first"))
		first <- err
	}()
	<-g.started

	attempts := make([]attempt, 20)
	for i := range attempts {
		attempts[i].creds = password("foo", "guess-same")
	}
	start := time.Now()
	fire(a, src, attempts)
	took := time.Since(start)
	g.release()
	<-first
	for _, at := range attempts {
		wantRefusal(t, at.err, Throttled)
	}
	if took > 2*time.Second {
		t.Errorf("20 identical refused requests took %s; held side by side they take about one tarpit (200 ms)", took)
	}
}

// When the check that identical requests wait for finds the bcrypt queue
// full, they are told so with it, not queued again one after another.
func TestIdenticalChecksShareAFullQueue(t *testing.T) {
	v := New(Options{Concurrency: 1, QueueTimeout: 100 * time.Millisecond})
	v.slots.acquire(context.Background(), place{}) // the only bcrypt slot is taken
	a := NewAuthenticator(v, nil, nil)
	attempts := make([]attempt, 10)
	for i := range attempts {
		attempts[i].creds = password("foo", "foo")
	}
	start := time.Now()
	fire(a, testSource(t), attempts)
	for _, at := range attempts {
		wantRefusal(t, at.err, Unavailable)
	}
	if took := time.Since(start); took > 700*time.Millisecond {
		t.Errorf("10 identical checks facing a full queue took %s; together they wait one queue timeout (100 ms)", took)
	}
}

// A burst from an address that never failed before ranks one higher per
// check in flight, so an honest login from elsewhere does not queue behind
// it either.
func TestHonestLoginIsNotQueuedBehindAFreshBurst(t *testing.T) {
	g := newGatedCompare()
	a, src := burstAuthenticator(t, g, throttle.Policy{})
	burst := make([]attempt, 10)
	for i := range burst {
		burst[i].creds = from(password(fmt.Sprint("user-", i), "guess"), "203.0.113.50:4711")
	}
	done := fireAndWait(t, a, src, burst, 10)
	honest, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.Authenticate(honest, src, from(password("bar", "bar"), "198.51.100.1:4711")); err != nil {
		t.Fatalf("an honest login while a burst of 10 from a fresh address waits for bcrypt: %v", err)
	}
	g.release()
	<-done
}

// A client without failed logins waits for bcrypt past the queue timeout,
// and is served; one that failed before is told to retry after it.
func TestCleanClientsWaitInsteadOfRetrying(t *testing.T) {
	g := newGatedCompare()
	v := New(Options{Compare: g.compare, Concurrency: 1, QueueTimeout: 500 * time.Millisecond})
	a := NewAuthenticator(v, throttle.New(throttle.Policy{TarpitSlots: -1}), nil)
	src := testSource(t)
	ctx := context.Background()
	g.release()
	a.Authenticate(ctx, src, from(password("foo", "guess-old"), "203.0.113.9:4711")) // a failure for 203.0.113.9
	<-g.started
	g.hold()
	busy := make(chan error, 1)
	go func() {
		_, err := a.Authenticate(ctx, src, from(password("bar", "guess"), "203.0.113.7:4711"))
		busy <- err
	}()
	<-g.started // the only slot is taken by a held guess

	_, err := a.Authenticate(ctx, src, from(password("foo", "guess-2"), "203.0.113.9:4711"))
	wantRefusal(t, err, Unavailable)
	honest := make(chan error, 1)
	go func() {
		_, err := a.Authenticate(ctx, src, from(password("bar", "bar"), "198.51.100.1:4711"))
		honest <- err
	}()
	select {
	case err := <-honest:
		t.Fatalf("a clean login gave up while the slot was taken: %v", err)
	case <-time.After(600 * time.Millisecond): // past the queue timeout, well before the clean wait (4×)
	}
	g.release()
	if err := <-honest; err != nil {
		t.Fatalf("the clean login once the slot was free: %v", err)
	}
	<-busy
}
