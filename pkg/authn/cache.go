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
	entries map[[32]byte]time.Time
	limit   int
}

func newCache(limit int) *cache {
	return &cache{entries: make(map[[32]byte]time.Time), limit: limit}
}

func (c *cache) get(key [32]byte, now time.Time) bool {
	c.mu.RLock()
	exp, ok := c.entries[key]
	c.mu.RUnlock()
	return ok && now.Before(exp)
}

func (c *cache) put(key [32]byte, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.limit {
		c.evict(time.Now())
	}
	c.entries[key] = expires
}

// evict removes expired entries, or a tenth of the entries (arbitrary ones) when
// none has expired, so a full cache does not pay a scan on every insert.
func (c *cache) evict(now time.Time) {
	removed := false
	for k, exp := range c.entries {
		if !now.Before(exp) {
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
