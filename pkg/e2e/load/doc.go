//go:build e2e

// Package load measures regtoken behind nginx, side by side with what
// bounds it, and prints one table. It holds tests only; nothing imports it.
//
// The full run takes about ten minutes:
//
//	REGTOKEN_LOAD=1 go test -tags e2e ./pkg/e2e/load -run TestLoadTable -v -timeout 30m
//
// It starts regtoken (built from this tree) with an SCGI, a uwsgi, a FastCGI
// and an HTTP listener on unix sockets, a trivial responder for each of those
// transports (a fixed answer of the same size as a real token answer, served
// by this repository's transport packages), and nginx with ONE worker in
// front of all of them, as in the reference figures. For every
// transport it runs wrk (-t2 -c16 -d10s) for anonymous, cached-password,
// first-time-password (bcrypt) and refresh-token requests, and the same
// against the trivial responder and against nginx answering by itself;
// cached and first-time logins of an LDAP directory's users (a slapd the
// test starts), beside slapd's own bind and search + bind rates. It also
// measures the raw ES256 signing and bcrypt rates of this machine,
// anonymous and cached requests while 64 clients send wrong passwords,
// latency at half the maximum anonymous rate, and a second nginx with two
// workers. The table shows tokens/s, p50/p99 latency, regtoken's CPU time
// per answer and its peak RSS, followed by the targets.
//
// Without REGTOKEN_LOAD the test runs a smoke version (one second of wrk per
// row, fewer rows) that checks the harness and that every row is answered
// with 200s; it reports no rates, and no test here ever asserts a rate: the
// figures depend on the machine and on whatever else it is running.
//
// Knobs (environment, read by the test only):
//
//	REGTOKEN_LOAD=1            full run
//	REGTOKEN_LOAD_ROWS=regexp  run only the rows whose name matches
//	REGTOKEN_LOAD_SECONDS=n    wrk duration per row (default 10, smoke 1)
//	REGTOKEN_LOAD_OUT=file     also write the table (Markdown) to file
//
// Needs nginx, wrk and slapd (apt-get install nginx-light wrk slapd).
package load
