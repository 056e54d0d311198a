//go:build e2e

// Package listeners checks package listen with the real programs around it,
// through listen's exported API only: nginx's scgi_pass, uwsgi_pass,
// fastcgi_pass and proxy_pass delivering requests to one handler over all
// four protocols, and systemd-socket-activate handing a socket to a service
// built on Activated and ActivatedSpecs. package listen's own tests cover
// the rest with Go alone.
package listeners
