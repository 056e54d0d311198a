package throttle

import (
	"math"
	"sync"
	"sync/atomic"
)

const (
	shardCount = 32
	// evictSample is how many entries a full shard compares to pick the one
	// to drop; sweepSample is how many it inspects on each insert to drop
	// entries whose count has decayed to nothing.
	evictSample = 8
	sweepSample = 2
	// negligible is a count too small to matter: below one failure, and
	// never enough to reach a threshold again on its own.
	negligible = 0.5
)

// entry is one key's state. Times are Unix nanoseconds.
type entry struct {
	count   float64 // failures, as of since
	since   int64   // decay runs from here: the last failure or the end of a block
	until   int64   // blocked until then
	pending int32   // checks admitted and not done
}

// decayed is the count at now: halved every half-life after since.
func (e *entry) decayed(now int64, halfLife float64) float64 {
	if now <= e.since {
		return e.count
	}
	return e.count * math.Exp2(-float64(now-e.since)/halfLife)
}

// idle reports whether e holds nothing worth keeping at now: not blocked,
// nothing pending, and less than one failure left.
func (e *entry) idle(now int64, halfLife float64) bool {
	return e.until <= now && e.pending == 0 && e.decayed(now, halfLife) < negligible
}

// worth orders entries for eviction, least worth first: an entry with
// checks pending is never evicted (its done must find it), every blocked
// entry is worth more than any unblocked one, and blocks ending later more
// than blocks ending sooner; unblocked entries are worth their count.
func (e *entry) worth(now int64, halfLife float64) float64 {
	switch {
	case e.pending > 0:
		return math.Inf(1)
	case e.until > now:
		return 1e12 + float64(e.until-now)/1e9
	}
	return e.decayed(now, halfLife)
}

// state is what e says at now.
func (e *entry) state(now int64, halfLife float64) keyState {
	return keyState{wait: max(0, e.until-now), failures: e.decayed(now, halfLife), pending: e.pending}
}

// table is the in-memory store: a bounded map from key to entry, sharded
// to keep lock contention low.
type table struct {
	shards   [shardCount]shard
	rule     rule
	policy   *Policy // the delays
	perShard int
	halfLife float64 // nanoseconds
	entries  *atomic.Int64
	evicted  *atomic.Uint64
}

type shard struct {
	mu sync.Mutex
	m  map[uint64]entry
}

func newTable(r rule, p *Policy, entries *atomic.Int64, evicted *atomic.Uint64) *table {
	t := &table{rule: r, policy: p, perShard: max(1, p.MaxEntries/shardCount), halfLife: float64(p.Decay),
		entries: entries, evicted: evicted}
	for i := range t.shards {
		t.shards[i].m = make(map[uint64]entry)
	}
	return t
}

func (t *table) shard(key uint64) *shard { return &t.shards[key>>59] }

func (t *table) peek(key uint64, now int64) keyState {
	s := t.shard(key)
	s.mu.Lock()
	e, ok := s.m[key]
	s.mu.Unlock()
	if !ok {
		return keyState{}
	}
	return e.state(now, t.halfLife)
}

// countSlack lets failures that come in quick succession count as whole ones:
// decay is continuous, so three failures a millisecond apart add up to
// 2.9999…, which must still reach a threshold of 3.
const countSlack = 0.01

func (t *table) admit(key uint64, now int64) (keyState, bool) {
	s := t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	st := e.state(now, t.halfLife)
	if !t.admits(&st) {
		return st, false
	}
	if !ok {
		t.makeRoom(s, now)
		t.entries.Add(1)
	}
	e.pending++
	s.m[key] = e
	return st, true
}

// admits reports whether one more check may start on a key in state st:
// not blocked, below the most pending checks, and either far enough from
// the threshold that every pending check could fail without reaching it,
// or with nothing pending. The last case is a key at its threshold whose
// block has ended: it gets one guess at a time, each failure a longer block.
func (t *table) admits(st *keyState) bool {
	switch {
	case st.wait > 0:
		return false
	case t.rule.maxPending > 0 && int(st.pending) >= t.rule.maxPending:
		return false
	case t.rule.threshold <= 0 || st.pending == 0:
		return true
	}
	return st.failures+float64(st.pending)+countSlack < float64(t.rule.threshold)
}

func (t *table) done(key uint64, now int64, failed bool) {
	s := t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok && !failed {
		return
	}
	if !ok {
		t.makeRoom(s, now)
		t.entries.Add(1)
	}
	e.pending = max(0, e.pending-1)
	if failed && t.rule.threshold > 0 {
		t.fail(&e, now)
	}
	s.m[key] = e
}

// fail records one failure in e at now and, once the count reaches the
// threshold, blocks the key for the policy's delay. Decay then resumes only
// when the block ends.
func (t *table) fail(e *entry, now int64) {
	e.count = e.decayed(now, t.halfLife) + 1
	e.since = max(now, e.until)
	if e.count+countSlack >= float64(t.rule.threshold) {
		e.until = max(e.until, now+int64(t.policy.delay(e.count, t.rule.threshold)))
		e.since = e.until
	}
}

func (t *table) forget(key uint64) {
	s := t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	switch {
	case !ok:
	case e.pending > 0:
		s.m[key] = entry{pending: e.pending}
	default:
		delete(s.m, key)
		t.entries.Add(-1)
	}
}

// makeRoom runs before an insert into s (locked). It drops a few entries
// that have decayed to nothing, so the table shrinks again after an attack,
// and if s is still full it evicts the least worthy of a sample. Map
// iteration starts at a random place, which makes the samples random.
func (t *table) makeRoom(s *shard, now int64) {
	seen := 0
	for k, e := range s.m {
		if seen++; seen > sweepSample {
			break
		}
		if e.idle(now, t.halfLife) {
			delete(s.m, k)
			t.entries.Add(-1)
		}
	}
	if len(s.m) < t.perShard {
		return
	}
	var victim uint64
	least := math.Inf(1)
	seen = 0
	for k, e := range s.m {
		if seen++; seen > evictSample {
			break
		}
		if w := e.worth(now, t.halfLife); w < least {
			victim, least = k, w
		}
	}
	if math.IsInf(least, 1) { // every sampled entry has checks pending
		return
	}
	delete(s.m, victim)
	t.entries.Add(-1)
	t.evicted.Add(1)
}

func (t *table) sweep(now int64) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if e.idle(now, t.halfLife) {
				delete(s.m, k)
				t.entries.Add(-1)
			}
		}
		s.mu.Unlock()
	}
}

func (t *table) block(key uint64, now, until int64) {
	s := t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok {
		t.makeRoom(s, now)
		t.entries.Add(1)
	}
	e.until = max(e.until, until)
	e.since = max(e.since, e.until)
	s.m[key] = e
}
