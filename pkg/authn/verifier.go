package authn

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	stdhash "hash"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// errQueueFull means too many password checks are waiting (Authenticate
// turns it into an Unavailable refusal).
var errQueueFull = errors.New("authn: too many password checks waiting")

// DefaultCacheTTL is how long a verified or refused password is remembered
// when Options.CacheTTL is zero.
const DefaultCacheTTL = 5 * time.Minute

// Options tune a Verifier. Zero values take the defaults.
type Options struct {
	CacheTTL  time.Duration // how long a verified or refused password is remembered; default DefaultCacheTTL
	CacheSize int           // most remembered passwords, of each kind; default 10000
	// Concurrency bounds the bcrypt checks running at once. The default is
	// GOMAXPROCS with Compare set, and GOMAXPROCS-1 (at least 1) without:
	// in-process checks on every P would stop the scheduler from polling the
	// network, and every other request would wait for them.
	Concurrency  int
	MaxQueue     int           // checks that may wait for a slot; default 64 * Concurrency
	QueueTimeout time.Duration // longest wait for a slot; default 5s
	// Compare, when set, runs the comparisons instead of calling bcrypt
	// in-process: Worker.Compare, which runs them in a helper process at
	// the lowest CPU priority.
	Compare func(ctx context.Context, hash []byte, password string) (bool, error)
}

// Stats counts what a Verifier did, for metrics.
type Stats struct {
	BcryptChecks atomic.Uint64
	CacheHits    atomic.Uint64
	Repeats      atomic.Uint64 // wrong passwords refused again from memory
	Rejected     atomic.Uint64 // refused because too many checks were waiting
}

// checkResult is what a password check found.
type checkResult int

const (
	// wrongPassword: the password does not match, or the user is unknown.
	wrongPassword checkResult = iota
	// repeatedWrongPassword: the same user, stored hash and password were
	// refused a moment ago (within CacheTTL). It is refused without bcrypt,
	// and it is no new guess.
	repeatedWrongPassword
	// rightPassword: the password matches.
	rightPassword
)

// Verifier checks passwords against bcrypt hashes without letting bcrypt
// become the bottleneck. It is safe for concurrent use.
//
// A bcrypt-cost-12 check costs about 230 ms of CPU, so a CI fleet that logs in a
// hundred jobs at once would queue for tens of seconds. Verifier therefore
//   - remembers successful checks for a short time under an HMAC of user,
//     password and the stored hash, keyed by a secret drawn at start-up, so the
//     memory holds nothing an attacker could use offline and a changed hash
//     misses the cache at once;
//   - admits a bounded number of concurrent bcrypt checks, with a bounded,
//     deadline-limited queue, so a flood of wrong passwords cannot starve
//     cached, refresh-token and anonymous requests; the checks run in a helper
//     process at the lowest CPU priority when one is given (see Worker), and
//     otherwise in-process on all cores but one;
//   - serves checks by how suspect their client is, and keeps one slot for
//     clients that never failed and ask one thing at a time (see slots), so
//     guesses queue behind honest logins, not the other way round; and lets
//     clients without failed logins wait four times QueueTimeout before
//     they are told to retry;
//   - runs one comparison for identical checks in flight at once (see
//     flights), and asks a gate (the throttle) before each comparison;
//   - runs a comparison against a dummy hash for unknown users, so response time
//     does not reveal which users exist;
//   - remembers refused passwords the same way, so that the same wrong password
//     again (a client's retry, a fleet of jobs with a stale password) costs no
//     bcrypt and is reported as a repeat, which a caller counting failed logins
//     need not count twice. Known and unknown users are remembered alike, so
//     the fast answer to a repeat tells nothing about who exists.
type Verifier struct {
	opts    Options
	secret  [32]byte
	macs    sync.Pool // *keyedHash keyed with secret
	cache   *cache    // verified passwords
	refused *cache    // wrong passwords
	flights *flights  // checks in progress, shared by identical ones
	slots   *slots    // bcrypt checks running and waiting
	Stats   Stats

	dummyMu   sync.Mutex
	dummies   map[int][]byte // bcrypt hash of a random password, per cost
	dummyCost atomic.Int64
}

// New returns a Verifier with a fresh random secret.
func New(o Options) *Verifier {
	if o.CacheTTL == 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	if o.CacheSize == 0 {
		o.CacheSize = 10000
	}
	if o.Concurrency == 0 {
		o.Concurrency = runtime.GOMAXPROCS(0)
		if o.Compare == nil {
			o.Concurrency = max(1, o.Concurrency-1)
		}
	}
	if o.MaxQueue == 0 {
		o.MaxQueue = 64 * o.Concurrency
	}
	if o.QueueTimeout == 0 {
		o.QueueTimeout = 5 * time.Second
	}
	v := &Verifier{
		opts:    o,
		cache:   newCache(o.CacheSize),
		refused: newCache(o.CacheSize),
		flights: newFlights(),
		slots:   newSlots(o.Concurrency, o.MaxQueue, o.QueueTimeout),
		dummies: map[int][]byte{},
	}
	v.dummyCost.Store(int64(bcrypt.DefaultCost))
	if _, err := rand.Read(v.secret[:]); err != nil {
		panic("authn: no randomness: " + err.Error())
	}
	return v
}

// SetDummyCost sets the bcrypt cost of the comparison run for unknown users; use
// the cost most users' hashes have, so unknown and known users take as long.
func (v *Verifier) SetDummyCost(cost int) {
	if cost >= bcrypt.MinCost && cost <= bcrypt.MaxCost {
		v.dummyCost.Store(int64(cost))
	}
}

// gate is what a check asks before it runs bcrypt, and tells afterwards:
// the throttle's admission (see Authenticator.checkPassword).
type gate interface {
	// admit is asked before a comparison; an error refuses it. The place
	// says how the comparison waits for bcrypt.
	admit() (place, error)
	// done hears how an admitted check ended: its result, or the error
	// that left it without one.
	done(res checkResult, err error)
	// notBefore is when the user was revoked: a right password
	// remembered from before then is checked again.
	notBefore() time.Time
}

// place is where an admitted check waits for a bcrypt slot (see slots).
type place struct {
	// rank says how suspect the client is: lower ranks go first.
	rank int
	// patient checks, from clients without failed logins, wait four times
	// Options.QueueTimeout for a slot; the others once.
	patient bool
}

// openGate admits every check at rank 0.
type openGate struct{}

func (openGate) admit() (place, error)   { return place{}, nil }
func (openGate) done(checkResult, error) {}
func (openGate) notBefore() time.Time    { return time.Time{} }

// check reports whether password matches hash, and tells a new wrong
// password from a repeated one. A nil hash means the user is unknown: a
// comparison against a dummy hash still runs and the password is wrong.
//
// What is remembered answers at once. Otherwise the first of several
// identical concurrent checks asks g and compares; the others wait for its
// answer (a wrong one is a repeat for them). When it found none because
// the bcrypt queue was full, neither do they; when g refused it, or its
// client went away, they try on their own.
func (v *Verifier) check(ctx context.Context, user string, hash []byte, password string, g gate) (checkResult, error) {
	key := v.cacheKey(user, hash, password)
	for {
		if res, ok := v.recall(key, g.notBefore()); ok {
			return res, nil
		}
		f, leader := v.flights.join(key)
		if leader {
			res, err := v.lead(ctx, key, hash, password, g)
			v.flights.finish(key, f, res, err)
			return res, err
		}
		res, leaderErr, err := f.wait(ctx)
		switch {
		case err != nil:
			return wrongPassword, err
		case errors.Is(leaderErr, errQueueFull):
			return wrongPassword, leaderErr
		case leaderErr != nil:
			continue
		case res == rightPassword:
			v.Stats.CacheHits.Add(1)
			return rightPassword, nil
		}
		v.Stats.Repeats.Add(1)
		return repeatedWrongPassword, nil
	}
}

// recall answers from what was remembered: a password verified since
// notBefore, or the same wrong password as a moment ago.
func (v *Verifier) recall(key [32]byte, notBefore time.Time) (checkResult, bool) {
	now := time.Now()
	if v.cache.get(key, now, notBefore) {
		v.Stats.CacheHits.Add(1)
		return rightPassword, true
	}
	if v.refused.get(key, now, time.Time{}) {
		v.Stats.Repeats.Add(1)
		return repeatedWrongPassword, true
	}
	return wrongPassword, false
}

// lead runs the check of a flight: admitted by g, a comparison whose
// outcome is remembered before the flight ends, so that a check arriving
// after the flight finds it.
func (v *Verifier) lead(ctx context.Context, key [32]byte, hash []byte, password string, g gate) (checkResult, error) {
	if res, ok := v.recall(key, g.notBefore()); ok { // the previous flight ended between recall and join
		return res, nil
	}
	at, err := g.admit()
	if errors.Is(err, errRepeated) { // another replica refused it lately
		v.refused.put(key, time.Now().Add(v.opts.CacheTTL))
		v.Stats.Repeats.Add(1)
		return repeatedWrongPassword, nil
	}
	if err != nil {
		return wrongPassword, err
	}
	ok, err := v.compareOrDummy(ctx, hash, password, at)
	res := wrongPassword
	switch {
	case err != nil:
	case ok:
		res = rightPassword
		v.cache.put(key, time.Now().Add(v.opts.CacheTTL))
	default:
		v.refused.put(key, time.Now().Add(v.opts.CacheTTL))
	}
	g.done(res, err)
	return res, err
}

// compareOrDummy compares against hash, or, for an unknown user (nil hash),
// against a dummy hash so the answer takes as long, and is false.
func (v *Verifier) compareOrDummy(ctx context.Context, hash []byte, password string, at place) (bool, error) {
	if hash == nil {
		hash = v.dummy(int(v.dummyCost.Load()))
		_, err := v.compare(ctx, hash, password, at)
		return false, err
	}
	return v.compare(ctx, hash, password, at)
}

func (v *Verifier) cacheKey(user string, hash []byte, password string) [32]byte {
	m, _ := v.macs.Get().(*keyedHash)
	if m == nil {
		m = &keyedHash{mac: hmac.New(sha256.New, v.secret[:])}
	}
	m.buf = append(m.buf[:0], user...)
	m.buf = append(m.buf, 0)
	m.buf = append(m.buf, hash...)
	m.buf = append(m.buf, 0)
	m.buf = append(m.buf, password...)
	m.mac.Reset()
	m.mac.Write(m.buf)
	clear(m.buf) // no password left lying in the pool
	var k [32]byte
	m.mac.Sum(k[:0])
	if cap(m.buf) <= 4<<10 {
		v.macs.Put(m)
	}
	return k
}

// keyedHash is an HMAC with its input buffer, recycled by cacheKey:
// hmac.New costs ten allocations, which would be most of a cached check.
type keyedHash struct {
	mac stdhash.Hash
	buf []byte
}

func (v *Verifier) compare(ctx context.Context, hash []byte, password string, at place) (bool, error) {
	if err := v.slots.acquire(ctx, at); err != nil {
		if errors.Is(err, errQueueFull) {
			v.Stats.Rejected.Add(1)
		}
		return false, err
	}
	defer v.slots.release()
	v.Stats.BcryptChecks.Add(1)
	if v.opts.Compare != nil {
		return v.opts.Compare(ctx, hash, password)
	}
	return bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil, nil
}

// Concurrency returns how many bcrypt checks may run at once.
func (v *Verifier) Concurrency() int { return v.opts.Concurrency }

// dummy returns a hash of a random password at the given cost, made once.
func (v *Verifier) dummy(cost int) []byte {
	v.dummyMu.Lock()
	defer v.dummyMu.Unlock()
	if h, ok := v.dummies[cost]; ok {
		return h
	}
	var pw [18]byte
	rand.Read(pw[:])
	h, err := bcrypt.GenerateFromPassword(pw[:], cost)
	if err != nil {
		panic("authn: bcrypt: " + err.Error())
	}
	v.dummies[cost] = h
	return h
}
