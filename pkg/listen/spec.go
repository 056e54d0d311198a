package listen

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// Protocols a listener can speak.
const (
	SCGI    = "scgi"
	UWSGI   = "uwsgi"
	FastCGI = "fastcgi"
	HTTP    = "http"
)

// Address schemes.
const (
	schemeUnix    = "unix"
	schemeTCP     = "tcp"
	schemeSystemd = "systemd"
)

// DefaultMode is the permission of a unix socket when Spec.Mode is zero:
// owner and group may connect (connect(2) needs write permission), others
// may not.
const DefaultMode os.FileMode = 0o660

// maxUnixPath is the room in sockaddr_un.sun_path, less the final NUL.
const maxUnixPath = 107

// Errors returned by ParseFlag, Validate and Open; test with errors.Is.
var (
	ErrUnknownProtocol = errors.New("listen: unknown protocol")
	ErrBadAddress      = errors.New("listen: bad address")
	ErrNotApplicable   = errors.New("listen: option does not apply to this listener")
	ErrInUse           = errors.New("listen: socket already in use")
	ErrNotSocket       = errors.New("listen: file exists and is not a socket")
	ErrNotActivated    = errors.New("listen: no socket passed by systemd under this name")
	ErrUnusedActivated = errors.New("listen: socket passed by systemd is not used by any listener")
	ErrDuplicate       = errors.New("listen: address given twice")
)

// Spec describes one listener.
type Spec struct {
	// Protocol is scgi, uwsgi, fastcgi (alias fcgi) or http.
	Protocol string

	// Address is unix:PATH, tcp:HOST:PORT, or systemd:NAME, where NAME is
	// the socket unit's FileDescriptorName=.
	Address string

	// Mode is the permission of a unix socket regtoken creates; zero means
	// DefaultMode. Owner and Group, names or numeric IDs, change its
	// ownership; empty leaves it to the process. Only for unix: addresses.
	Mode  os.FileMode
	Owner string
	Group string

	// TrustProxyHeaders takes the client address from X-Real-IP or
	// X-Forwarded-For. Only for http listeners that only the proxy reaches.
	TrustProxyHeaders bool
}

// ParseFlag parses the command-line form PROTOCOL=ADDRESS, for example
// "uwsgi=unix:/run/regtoken/uwsgi.sock" or "http=tcp:127.0.0.1:8080". The
// protocol "fcgi" is returned as "fastcgi".
func ParseFlag(s string) (Spec, error) {
	proto, addr, ok := strings.Cut(s, "=")
	if !ok {
		return Spec{}, fmt.Errorf("%w: %q is not PROTOCOL=ADDRESS", ErrBadAddress, s)
	}
	spec := Spec{Protocol: proto, Address: addr}.Canonical()
	return spec, spec.Validate()
}

// Canonical returns s with its protocol's canonical name: lower case, and
// "fcgi" as "fastcgi".
func (s Spec) Canonical() Spec {
	s.Protocol = canonicalProtocol(s.Protocol)
	return s
}

// String gives the spec back in ParseFlag's form.
func (s Spec) String() string { return s.Protocol + "=" + s.Address }

// Validate checks the protocol, the address, and that the options fit the
// address. It reports every problem it finds, joined; test them with
// errors.Is.
func (s Spec) Validate() error {
	var errs []error
	if !isProtocol(canonicalProtocol(s.Protocol)) {
		errs = append(errs, fmt.Errorf("%w %q (want scgi, uwsgi, fastcgi or http)", ErrUnknownProtocol, s.Protocol))
	}
	scheme, rest, err := s.split()
	if err == nil {
		if err := validateTarget(scheme, rest); err != nil {
			errs = append(errs, fmt.Errorf("%w %q: %v", ErrBadAddress, s.Address, err))
		}
	} else {
		errs = append(errs, err)
	}
	if scheme != schemeUnix && (s.Mode != 0 || s.Owner != "" || s.Group != "") {
		errs = append(errs, fmt.Errorf("%w: mode, owner and group need a unix: address, not %q", ErrNotApplicable, s.Address))
	}
	if s.Mode&^os.ModePerm != 0 {
		errs = append(errs, fmt.Errorf("%w: mode %v has more than permission bits", ErrNotApplicable, s.Mode))
	}
	if s.TrustProxyHeaders && canonicalProtocol(s.Protocol) != HTTP {
		errs = append(errs, fmt.Errorf("%w: proxy headers only exist on http listeners, not %s", ErrNotApplicable, s.Protocol))
	}
	return errors.Join(errs...)
}

// split returns the address scheme and what follows it.
func (s Spec) split() (scheme, rest string, err error) {
	scheme, rest, ok := strings.Cut(s.Address, ":")
	if !ok || rest == "" {
		return "", "", fmt.Errorf("%w %q (want unix:PATH, tcp:HOST:PORT or systemd:NAME)", ErrBadAddress, s.Address)
	}
	return scheme, rest, nil
}

func validateTarget(scheme, rest string) error {
	switch scheme {
	case schemeUnix:
		if len(rest) > maxUnixPath {
			return fmt.Errorf("socket path longer than %d bytes", maxUnixPath)
		}
		if strings.ContainsRune(rest, 0) {
			return errors.New("NUL in socket path")
		}
		return nil
	case schemeTCP:
		_, port, err := net.SplitHostPort(rest)
		if err != nil {
			return err
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil { // 0 picks a free port
			return fmt.Errorf("port %q is not 0-65535", port)
		}
		return nil
	case schemeSystemd:
		// systemd.socket(5): FileDescriptorName= has no ':' or control
		// characters and is at most 255 bytes.
		if len(rest) > 255 || strings.ContainsFunc(rest, func(r rune) bool { return r < ' ' || r == 0x7f || r == ':' }) {
			return errors.New("not a valid FileDescriptorName")
		}
		return nil
	default:
		return fmt.Errorf("unknown scheme %q", scheme)
	}
}

func canonicalProtocol(p string) string {
	p = strings.ToLower(p)
	if p == "fcgi" {
		return FastCGI
	}
	return p
}

func isProtocol(p string) bool {
	switch p {
	case SCGI, UWSGI, FastCGI, HTTP:
		return true
	}
	return false
}
