// Package daemon runs `regtoken serve`: it turns a validated configuration into
// a serving token endpoint, keeps it current when files change, and drains it on
// SIGTERM.
//
// It owns the process-wide concerns — reading the files the configuration
// names (keys, certificates, rules, robots, the issuers' keys, the
// directory's password) into one State, the preflight that `regtoken check`
// runs too (Preflight), opening listeners, systemd notification, signals,
// reload — so the packages below it (endpoint, acl, token, the transports)
// stay free of I/O and global state.
package daemon
