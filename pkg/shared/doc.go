// Package shared is the state that regtoken replicas share through a
// Valkey or Redis server ([store] in regtoken.toml): the failed-login
// throttle's counts and blocks, the memory of wrong passwords, and a
// revocation epoch per user.
//
// What is shared, and why it costs the request path nothing:
//
//   - Throttle (throttle.go): an uncached password check is admitted by one
//     server-side script that reads the blocks of its address and of its
//     (user, address) pair, looks for the same wrong password in the shared
//     memory, and counts the check as a failure, all in one round trip. A
//     right password gives its failure back (a second round trip); a wrong
//     one writes the memory of it. So N replicas allow, together, what one
//     allows: however guesses are spread, no key gets more checks than its
//     threshold before its block. Blocks the store reports are copied into
//     the replica's own throttle, whose Check then refuses locally.
//   - Revocations (revoke.go): `regtoken user revoke NAME` writes the time
//     of the revocation under a keyed hash of NAME and bumps a version
//     number. Every replica reads that version twice a second and, when it
//     changed, the whole table; requests consult the copy in memory.
//   - Nothing on the anonymous, cached or refresh-token paths goes to the
//     store: they read memory only, so a slow or dead store never slows
//     them.
//
// Keys in the store are keyed hashes (HMAC-SHA256 under the shared secret
// of secret_file), never user names, addresses or passwords. The verify
// cache of right passwords is not shared: a store holding "this password
// is right" entries would be worth stealing.
//
// When the store does not answer (store.go), the Store says so (Health,
// a log line at most once a minute, Stats) and the policy decides what a
// password login gets: fail_open (the default) goes on with the replica's
// own throttle, fail_closed refuses it (503). go-redis reconnects by
// itself; the poll notices when the store answers again.
//
// TLS (tls.go): rediss:// and valkeys:// take TLS 1.2 at least, and the
// options' CA file, client certificate and key, and server name, for one
// server, a Sentinel set and a cluster alike. Validate reads those files
// (the key through package secretfile, which refuses one others can read),
// so a bad one stops the configuration from loading.
//
// The package must not know about HTTP, tokens or configuration files, and
// must never log or store a password, a secret, a user name or an address.
package shared
