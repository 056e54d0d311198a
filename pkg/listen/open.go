package listen

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
)

// Listener is an open socket and the spec it was opened for.
type Listener struct {
	net.Listener
	Spec Spec
}

// Open opens a listener for every spec, in order: unix sockets are created
// (see the package comment), tcp addresses listened on, and systemd:NAME
// takes every socket activated passed under NAME. Every socket in
// activated must be claimed by some spec; an unclaimed one would make
// systemd start the service for connections nobody accepts.
//
// On error Open closes what it created and returns nothing; the caller
// still owns activated.
func Open(specs []Spec, activated map[string][]net.Listener) ([]Listener, error) {
	if err := checkSpecs(specs, activated); err != nil {
		return nil, err
	}
	var out []Listener
	for _, s := range specs {
		ls, err := open(s, activated)
		if err != nil {
			closeCreated(out)
			return nil, err
		}
		for _, l := range ls {
			out = append(out, Listener{Listener: l, Spec: s})
		}
	}
	return out, nil
}

// checkSpecs validates every spec and the set as a whole before anything is
// opened, so a mistake in the last spec does not leave sockets behind.
func checkSpecs(specs []Spec, activated map[string][]net.Listener) error {
	seen := make(map[string]bool)
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			return err
		}
		if seen[s.Address] {
			return fmt.Errorf("%w: %s", ErrDuplicate, s.Address)
		}
		seen[s.Address] = true
		scheme, name, _ := s.split()
		if scheme == schemeSystemd && len(activated[name]) == 0 {
			return fmt.Errorf("%w %q; passed: %s", ErrNotActivated, name, describeNames(activated))
		}
	}
	for name := range activated {
		if !seen[schemeSystemd+":"+name] {
			return fmt.Errorf("%w: %q", ErrUnusedActivated, name)
		}
	}
	return nil
}

func describeNames(activated map[string][]net.Listener) string {
	if len(activated) == 0 {
		return "none (not socket activated)"
	}
	return strings.Join(slices.Sorted(maps.Keys(activated)), ", ")
}

func open(s Spec, activated map[string][]net.Listener) ([]net.Listener, error) {
	scheme, rest, _ := s.split()
	var l net.Listener
	var err error
	switch scheme {
	case schemeSystemd:
		return activated[rest], nil
	case schemeUnix:
		l, err = listenUnix(s, rest)
	case schemeTCP:
		l, err = net.Listen("tcp", rest)
	default:
		err = fmt.Errorf("%w %q", ErrBadAddress, s.Address)
	}
	if err != nil {
		return nil, fmt.Errorf("listen: %s: %w", s, err)
	}
	return []net.Listener{l}, nil
}

// closeCreated closes the listeners Open made itself; activated ones go
// back to the caller untouched.
func closeCreated(ls []Listener) {
	for _, l := range ls {
		if scheme, _, _ := l.Spec.split(); scheme != schemeSystemd {
			l.Close()
		}
	}
}

// Close closes every listener, for a caller that opened listeners but will
// not start a Group.
func Close(ls []Listener) error {
	var errs []error
	for _, l := range ls {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}
