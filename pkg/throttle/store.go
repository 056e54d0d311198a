package throttle

// store keeps the throttle's state for one kind of key ((user, address)
// pairs, or addresses): per key, a failure count that decays, a block that
// lasts until some time, and the password checks admitted and not yet
// done (pending). Every method acts on one key atomically; the Limiter
// combines two keys by admitting on one, then the other, and undoing the
// first when the second refuses.
//
// The store is the in-memory table (table.go), one per process. Replicas
// that share a Valkey or Redis server (package shared) keep this table as
// well: it bounds the checks in flight per replica, answers Check without a
// round trip (blocks the shared store reports are copied in with block),
// and is what remains when the shared store does not answer.
type store interface {
	// peek returns key's state at now and changes nothing.
	peek(key uint64, now int64) keyState
	// admit counts one more pending check of key and reports true, unless
	// key is blocked, already has its most pending checks, or has failures
	// and pending checks that could reach its threshold between them (then
	// only one check at a time is admitted: the next failure blocks).
	admit(key uint64, now int64) (keyState, bool)
	// done ends one pending check of key (none pending: it only records
	// the outcome). A failure adds one to the count and, once the count
	// reaches the threshold, blocks key for the policy's delay.
	done(key uint64, now int64, failed bool)
	// block makes key blocked until then (Unix nanoseconds), at least: a
	// block learned from a store that replicas share.
	block(key uint64, now, until int64)
	// forget clears key's failures and block; its pending checks stay.
	forget(key uint64)
	// sweep drops the keys that are not blocked, have nothing pending and
	// whose count has decayed below one failure.
	sweep(now int64)
}

// keyState is what a store knows about one key at one time.
type keyState struct {
	wait     int64   // nanoseconds the key stays blocked; 0: not blocked
	failures float64 // the failure count, decayed to now
	pending  int32   // checks admitted and not done
}

// rule is what a store enforces for its kind of key.
type rule struct {
	// threshold is the failure count that starts blocks; 0 or less: the
	// store counts no failures and never blocks.
	threshold int
	// maxPending bounds the checks pending at once; 0 or less: no bound.
	maxPending int
}
