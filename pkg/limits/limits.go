// Package limits is the one table of what a request, a connection and a
// shutdown may cost, and of the defaults that apply where the configuration
// says nothing. The configuration, the listeners and all four transports
// (SCGI, uwsgi, FastCGI, HTTP) read their bounds from here and keep no
// default of their own, so no two of them can disagree on one.
//
// The package only holds values: enforcing them is the transports' job
// (package gateway), the endpoint's and the daemon's. It must not import any
// other regtoken package.
package limits

import (
	"errors"
	"fmt"
	"time"
)

// Defaults, used for zero fields.
const (
	// DefaultRequestTimeout bounds a request from its first byte to the
	// last byte of its answer.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultIdleTimeout is how long a kept-alive connection (HTTP,
	// FastCGI) may wait for its next request: long enough for nginx to
	// reuse it under any steady traffic, short enough that idle connections
	// do not hold the listener's slots for a whole request timeout.
	DefaultIdleTimeout = 10 * time.Second
	// DefaultHeadTimeout is how long a connection may take to deliver its
	// request head (FastCGI: the whole request) once the listener is full.
	// nginx writes a request in one go, so on a unix socket or a LAN it
	// arrives at once; half a second still allows a retransmission on a
	// slow link.
	DefaultHeadTimeout = 500 * time.Millisecond
	// DefaultMaxHeaderBytes holds nginx's request variables plus a long
	// Authorization header many times over.
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultMaxBodyBytes is for the OAuth2 POST form, the only body the
	// token endpoint reads: a few fields and a refresh token.
	DefaultMaxBodyBytes = 64 << 10
	// DefaultMaxConnections caps the connections one listener serves at once.
	DefaultMaxConnections = 1024
	// DefaultMaxScopes caps the scopes one token request may name.
	DefaultMaxScopes = 32
	// DefaultShutdownTimeout lets requests in flight finish within the
	// unit's TimeoutStopSec=30s (the deployment files set it) and
	// Kubernetes' default 30 s grace period.
	DefaultShutdownTimeout = 25 * time.Second
	// DefaultStoreTimeout bounds one round trip to the shared store
	// ([store]): connecting included. A store on the same LAN answers in
	// well under a millisecond; past this, a password login goes on by the
	// store's failure policy rather than wait.
	DefaultStoreTimeout = 250 * time.Millisecond
	// StorePollInterval is how often a replica reads the store's revocation
	// version (and so notices a revocation, or that the store answers
	// again): twice a second, so a revocation applies everywhere within 1 s.
	StorePollInterval = 500 * time.Millisecond
	// StoreLogEvery is the least time between two log lines about a store
	// that stays unreachable.
	StoreLogEvery = time.Minute
)

// maxHeaderBytesCeiling is the largest MaxHeaderBytes accepted: a request
// head beyond 1 MiB is an attack, not a registry client.
const maxHeaderBytesCeiling = 1 << 20

// ErrOutOfRange is wrapped by every error Validate returns.
var ErrOutOfRange = errors.New("limits: out of range")

// Transport bounds what one connection may cost. Every transport enforces
// all of them alike.
type Transport struct {
	// RequestTimeout bounds a request from its first byte to its last
	// response byte; the request context gets this deadline too.
	RequestTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a kept-alive
	// HTTP or FastCGI connection.
	IdleTimeout time.Duration
	// HeadTimeout applies once MaxConnections connections are open: to
	// make room for a new one, idle kept-alive connections are closed
	// first, then connections that have spent longer than HeadTimeout on
	// a request head they have not finished.
	HeadTimeout time.Duration
	// MaxHeaderBytes caps the request head (HTTP) or variable block (SCGI
	// netstring, uwsgi vars, FastCGI params).
	MaxHeaderBytes int
	// MaxBodyBytes caps the request body: a larger declared body is
	// answered 413 before the handler runs, and an undeclared one is cut off.
	MaxBodyBytes int64
	// MaxConnections caps the connections served at once, per listener;
	// more wait in the kernel's listen queue.
	MaxConnections int
}

// Limits is the whole table, the [limits] section of the configuration.
type Limits struct {
	Transport
	// MaxScopes caps the scopes one token request may name (400 beyond).
	MaxScopes int
	// ShutdownTimeout bounds the drain after SIGTERM.
	ShutdownTimeout time.Duration
	// BcryptConcurrency bounds the password checks running at once; zero
	// leaves the choice to package authn, which knows the machine.
	BcryptConcurrency int
}

// WithDefaults returns t with every zero field set to its default.
func (t Transport) WithDefaults() Transport {
	t.RequestTimeout = orDefault(t.RequestTimeout, DefaultRequestTimeout)
	t.IdleTimeout = orDefault(t.IdleTimeout, DefaultIdleTimeout)
	t.HeadTimeout = orDefault(t.HeadTimeout, DefaultHeadTimeout)
	t.MaxHeaderBytes = orDefault(t.MaxHeaderBytes, DefaultMaxHeaderBytes)
	t.MaxBodyBytes = orDefault(t.MaxBodyBytes, DefaultMaxBodyBytes)
	t.MaxConnections = orDefault(t.MaxConnections, DefaultMaxConnections)
	return t
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	l.Transport = l.Transport.WithDefaults()
	l.MaxScopes = orDefault(l.MaxScopes, DefaultMaxScopes)
	l.ShutdownTimeout = orDefault(l.ShutdownTimeout, DefaultShutdownTimeout)
	return l
}

// Validate reports negative values, a MaxHeaderBytes above 1 MiB and a
// HeadTimeout that is not shorter than the RequestTimeout (it could then
// never apply), one error per field, named as in the configuration file.
// Zero is valid everywhere: it means the default.
func (l Limits) Validate() error {
	var errs []error
	for _, f := range []struct {
		name  string
		value int64
	}{
		{"max_scopes", int64(l.MaxScopes)}, {"max_header_bytes", int64(l.MaxHeaderBytes)},
		{"max_body_bytes", l.MaxBodyBytes}, {"request_timeout", int64(l.RequestTimeout)},
		{"idle_timeout", int64(l.IdleTimeout)}, {"head_timeout", int64(l.HeadTimeout)},
		{"max_connections", int64(l.MaxConnections)}, {"shutdown_timeout", int64(l.ShutdownTimeout)},
		{"bcrypt_concurrency", int64(l.BcryptConcurrency)},
	} {
		if f.value < 0 {
			errs = append(errs, fmt.Errorf("%w: %s must not be negative", ErrOutOfRange, f.name))
		}
	}
	if l.MaxHeaderBytes > maxHeaderBytesCeiling {
		errs = append(errs, fmt.Errorf("%w: max_header_bytes %d is over %d (1 MiB)",
			ErrOutOfRange, l.MaxHeaderBytes, maxHeaderBytesCeiling))
	}
	if t := l.Transport.WithDefaults(); l.HeadTimeout >= 0 && l.RequestTimeout >= 0 && t.HeadTimeout >= t.RequestTimeout {
		errs = append(errs, fmt.Errorf("%w: head_timeout %s must be shorter than request_timeout %s",
			ErrOutOfRange, t.HeadTimeout, t.RequestTimeout))
	}
	return errors.Join(errs...)
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}
