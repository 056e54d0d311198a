package throttle

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"time"
)

// Default policy values, used for zero fields of a Policy.
const (
	DefaultPairThreshold    = 5
	DefaultAddressThreshold = 50
	DefaultAddressInFlight  = 16
	DefaultBaseDelay        = time.Second
	DefaultMaxDelay         = 15 * time.Minute
	DefaultDecay            = 15 * time.Minute
	DefaultMaxEntries       = 50_000
	DefaultTarpit           = time.Second
	DefaultTarpitSlots      = 256
)

// ErrInvalidPolicy is wrapped by the errors Policy.Validate returns.
var ErrInvalidPolicy = errors.New("throttle: invalid policy")

// Policy says when failed logins start to cost time, and how many password
// checks may be in flight. Zero fields take the defaults above; a negative
// threshold turns that kind of key off.
type Policy struct {
	// PairThreshold is the number of failures of one user from one address
	// after which that pair waits.
	PairThreshold int
	// AddressThreshold is the number of failures from one address, whatever
	// the users, after which the address waits.
	AddressThreshold int
	// AddressInFlight bounds the password checks of one address that run
	// (or wait for bcrypt) at once, whatever the users; a negative value
	// turns the bound off. One (user, address) pair never has more than
	// one at a time.
	AddressInFlight int
	// BaseDelay is the first wait; each further failure doubles it.
	BaseDelay time.Duration
	// MaxDelay caps the wait.
	MaxDelay time.Duration
	// Decay is the half-life of a failure count while its key is not blocked.
	Decay time.Duration
	// MaxEntries bounds each of the two tables ((user, address) pairs and
	// addresses).
	MaxEntries int
	// Tarpit is the longest time Hold keeps a refused request before its
	// answer goes out.
	Tarpit time.Duration
	// TarpitSlots bounds how many requests Hold keeps at once; a negative
	// value turns the tarpit off.
	TarpitSlots int
}

// Validate reports fields that New would have to correct: negative
// durations, a MaxDelay below BaseDelay, a negative MaxEntries.
func (p Policy) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidPolicy}, args...)...))
	}
	if p.BaseDelay < 0 {
		bad("base delay %s is negative", p.BaseDelay)
	}
	if p.MaxDelay < 0 {
		bad("max delay %s is negative", p.MaxDelay)
	}
	if p.Decay < 0 {
		bad("decay %s is negative", p.Decay)
	}
	if p.MaxEntries < 0 {
		bad("max entries %d is negative", p.MaxEntries)
	}
	if p.Tarpit < 0 {
		bad("tarpit %s is negative", p.Tarpit)
	}
	base, maxDelay := cmp.Or(p.BaseDelay, DefaultBaseDelay), cmp.Or(p.MaxDelay, DefaultMaxDelay)
	if base > 0 && maxDelay > 0 && maxDelay < base {
		bad("max delay %s is below the base delay %s", maxDelay, base)
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields and corrects what Validate would report, so
// a Limiter always runs with a usable policy.
func (p Policy) withDefaults() Policy {
	if p.PairThreshold == 0 {
		p.PairThreshold = DefaultPairThreshold
	}
	if p.AddressThreshold == 0 {
		p.AddressThreshold = DefaultAddressThreshold
	}
	if p.AddressInFlight == 0 {
		p.AddressInFlight = DefaultAddressInFlight
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if p.MaxDelay < p.BaseDelay {
		p.MaxDelay = p.BaseDelay
	}
	if p.Decay <= 0 {
		p.Decay = DefaultDecay
	}
	if p.MaxEntries <= 0 {
		p.MaxEntries = DefaultMaxEntries
	}
	if p.Tarpit <= 0 {
		p.Tarpit = DefaultTarpit
	}
	if p.TarpitSlots == 0 {
		p.TarpitSlots = DefaultTarpitSlots
	}
	return p
}

// delay is how long a key with count failures (count >= threshold) waits:
// BaseDelay doubled once per whole failure past the threshold, capped.
func (p *Policy) delay(count float64, threshold int) time.Duration {
	steps := math.Floor(count+countSlack) - float64(threshold)
	d := p.BaseDelay
	for i := 0.0; i < steps && d < p.MaxDelay; i++ {
		d *= 2
	}
	return min(d, p.MaxDelay)
}

// RetryAfter is wait in whole seconds, rounded up, as the Retry-After header
// wants it; at least 1 for any positive wait, 0 for none.
func RetryAfter(wait time.Duration) int {
	if wait <= 0 {
		return 0
	}
	return int((wait + time.Second - 1) / time.Second)
}
