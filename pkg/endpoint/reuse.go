package endpoint

import (
	"strings"
	"sync"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/token"
)

// Reusing tokens.
//
// Signing is most of what an answer costs: an ES256 signature takes about
// 30 µs of CPU, everything else a request needs a few µs. And clients ask
// for the same thing over and over: every layer of an anonymous pull, every
// job of a CI fleet, every refresh of a logged-in docker. So the token signed
// for a grant (subject, service and the access the rules granted) is handed
// out again to requests for the same grant while it is younger than the
// reuse window. The rules are still asked on every request, so a token is
// only reused for exactly what the caller would be granted anew.
//
// The answer stays truthful: issued_at is when the token was signed, and
// expires_in the seconds it has left. Clients that take expiry as issued_at +
// expires_in (distribution, containers/image) think it expires a little
// early (by at most the window), those that take now + expires_in
// (containerd) get it exactly; nobody is told it lives longer than it does.
//
// Tokens are never reused across a reload: the cache belongs to one State,
// and a new State starts with an empty one, so changed rules, users or keys
// apply to the next request at once.

const (
	// maxReuseWindow bounds how long a token is handed out again; with the
	// default 5-minute lifetime every answer leaves at least 290 s to live.
	maxReuseWindow = 10 * time.Second
	// maxReused bounds the cache; a full cache drops expired entries, or an
	// arbitrary tenth when none has expired.
	maxReused = 4096
)

// reuseWindow is a tenth of the (shortest) token lifetime, at most
// maxReuseWindow.
func reuseWindow(lifetime time.Duration) time.Duration {
	return min(maxReuseWindow, lifetime/10)
}

// grantKey identifies a grant: who, for which service, and the exact access.
type grantKey struct {
	anonymous bool
	subject   string
	service   string
	access    string // see accessKey
}

// signedToken is a token handed out for a grant.
type signedToken struct {
	jwt      string
	issuedAt time.Time // whole seconds: the token's iat
	expires  time.Time // its exp
}

// reuseCache holds the tokens signed under one State.
type reuseCache struct {
	state  *State
	window time.Duration
	mu     sync.RWMutex
	tokens map[grantKey]signedToken
}

func newReuseCache(st *State) *reuseCache {
	return &reuseCache{state: st, window: reuseWindow(st.Lifetimes.Shortest()), tokens: make(map[grantKey]signedToken)}
}

// reuseCacheFor returns the cache of st, replacing the cache of an older
// State. Requests still finishing on an older State during a reload get a
// cache of their own that is then dropped.
func (h *Handler) reuseCacheFor(st *State) *reuseCache {
	c := h.reuse.Load()
	if c != nil && c.state == st {
		return c
	}
	fresh := newReuseCache(st)
	if h.reuse.CompareAndSwap(c, fresh) {
		return fresh
	}
	if c = h.reuse.Load(); c != nil && c.state == st {
		return c
	}
	return fresh
}

// get returns the token of a grant if it was signed less than the window
// before now.
func (c *reuseCache) get(k grantKey, now time.Time) (signedToken, bool) {
	c.mu.RLock()
	t, ok := c.tokens[k]
	c.mu.RUnlock()
	return t, ok && c.fresh(t, now)
}

// fresh reports whether t may still be handed out at now. A clock that went
// backwards makes t unusable rather than extending its reuse.
func (c *reuseCache) fresh(t signedToken, now time.Time) bool {
	age := now.Sub(t.issuedAt)
	return age >= 0 && age < c.window
}

func (c *reuseCache) put(k grantKey, t signedToken, now time.Time) {
	if c.window <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tokens) >= maxReused {
		c.evict(now)
	}
	c.tokens[k] = t
}

// evict runs with c.mu held.
func (c *reuseCache) evict(now time.Time) {
	removed := false
	for k, t := range c.tokens {
		if !c.fresh(t, now) {
			delete(c.tokens, k)
			removed = true
		}
	}
	if removed {
		return
	}
	drop := max(1, maxReused/10)
	for k := range c.tokens {
		delete(c.tokens, k)
		if drop--; drop == 0 {
			return
		}
	}
}

// accessKey writes the granted access in request order, entries without
// actions included (they are in the token too). Scope types, names and
// actions never contain NUL or SOH (ParseScopes), so the encoding is
// unambiguous.
func accessKey(access []token.ResourceActions) string {
	var b strings.Builder
	for _, a := range access {
		b.WriteString(a.Type)
		b.WriteByte(0)
		b.WriteString(a.Name)
		b.WriteByte(0)
		for i, act := range a.Actions {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(act)
		}
		b.WriteByte(1)
	}
	return b.String()
}

// tokenFor returns a token for the grant: one signed within the reuse
// window, or a new one. reused says which.
func (h *Handler) tokenFor(st *State, subject acl.Subject, service string, access []token.ResourceActions, now time.Time) (t signedToken, reused bool, err error) {
	cache := h.reuseCacheFor(st)
	k := grantKey{anonymous: subject.Anonymous, subject: subject.Name, service: service, access: accessKey(access)}
	if t, ok := cache.get(k, now); ok {
		return t, true, nil
	}
	claims := token.NewClaims(st.Issuer, subject.Name, service, access, now, st.Lifetimes.For(access), st.ClockSkew)
	jwt, err := st.SignerFor(service).Sign(claims)
	if err != nil {
		return signedToken{}, false, err
	}
	// issuedAt is when it was signed, in whole seconds like the claims, not
	// the backdated iat: the reuse window and the answer's issued_at count
	// from now.
	t = signedToken{jwt: jwt, issuedAt: time.Unix(now.Unix(), 0), expires: time.Unix(claims.Expiration, 0)}
	cache.put(k, t, now)
	return t, false, nil
}
