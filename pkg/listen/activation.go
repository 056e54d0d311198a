package listen

import (
	"fmt"
	"net"
	"os"
	"slices"
	"syscall"

	"github.com/coreos/go-systemd/v22/activation"
)

// activationEnv lists the variables of sd_listen_fds(3). activation.Files
// unsets the first three; LISTEN_PIDFDID, which systemd 254 and later also
// sets, is left to us.
var activationEnv = []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PIDFDID"}

// Activated returns the listening sockets systemd passed to this process,
// keyed by their FileDescriptorName= (a socket unit with several Listen*=
// lines gives several listeners under one name; a socket without a name is
// "LISTEN_FD_<fd>"). It returns nil, nil when the process was not socket
// activated, including when LISTEN_PID names another process (the variables
// leaked from a parent). It unsets the LISTEN_* variables in every case, so
// children do not see them, and marks the fds close-on-exec; call it once,
// at start-up.
//
// A passed fd that is not a listening stream socket (Accept=yes, or a
// datagram socket) is an error: nothing would ever accept on it.
//
// The listeners do not remove their socket files on Close: systemd owns
// them.
//
// go-systemd's activation.Files reads the protocol. Its ListenersWithNames
// is not used: it skips an fd that is no listener without a word (and
// leaves it open), and takes a connected socket from Accept=yes for one.
func Activated() (map[string][]net.Listener, error) {
	files := activation.Files(true)
	unsetActivationEnv()
	if len(files) == 0 {
		return nil, nil
	}
	return listenersFromFiles(files)
}

func unsetActivationEnv() {
	for _, name := range activationEnv {
		os.Unsetenv(name)
	}
}

// listenersFromFiles turns passed fds into listeners named after the files,
// and closes the files (net.FileListener keeps its own dup).
func listenersFromFiles(files []*os.File) (map[string][]net.Listener, error) {
	byName := make(map[string][]net.Listener)
	var err error
	for _, f := range files {
		if err == nil {
			var l net.Listener
			if l, err = fileListener(f); err == nil {
				byName[f.Name()] = append(byName[f.Name()], l)
			}
		}
		f.Close()
	}
	if err != nil {
		closeAll(byName)
		return nil, err
	}
	return byName, nil
}

func fileListener(f *os.File) (net.Listener, error) {
	listening, err := syscall.GetsockoptInt(int(f.Fd()), syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	if err != nil || listening == 0 {
		return nil, fmt.Errorf("listen: passed fd %d (%s) is not a listening socket (Accept=yes?)", f.Fd(), f.Name())
	}
	l, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("listen: passed fd %d (%s): %w", f.Fd(), f.Name(), err)
	}
	return l, nil
}

func closeAll(byName map[string][]net.Listener) {
	for _, ls := range byName {
		for _, l := range ls {
			l.Close()
		}
	}
}

// ActivatedSpecs gives one spec per passed socket name, taking the protocol
// from the name: a socket unit with FileDescriptorName=uwsgi serves uwsgi.
// Use it when no listener is configured explicitly. A name that is not a
// protocol (scgi, uwsgi, fastcgi, fcgi, http) is an error that says how to
// map it.
func ActivatedSpecs(activated map[string][]net.Listener) ([]Spec, error) {
	names := make([]string, 0, len(activated))
	for name := range activated {
		names = append(names, name)
	}
	slices.Sort(names)
	specs := make([]Spec, 0, len(names))
	for _, name := range names {
		proto := canonicalProtocol(name)
		if !isProtocol(proto) {
			return nil, fmt.Errorf("%w %q: systemd passed a socket named %q; name it after its protocol (FileDescriptorName=scgi) or configure a listener PROTOCOL=systemd:%s",
				ErrUnknownProtocol, name, name, name)
		}
		specs = append(specs, Spec{Protocol: proto, Address: schemeSystemd + ":" + name})
	}
	return specs, nil
}
