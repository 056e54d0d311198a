// Package listen turns listener specifications ("uwsgi=unix:/run/regtoken/uwsgi.sock",
// "scgi=systemd:scgi") into open sockets, and runs one server per socket
// that speaks the socket's protocol (SCGI, uwsgi, FastCGI or HTTP) to the
// same http.Handler. The handler never learns which protocol carried a
// request.
//
// Sockets come from two places: systemd socket activation (Activated, the
// one place in regtoken that reads LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES,
// through go-systemd's activation package) and sockets regtoken creates
// itself (Open). Unix
// sockets regtoken creates are never world-connectable, not even for a
// moment, replace a stale socket file but refuse a live one, and are
// removed when their listener closes. Sockets regtoken did not create
// (inherited from systemd, or a file nobody asked it to replace) are never
// removed.
//
// The package must not know about tokens or configuration files: it gets
// specs and limits as plain values, and the daemon decides when to shut
// down (Group.Shutdown) and what to tell systemd.
package listen
