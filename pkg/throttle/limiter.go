package throttle

import (
	"sync/atomic"
	"time"
)

// busyWait is the wait given to a check refused because others of the
// same pair or address are pending: about what a bcrypt check takes, so a
// client that honours Retry-After comes back once they are done.
const busyWait = time.Second

// Limiter counts failed logins and password checks in flight, and says
// who must wait. It is safe for concurrent use. A nil *Limiter allows
// everything and records nothing.
type Limiter struct {
	policy Policy
	keys   hasher
	pairs  store         // (user, address); nil when PairThreshold is off
	addrs  store         // address alone; nil when both of its limits are off
	slots  chan struct{} // one per request the tarpit holds; nil: no tarpit
	Stats  Stats
}

// Stats counts what a Limiter did, for metrics.
type Stats struct {
	Blocked  atomic.Uint64 // attempts refused because a key was blocked
	Busy     atomic.Uint64 // attempts refused because the pair's or the address's checks were in flight
	Failures atomic.Uint64 // failed checks counted
	Evicted  atomic.Uint64 // entries dropped because a table was full
	// TarpitHeld counts refusals Hold kept back; TarpitFull those it
	// answered at once because every slot was taken.
	TarpitHeld atomic.Uint64
	TarpitFull atomic.Uint64
	entries    atomic.Int64
	pending    atomic.Int64
}

// Entries is the number of keys tracked now, pairs and addresses together.
func (s *Stats) Entries() int64 { return s.entries.Load() }

// Pending is the number of admitted checks not yet done.
func (s *Stats) Pending() int64 { return s.pending.Load() }

// New returns a Limiter with policy p; zero fields take the defaults and
// fields Validate would reject are corrected (see Policy).
func New(p Policy) *Limiter {
	l := &Limiter{policy: p.withDefaults(), keys: newHasher()}
	p = l.policy
	if p.PairThreshold > 0 {
		l.pairs = newTable(rule{threshold: p.PairThreshold, maxPending: 1}, &l.policy, &l.Stats.entries, &l.Stats.Evicted)
	}
	if p.AddressThreshold > 0 || p.AddressInFlight > 0 {
		l.addrs = newTable(rule{threshold: p.AddressThreshold, maxPending: p.AddressInFlight}, &l.policy, &l.Stats.entries, &l.Stats.Evicted)
	}
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
// looked at; 0 means go ahead. A caller that gets a wait must not check the
// password at all: not with bcrypt and not against a cache, or the answer
// would still tell a guesser whether the guess was right. Check changes
// nothing; a check that is not answered from a cache must then be admitted
// with Admit.
func (l *Limiter) Check(user, addr string, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	t := now.UnixNano()
	addrKey := l.keys.address(addr)
	var wait int64
	if l.addrs != nil {
		wait = l.addrs.peek(addrKey, t).wait
	}
	if l.pairs != nil {
		wait = max(wait, l.pairs.peek(l.keys.pair(user, addrKey), t).wait)
	}
	if wait > 0 {
		l.Stats.Blocked.Add(1)
	}
	return time.Duration(wait)
}

// Refusal says why Admit refused a check; the zero Refusal admits.
type Refusal struct {
	// Wait is how long the client should wait (Retry-After).
	Wait time.Duration
	// Busy: other checks of the pair or of the address were in flight, or
	// could reach a threshold between them. Otherwise a key is blocked
	// after failed logins.
	Busy bool
}

// Admit asks to check a password of user at addr that no cache answers
// (a bcrypt check). The check counts as pending, a failure in waiting,
// from now until the Pass's Failure, Success or Cancel. It is refused
// when a key is blocked, when the pair already has a check pending, when
// the address has AddressInFlight checks pending, or when the pending
// checks could reach a threshold. Refused, the Pass is zero.
func (l *Limiter) Admit(user, addr string, now time.Time) (Pass, Refusal) {
	if l == nil {
		return Pass{}, Refusal{}
	}
	t := now.UnixNano()
	p := Pass{l: l, addr: l.keys.address(addr)}
	p.pair = l.keys.pair(user, p.addr)
	addrState, ok := l.admit(l.addrs, p.addr, t)
	if !ok {
		return Pass{}, l.refusal(addrState)
	}
	pairState, ok := l.admit(l.pairs, p.pair, t)
	if !ok {
		if l.addrs != nil {
			l.addrs.done(p.addr, t, false)
		}
		return Pass{}, l.refusal(pairState)
	}
	p.rank = rank(addrState, pairState)
	p.clean = addrState.failures < negligible && pairState.failures < negligible
	l.Stats.pending.Add(1)
	return p, Refusal{}
}

// admit admits on s, when that kind of key is on.
func (l *Limiter) admit(s store, key uint64, now int64) (keyState, bool) {
	if s == nil {
		return keyState{}, true
	}
	return s.admit(key, now)
}

// rank is how suspect a check is (see Pass.Rank): whole failures of the
// address and of the pair, plus the address's other checks in flight.
func rank(addr, pair keyState) int {
	return int(addr.failures+negligible) + int(pair.failures+negligible) + int(addr.pending)
}

// refusal counts a refusal of a key in state st and says why.
func (l *Limiter) refusal(st keyState) Refusal {
	if st.wait > 0 {
		l.Stats.Blocked.Add(1)
		return Refusal{Wait: time.Duration(st.wait)}
	}
	l.Stats.Busy.Add(1)
	return Refusal{Wait: busyWait, Busy: true}
}

// Success records a right password for user at addr, however it was
// verified: the pair's failures and block are forgotten. The address's
// count stays (see the package documentation).
func (l *Limiter) Success(user, addr string) {
	if l == nil || l.pairs == nil {
		return
	}
	l.pairs.forget(l.keys.pair(user, l.keys.address(addr)))
}

// PairFailed reports whether user at addr has failed logins counted here
// (at least one, decayed to now), or a block.
func (l *Limiter) PairFailed(user, addr string, now time.Time) bool {
	if l == nil || l.pairs == nil {
		return false
	}
	st := l.pairs.peek(l.keys.pair(user, l.keys.address(addr)), now.UnixNano())
	return st.wait > 0 || st.failures >= negligible
}

// Sweep drops every key that is not blocked, has no check pending, and
// whose count has decayed to less than one failure. Inserts already drop a
// few such keys each, so Sweep is only needed to make Stats.Entries fall
// promptly after an attack ends; calling it once per Decay is plenty.
func (l *Limiter) Sweep(now time.Time) {
	if l == nil {
		return
	}
	t := now.UnixNano()
	for _, s := range []store{l.pairs, l.addrs} {
		if s != nil {
			s.sweep(t)
		}
	}
}

// Pass is one admitted check. Exactly one of Failure, Success or Cancel
// ends it; until then it counts as pending for its pair and its address.
// The zero Pass (refused, or from a nil Limiter) ends as a no-op.
type Pass struct {
	l          *Limiter
	addr, pair uint64
	rank       int
	clean      bool
}

// Rank says how suspect the check was when it was admitted: the failed
// logins of its address and of its user there (rounded), plus the checks
// its address already had in flight. 0 is a client that never failed and
// asks one thing at a time, as honest ones do; each guess of a burst from
// a fresh address ranks one higher than the one before, and an address
// that has failed ranks by its failures. A verifier may run low ranks
// first.
func (p Pass) Rank() int { return p.rank }

// Clean reports whether neither the address nor the user at the address
// had failed logins when the check was admitted (whatever else was in
// flight): no sign of guessing at all. Without a Limiter nothing is known,
// and no Pass is clean.
func (p Pass) Clean() bool { return p.clean }

// Failure ends the check as a wrong password (or an unknown user): it
// counts for the pair and the address.
func (p Pass) Failure(now time.Time) {
	if p.l != nil {
		p.l.Stats.Failures.Add(1)
	}
	p.end(now, true)
}

// Success ends the check as a right password: the pair's failures are
// forgotten (Limiter.Success), the address's stay.
func (p Pass) Success(now time.Time) {
	p.end(now, false)
	if p.l != nil && p.l.pairs != nil {
		p.l.pairs.forget(p.pair)
	}
}

// Cancel ends a check that found nothing (the client went away, or no
// bcrypt slot was free): nothing is counted.
func (p Pass) Cancel(now time.Time) { p.end(now, false) }

func (p Pass) end(now time.Time, failed bool) {
	if p.l == nil {
		return
	}
	t := now.UnixNano()
	for _, k := range []struct {
		s   store
		key uint64
	}{{p.l.addrs, p.addr}, {p.l.pairs, p.pair}} {
		if k.s != nil {
			k.s.done(k.key, t, failed)
		}
	}
	p.l.Stats.pending.Add(-1)
}

// Mirror copies into l a block that replicas sharing a store agreed on:
// user's pair at addr (pair) or addr itself stays blocked for wait from
// now, so that Check refuses it here without asking the store again.
func (l *Limiter) Mirror(user, addr string, pair, address bool, wait time.Duration, now time.Time) {
	if l == nil || wait <= 0 {
		return
	}
	t := now.UnixNano()
	addrKey := l.keys.address(addr)
	if address && l.addrs != nil {
		l.addrs.block(addrKey, t, t+int64(wait))
	}
	if pair && l.pairs != nil {
		l.pairs.block(l.keys.pair(user, addrKey), t, t+int64(wait))
	}
}
