package authn

import (
	"sync"
	"time"
)

// cache remembers verified credentials until they expire. Keys are HMACs, so
// nothing in it can be turned back into a password. When full, inserting drops
// expired entries first and otherwise an arbitrary one (Go map order), which is
// good enough for a bound that only an attacker with valid passwords reaches.
type cache struct {
	mu      sync.RWMutex
	entries map[[32]byte]cacheEntry
	limit   int
}

// cacheEntry is one remembered check. A bcrypt check needs nothing but its
// expiry; a directory's answer also carries what the directory said, so that
// a remembered login keeps its groups while the directory is unreachable.
type cacheEntry struct {
	expires time.Time
	at      time.Time // when it was remembered
	answer  directoryAnswer
}

func newCache(limit int) *cache {
	return &cache{entries: make(map[[32]byte]cacheEntry), limit: limit}
}

func (c *cache) get(key [32]byte, now, notBefore time.Time) bool {
	_, ok := c.lookup(key, now, notBefore)
	return ok
}

// lookup returns what was remembered under key, if it has not expired
// and was remembered after notBefore (a revocation; zero for none).
func (c *cache) lookup(key [32]byte, now, notBefore time.Time) (directoryAnswer, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) || e.at.Before(notBefore) {
		return directoryAnswer{}, false
	}
	return e.answer, true
}

func (c *cache) put(key [32]byte, expires time.Time) {
	c.remember(key, expires, directoryAnswer{})
}

// remember stores a directory's answer under key until expires.
func (c *cache) remember(key [32]byte, expires time.Time, a directoryAnswer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.limit {
		c.evict(time.Now())
	}
	c.entries[key] = cacheEntry{expires: expires, at: time.Now(), answer: a}
}

// evict removes expired entries, or a tenth of the entries (arbitrary ones) when
// none has expired, so a full cache does not pay a scan on every insert.
func (c *cache) evict(now time.Time) {
	removed := false
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
			removed = true
		}
	}
	if removed {
		return
	}
	drop := max(1, c.limit/10)
	for k := range c.entries {
		delete(c.entries, k)
		if drop--; drop == 0 {
			return
		}
	}
}

func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
