package token

import (
	"crypto/sha256"
	"sync"
)

// verifiedMemoSize bounds the memo: 4096 refresh-token payloads of a few
// hundred bytes each, about 1.5 MB at most.
const verifiedMemoSize = 4096

// verifiedMemo remembers the payloads of the tokens Verify accepted, under
// the SHA-256 of the whole compact token. A client presenting the same
// refresh token again then costs a hash rather than an ECDSA verification,
// which takes about twice as long as a signature.
//
// Only accepted tokens are remembered, so nobody can fill the memo without
// holding tokens we signed; it is bounded all the same. The payload of a
// given token never changes, so entries need no expiry: exp, aud and the
// rest are the caller's to check on every use, memo or not. Neither the
// token nor anything secret is stored.
type verifiedMemo struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte][]byte
	limit   int
}

func newVerifiedMemo(limit int) *verifiedMemo {
	return &verifiedMemo{entries: make(map[[sha256.Size]byte][]byte), limit: limit}
}

func (m *verifiedMemo) get(key [sha256.Size]byte) ([]byte, bool) {
	m.mu.RLock()
	payload, ok := m.entries[key]
	m.mu.RUnlock()
	return payload, ok
}

// put remembers payload, which the memo owns from now on. When full, it
// first forgets a tenth of the entries, arbitrary ones (map order), so that
// a full memo does not pay for eviction on every insert.
func (m *verifiedMemo) put(key [sha256.Size]byte, payload []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.entries) >= m.limit {
		drop := max(1, m.limit/10)
		for k := range m.entries {
			delete(m.entries, k)
			if drop--; drop == 0 {
				break
			}
		}
	}
	m.entries[key] = payload
}

func (m *verifiedMemo) len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.entries)
}
