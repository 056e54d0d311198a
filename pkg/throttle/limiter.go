package throttle

import (
	"sync/atomic"
	"time"
)

// Limiter counts failed logins and says who must wait. It is safe for
// concurrent use. A nil *Limiter allows everything and records nothing.
type Limiter struct {
	policy Policy
	keys   hasher
	pairs  *table        // (user, address)
	addrs  *table        // address alone
	slots  chan struct{} // one per request the tarpit holds; nil: no tarpit
	Stats  Stats
}

// Stats counts what a Limiter did, for metrics.
type Stats struct {
	Blocked  atomic.Uint64 // Check calls answered with a wait
	Failures atomic.Uint64 // Failure calls
	Evicted  atomic.Uint64 // entries dropped because a table was full
	// TarpitHeld counts refusals Hold kept back; TarpitFull those it
	// answered at once because every slot was taken.
	TarpitHeld atomic.Uint64
	TarpitFull atomic.Uint64
	entries    atomic.Int64
}

// Entries is the number of keys tracked now, pairs and addresses together.
func (s *Stats) Entries() int64 { return s.entries.Load() }

// New returns a Limiter with policy p; zero fields take the defaults and
// fields Validate would reject are corrected (see Policy).
func New(p Policy) *Limiter {
	p = p.withDefaults()
	l := &Limiter{policy: p, keys: newHasher()}
	halfLife := float64(p.Decay)
	l.pairs = newTable(p.MaxEntries, halfLife, &l.Stats.entries, &l.Stats.Evicted)
	l.addrs = newTable(p.MaxEntries, halfLife, &l.Stats.entries, &l.Stats.Evicted)
	if p.Tarpit > 0 && p.TarpitSlots > 0 {
		l.slots = make(chan struct{}, p.TarpitSlots)
	}
	return l
}

// Policy returns the policy in force, defaults filled in.
func (l *Limiter) Policy() Policy {
	if l == nil {
		return Policy{}
	}
	return l.policy
}

// Check returns how long user at addr must wait before a password may be
// checked; 0 means go ahead. A caller that gets a wait must not check the
// password at all: not with bcrypt and not against a cache, or the answer
// would still tell a guesser whether the guess was right.
func (l *Limiter) Check(user, addr string, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	t := now.UnixNano()
	addrKey := l.keys.address(addr)
	var wait int64
	if l.policy.AddressThreshold > 0 {
		wait = l.addrs.wait(addrKey, t)
	}
	if l.policy.PairThreshold > 0 {
		wait = max(wait, l.pairs.wait(l.keys.pair(user, addrKey), t))
	}
	if wait > 0 {
		l.Stats.Blocked.Add(1)
	}
	return time.Duration(wait)
}

// Failure records a wrong password (or an unknown user) for user at addr.
func (l *Limiter) Failure(user, addr string, now time.Time) {
	if l == nil {
		return
	}
	l.Stats.Failures.Add(1)
	t := now.UnixNano()
	addrKey := l.keys.address(addr)
	if l.policy.AddressThreshold > 0 {
		l.addrs.fail(addrKey, t, l.policy.AddressThreshold, &l.policy)
	}
	if l.policy.PairThreshold > 0 {
		l.pairs.fail(l.keys.pair(user, addrKey), t, l.policy.PairThreshold, &l.policy)
	}
}

// Success records a right password for user at addr: the pair's failures are
// forgotten. The address's count stays (see the package documentation).
func (l *Limiter) Success(user, addr string, now time.Time) {
	if l == nil || l.policy.PairThreshold <= 0 {
		return
	}
	l.pairs.forget(l.keys.pair(user, l.keys.address(addr)))
}

// Sweep drops every key that is not blocked and whose count has decayed to
// less than one failure. Inserts already drop a few such keys each, so Sweep
// is only needed to make Stats.Entries fall promptly after an attack ends;
// calling it once per Decay is plenty.
func (l *Limiter) Sweep(now time.Time) {
	if l == nil {
		return
	}
	t := now.UnixNano()
	l.pairs.sweep(t)
	l.addrs.sweep(t)
}
