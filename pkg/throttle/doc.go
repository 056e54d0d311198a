// Package throttle slows down password guessing: it remembers failed logins
// per (user, client address) and per client address, bounds the password
// checks in flight for each, and tells the caller how long a client must
// wait before its next password is even looked at.
//
// # Policy
//
// Two kinds of key are counted, never the user alone:
//
//   - (user, address): PairThreshold failures (default 5) of one user from one
//     address block that pair. This stops guessing one user's password.
//   - address: AddressThreshold failures (default 50) from one address, for any
//     users, block that address for everyone. This stops one client from
//     trying a few passwords for many users (credential stuffing).
//
// Counting the user alone would let anybody lock a user out from everywhere by
// typing wrong passwords for them; keyed as above, a guesser at one address
// never blocks that user at another address.
//
// Once a key reaches its threshold, every further failure blocks it for
// BaseDelay (default 1 s), doubling with each failure after that, up to
// MaxDelay (default 15 min): 1 s, 2 s, 4 s, … 512 s, 15 min.
//
// Counts decay: they halve every Decay (default 15 min), so a user who
// mistyped a few times yesterday starts clean. Decay only runs while a key is
// not blocked. Otherwise a patient attacker who always waits out the delay
// would see the count shrink during each wait; with the defaults the delay
// would settle near two minutes instead of the fifteen-minute cap. With decay
// paused, such an attacker gets one guess per MaxDelay per pair.
//
// # Checks in flight
//
// A guess is counted when its check is admitted, not when bcrypt has
// refused it: until it ends, an admitted check counts as pending, a failure
// in waiting. Counting only finished checks would let every request that
// arrives while the first ones run pass the threshold test, so a burst of a
// hundred guesses at once would all be checked. Admit therefore refuses a
// check (Busy, retry after a second) when
//
//   - its (user, address) pair has a check pending: one at a time per pair;
//   - its address has AddressInFlight checks pending (default 16), whatever
//     the users;
//   - the pending checks could, all failing, bring a key to its threshold:
//     a key with 48 failures of 50 runs two checks at once, not eight; a key
//     whose block has just ended runs one, whose failure blocks it again.
//
// However a burst is timed, no key gets more checks than its threshold
// before its block. Checks that a cache answers (a password verified a
// moment ago, or the same wrong one again) need no admission: they cost no
// bcrypt and are no new guess. Admit also ranks each check by how suspect
// its client is (Pass.Rank), so that a verifier can check honest first
// logins ahead of guesses.
//
// A successful login clears its (user, address) pair, so one mistyped password
// costs nothing after the right one. It does not clear the address count: an
// attacker who owns one account must not be able to reset the address count
// by logging into it between guesses at other accounts.
//
// # Addresses
//
// The address is the client's IP, as REMOTE_ADDR or http.Request.RemoteAddr
// give it. A port is ignored, an IPv4-mapped IPv6 address counts as the IPv4
// address, and IPv6 addresses are grouped by their /64 prefix, since one host
// usually owns a whole /64 and could otherwise rotate through it. A string that
// is not an IP address (a unix socket's "@", say) is used as it is; the caller
// must make sure addresses are the real clients' (for example trusted proxy
// headers behind an HTTP proxy), or every client shares one address key.
//
// # Memory and cost
//
// Each of the two tables holds at most MaxEntries keys (default 50 000; a key
// takes about 100 bytes, so about 5 MB a table). A full table evicts the least
// valuable of a few sampled entries: one that is not blocked and has the
// fewest failures. An attacker rotating addresses therefore evicts his own
// fresh entries, and cannot flush the blocks that matter without first
// earning as many blocks of his own. Keys are 64-bit hashes under random
// seeds drawn by New, so the tables hold no user names or addresses and
// nobody can aim collisions. Check allocates nothing and holds one shard's
// mutex at a time.
//
// # How to use it
//
// Before looking at a password, call Check; if it returns a wait, refuse the
// request without running bcrypt or consulting a cache (429, Retry-After:
// RetryAfter(wait)), calling Hold before the answer goes out. A password a
// cache verifies calls Success. Before a bcrypt check, call Admit: refused,
// answer the same way; admitted, end the Pass with Failure, Success or
// Cancel. A nil *Limiter allows everything.
//
// The state is kept behind a small interface (store.go) with one
// in-memory implementation. Replicas that share a Valkey or Redis server
// count across replicas in package shared, and keep this Limiter for what
// stays per process: checks in flight, the tarpit, blocks the store
// reported (Mirror), and a fallback while the store does not answer.
//
// # Tarpit
//
// Hold keeps a refused request for up to Tarpit (default 1 s) before it is
// answered, so a guesser that waits for each answer, as guessing tools do,
// sends a request per second per connection instead of flooding the server
// with cheap refusals. At most TarpitSlots (default 256) requests are held at
// once; past that, refusals are answered at once.
//
// The package must not know about HTTP, tokens or configuration files, must
// not log, and must never store a user name, password or address in clear.
package throttle
