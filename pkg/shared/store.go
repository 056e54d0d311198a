package shared

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/regtoken/regtoken/pkg/limits"
)

// minSecret is the shortest secret accepted: 256 bits.
const minSecret = 32

// ErrUnavailable is wrapped by the errors of round trips that got no
// answer from the store.
var ErrUnavailable = errors.New("store: unavailable")

// keyPrefix starts every key regtoken writes. The braces are a cluster
// hash tag: one login's keys must sit on one node for its script, so all
// of regtoken's do (the store's load is a few commands per uncached
// password login, which one node carries many times over).
const keyPrefix = "{regtoken}:"

// Secrets are what the files of Options hold.
type Secrets struct {
	Key      []byte // from SecretFile
	Password string // from PasswordFile; "" for none
}

// Store is a connection to the shared store and what this replica knows of
// it. It is safe for concurrent use. A nil *Store shares nothing.
type Store struct {
	opts   Options
	client redis.UniversalClient
	key    []byte
	log    *slog.Logger
	health health
	epochs atomic.Pointer[epochs] // revocations, as of the latest poll
	Stats  Stats
	// observe, when set, hears every round trip's latency and error.
	observe func(d time.Duration, err error)
}

// Stats counts the round trips to the store, for metrics.
type Stats struct {
	Commands atomic.Uint64 // round trips tried
	Errors   atomic.Uint64 // round trips that got no answer
	// Fallbacks counts password logins that went on without the store
	// (fail_open); Refused those it refused (fail_closed).
	Fallbacks atomic.Uint64
	Refused   atomic.Uint64
}

// New returns a Store for o (validated, defaults filled) with the secrets
// of its files. It does not connect: the first round trip does, and the
// client reconnects by itself whenever the store comes back.
func New(o Options, s Secrets, log *slog.Logger) (*Store, error) {
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if len(s.Key) < minSecret {
		return nil, fmt.Errorf("%w: secret_file holds %d bytes, want at least %d", ErrInvalidOptions, len(s.Key), minSecret)
	}
	uo, err := o.universal(s.Password)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	quietOnce.Do(func() { redis.SetLogger(quiet{}) })
	st := &Store{opts: o, client: redis.NewUniversalClient(uo), key: s.Key, log: log}
	st.epochs.Store(&epochs{})
	return st, nil
}

// Close closes the connections.
func (s *Store) Close() error {
	if s == nil {
		return nil
	}
	return s.client.Close()
}

// SetObserver makes f hear every round trip's latency and error (for
// metrics). Call it before the Store is used.
func (s *Store) SetObserver(f func(d time.Duration, err error)) { s.observe = f }

// FailClosed reports whether password logins are refused while the store
// does not answer.
func (s *Store) FailClosed() bool { return s != nil && s.opts.Policy == FailClosed }

// Policy is the failure policy in force.
func (s *Store) Policy() string { return s.opts.Policy }

// do runs one round trip within the timeout, and records its outcome:
// latency, errors, health. An error answer counts as no answer: a store
// that refuses the password (WRONGPASS), is loading or read-only cannot
// do regtoken's work either.
func (s *Store) do(f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	defer cancel()
	start := time.Now()
	err := f(ctx)
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	s.Stats.Commands.Add(1)
	if s.observe != nil {
		s.observe(time.Since(start), err)
	}
	if err != nil {
		s.Stats.Errors.Add(1)
		s.health.down(err, s.log)
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	s.health.up(s.log)
	return nil
}

// quiet drops go-redis's own log lines (a line per failed dial, unbounded
// while the store is down); Store logs the store's state itself, at most
// once a minute.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

var quietOnce sync.Once

// errDown answers a login's round trip while the store is known to be
// down: it is not tried (a store that does not answer at all would cost
// each login the whole timeout); the poll notices when it is back.
var errDown = fmt.Errorf("%w: down since the latest round trip; waiting for the poll to reach it", ErrUnavailable)

// login runs a login's round trip, unless the store is known to be down.
func (s *Store) login(f func(ctx context.Context) error) error {
	if h := s.Health(); h.Known && !h.Up {
		return errDown
	}
	return s.do(f)
}

// hash is the store's name for a thing: an HMAC under the shared secret,
// so the store holds no user name, address or password.
func (s *Store) hash(kind string, parts ...[]byte) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(kind))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write(p)
	}
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Health is whether the store answered lately.
type Health struct {
	Known bool // false until the first round trip
	Up    bool
	Error string    // why the latest round trip failed, while down
	Since time.Time // when Up last changed
}

// Health returns what the latest round trips found.
func (s *Store) Health() Health {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	return s.health.h
}

type health struct {
	mu       sync.Mutex
	h        Health
	lastLog  time.Time // the latest line about a store that does not answer
	silenced int       // failures since that line
}

// down records a round trip without an answer. The first after an answer
// is logged at once; while the store stays down, one line a minute says
// how many more failed.
func (h *health) down(err error, log *slog.Logger) {
	now := time.Now()
	h.mu.Lock()
	changed := !h.h.Known || h.h.Up
	if changed {
		h.h.Since = now
	}
	h.h.Known, h.h.Up, h.h.Error = true, false, err.Error()
	logNow := changed || now.Sub(h.lastLog) >= limits.StoreLogEvery
	silenced := h.silenced
	if logNow {
		h.lastLog, h.silenced = now, 0
	} else {
		h.silenced++
	}
	h.mu.Unlock()
	if logNow {
		log.Error("store: no answer; password logins follow the store policy until it answers again",
			"err", err, "failures_since_last_line", silenced)
	}
}

// up records an answer; the first after a failure is logged.
func (h *health) up(log *slog.Logger) {
	h.mu.Lock()
	if h.h.Known && h.h.Up {
		h.mu.Unlock()
		return
	}
	wasDown := h.h.Known
	h.h = Health{Known: true, Up: true, Since: time.Now()}
	h.mu.Unlock()
	if wasDown {
		log.Info("store: answers again")
	}
}
