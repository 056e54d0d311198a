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
	count float64 // failures, as of since
	since int64   // decay runs from here: the last failure or the end of a block
	until int64   // blocked until then
}

// decayed is the count at now: halved every half-life after since.
func (e *entry) decayed(now int64, halfLife float64) float64 {
	if now <= e.since {
		return e.count
	}
	return e.count * math.Exp2(-float64(now-e.since)/halfLife)
}

// worth orders entries for eviction, least worth first: every blocked entry
// is worth more than any unblocked one, and blocks ending later more than
// blocks ending sooner; unblocked entries are worth their count.
func (e *entry) worth(now int64, halfLife float64) float64 {
	if e.until > now {
		return 1e12 + float64(e.until-now)/1e9
	}
	return e.decayed(now, halfLife)
}

// table is a bounded map from key to entry, sharded to keep lock contention
// low.
type table struct {
	shards   [shardCount]shard
	perShard int
	halfLife float64 // nanoseconds
	entries  *atomic.Int64
	evicted  *atomic.Uint64
}

type shard struct {
	mu sync.Mutex
	m  map[uint64]entry
}

func newTable(maxEntries int, halfLife float64, entries *atomic.Int64, evicted *atomic.Uint64) *table {
	t := &table{perShard: max(1, maxEntries/shardCount), halfLife: halfLife, entries: entries, evicted: evicted}
	for i := range t.shards {
		t.shards[i].m = make(map[uint64]entry)
	}
	return t
}

func (t *table) shard(key uint64) *shard { return &t.shards[key>>59] }

// wait is how long key stays blocked after now; 0 if it is not blocked or
// not known.
func (t *table) wait(key uint64, now int64) int64 {
	s := t.shard(key)
	s.mu.Lock()
	e, ok := s.m[key]
	s.mu.Unlock()
	if !ok || e.until <= now {
		return 0
	}
	return e.until - now
}

// countSlack lets failures that come in quick succession count as whole ones:
// decay is continuous, so three failures a millisecond apart add up to
// 2.9999…, which must still reach a threshold of 3.
const countSlack = 0.01

// fail records one failure of key at now and, once the count reaches
// threshold, blocks the key for the policy's delay. Decay then resumes only
// when the block ends.
func (t *table) fail(key uint64, now int64, threshold int, p *Policy) {
	s := t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok {
		t.makeRoom(s, now)
		t.entries.Add(1)
	}
	e.count = e.decayed(now, t.halfLife) + 1
	e.since = max(now, e.until)
	if e.count+countSlack >= float64(threshold) {
		e.until = max(e.until, now+int64(p.delay(e.count, threshold)))
		e.since = e.until
	}
	s.m[key] = e
}

// forget drops key.
func (t *table) forget(key uint64) {
	s := t.shard(key)
	s.mu.Lock()
	if _, ok := s.m[key]; ok {
		delete(s.m, key)
		t.entries.Add(-1)
	}
	s.mu.Unlock()
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
		if e.until <= now && e.decayed(now, t.halfLife) < negligible {
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
	delete(s.m, victim)
	t.entries.Add(-1)
	t.evicted.Add(1)
}

// sweep drops every entry that is neither blocked nor worth a failure.
func (t *table) sweep(now int64) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if e.until <= now && e.decayed(now, t.halfLife) < negligible {
				delete(s.m, k)
				t.entries.Add(-1)
			}
		}
		s.mu.Unlock()
	}
}
