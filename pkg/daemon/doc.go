// Package daemon runs `regtoken serve`: it turns a validated configuration into
// a serving token endpoint, keeps it current when files change, and drains it on
// SIGTERM.
//
// It owns the process-wide concerns — reading the key, certificate and rule
// files named by the configuration, opening listeners, systemd notification,
// signals, reload — so the packages below it (endpoint, acl, token, the
// transports) stay free of I/O and global state.
package daemon
