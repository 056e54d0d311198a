//go:build e2e

// Package soak holds regtoken's soak test and nothing else: a long run of
// mixed load against nginx + regtoken + a registry, all on loopback, that
// checks honest clients never see an error and that the server does not leak
// memory, file descriptors or goroutines.
//
//	go test -tags e2e ./pkg/e2e/soak -run TestSoak -count=1 -v                        # about 1 minute
//	REGTOKEN_SOAK=10m go test -tags e2e ./pkg/e2e/soak -run TestSoak -timeout 20m -v  # the full soak
//
// The load, all at once, with bounded loops:
//
//   - honest clients through nginx (SCGI): anonymous pulls, and foo and bar
//     with their right passwords (served from the credential cache after the
//     first bcrypt), from 127.0.0.1; plus slow honest clients that trickle
//     their request to nginx, and well-formed SCGI and uwsgi requests written
//     straight to regtoken's sockets. Any answer but 200 with a token is an
//     honest error, and the test fails on the first one;
//   - first logins from 127.0.0.1 every half second, each as a user no cache
//     knows yet (newcomer-N, bcrypt cost 12), so that each is a bcrypt check
//     queued beside the guesses;
//   - password guessers through nginx from other loopback addresses
//     (127.0.0.2-9): wrong passwords for foo, whom an honest client logs in as
//     at the same time, and unknown users. They must get 401, 429 or 503 only;
//     with throttling in place, foo from 127.0.0.1 must still be served;
//   - bursts of 50 guesses at once every two seconds, each burst from one
//     address (127.0.0.10-17 in turn), for foo and for other users: the
//     throttle answers most of each burst without bcrypt, and no honest
//     client, first logins included, may notice;
//   - malformed SCGI and uwsgi streams written straight to regtoken's sockets
//     (truncated netstrings and vars blocks, garbage, oversize heads, lying
//     lengths), each of which the server must answer or close;
//   - slow connections to regtoken's sockets that trickle a request that never
//     ends, which the server must cut at its request timeout.
//
// regtoken's resident memory, open file descriptors and goroutines are read
// from its /metrics (on an operator socket) after a warm-up and again after
// the load stops; the test fails when they grew beyond a clear margin.
//
// The package has no code outside its tests.
package soak
