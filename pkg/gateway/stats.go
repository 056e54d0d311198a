package gateway

import "sync/atomic"

// Stats counts requests a transport refused before (or instead of) the
// handler, by reason, and the connections a full listener delayed or closed,
// so an operator sees hostile or broken traffic in metrics and not only in
// the log. One Stats may be shared by several servers.
type Stats struct {
	Malformed    atomic.Uint64 // unreadable request heads and variables: 400 or a closed connection
	BodyTooLarge atomic.Uint64 // declared bodies over MaxBodyBytes: 413
	TimedOut     atomic.Uint64 // connections cut at their deadline before a request was read
	Panics       atomic.Uint64 // handler panics answered with 500
	ConnsWaited  atomic.Uint64 // accepts delayed because Limits.MaxConnections connections were open
	EvictedIdle  atomic.Uint64 // idle kept-alive connections a full listener closed to make room
	EvictedSlow  atomic.Uint64 // connections a full listener cut for taking over HeadTimeout with a request
}
