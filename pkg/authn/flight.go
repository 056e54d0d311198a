package authn

import (
	"context"
	"sync"
)

// flights lets concurrent checks of the same credentials share one bcrypt
// comparison. Without it, a CI fleet starting a hundred jobs with the same
// password runs a hundred comparisons before the first one fills the cache,
// and a client retrying a wrong password while the first try is checked
// gets a second comparison and a second failure counted: the cache and the
// memory of refused passwords are checked, then filled, with a gap in
// between. Keys are the cache's (user, stored hash, password).
type flights struct {
	mu sync.Mutex
	m  map[[32]byte]*flight
}

// flight is one comparison in progress, and then its outcome.
type flight struct {
	done chan struct{} // closed when res and err are set
	res  checkResult
	err  error
}

func newFlights() *flights { return &flights{m: map[[32]byte]*flight{}} }

// join returns the flight for key, and whether the caller leads it: a
// leader runs the check and must finish the flight; the others wait.
func (fs *flights) join(key [32]byte) (*flight, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[key]; ok {
		return f, false
	}
	f := &flight{done: make(chan struct{})}
	fs.m[key] = f
	return f, true
}

// finish ends the leader's flight with its outcome.
func (fs *flights) finish(key [32]byte, f *flight, res checkResult, err error) {
	f.res, f.err = res, err
	fs.mu.Lock()
	delete(fs.m, key)
	fs.mu.Unlock()
	close(f.done)
}

// wait waits for the leader and returns what it found: a result, or the
// error that left it without one. A context that ends first is waited's
// error.
func (f *flight) wait(ctx context.Context) (res checkResult, leaderErr, waited error) {
	select {
	case <-f.done:
		return f.res, f.err, nil
	case <-ctx.Done():
		return wrongPassword, nil, ctx.Err()
	}
}
