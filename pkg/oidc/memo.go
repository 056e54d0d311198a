package oidc

import (
	"crypto/sha256"
	"sync"
	"time"
)

// memoSize bounds the memo: a few thousand CI jobs' tokens at once.
const memoSize = 4096

// memo remembers the logins of tokens that passed every check, under the
// SHA-256 of the whole token, until the token expires. A CI job presents
// the same token for every pull and push of its run; the memo spares each
// of them the RS256 verification and the rules (about a tenth of a
// millisecond), leaving a hash and a look-up.
//
// It belongs to one Verifier, so a reload, which may change the rules,
// starts afresh. Only tokens that every check accepted are remembered, so
// filling it takes genuine tokens that match a rule; when full it is
// emptied, which costs time, never correctness. It stores no token.
type memo struct {
	mu     sync.RWMutex
	logins map[[sha256.Size]byte]memoEntry
}

type memoEntry struct {
	login   Login
	expires time.Time // exp plus the clock skew
}

func (m *memo) get(key [sha256.Size]byte, now time.Time) (Login, bool) {
	m.mu.RLock()
	e, ok := m.logins[key]
	m.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return Login{}, false // an expired token goes through every check again, and is refused there
	}
	return e.login, true
}

func (m *memo) put(key [sha256.Size]byte, login Login, expires time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.logins == nil || len(m.logins) >= memoSize {
		m.logins = make(map[[sha256.Size]byte]memoEntry)
	}
	m.logins[key] = memoEntry{login: login, expires: expires}
}
