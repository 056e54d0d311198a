package authn

import (
	"context"
	"slices"
	"sync"
	"time"
)

// slots admits bcrypt checks: at most n run at once, and up to maxQueue
// more wait, each for at most a timeout. Waiting checks are served in two
// classes, each first come, first served: clean ones (from clients without
// failed logins, see throttle.Pass.Clean) before all others. With more
// than one slot, the others never take the last free one, so a clean
// check starts at once even while guesses fill the rest: a flood of wrong
// passwords slows down other guesses, not honest logins.
//
// A buffered channel would be simpler, but has no order but its own.
type slots struct {
	mu       sync.Mutex
	free     int
	reserved int // free slots only clean checks may take
	queues   [2][]*slotWaiter
	maxQueue int
	timeout  time.Duration
}

// Queue classes.
const (
	cleanClass = iota
	otherClass
)

type slotWaiter struct {
	ready   chan struct{} // closed when granted
	granted bool          // under slots.mu
}

func newSlots(n, maxQueue int, timeout time.Duration) *slots {
	s := &slots{free: n, maxQueue: maxQueue, timeout: timeout}
	if n > 1 {
		s.reserved = 1
	}
	return s
}

// acquire takes a slot, waiting in clean's class. It returns errQueueFull
// when maxQueue checks wait already or the wait exceeds the timeout, and
// ctx's error when ctx ends first.
func (s *slots) acquire(ctx context.Context, clean bool) error {
	class := otherClass
	if clean {
		class = cleanClass
	}
	s.mu.Lock()
	if s.takes(class) {
		s.free--
		s.mu.Unlock()
		return nil
	}
	if s.waiting() >= s.maxQueue {
		s.mu.Unlock()
		return errQueueFull
	}
	w := &slotWaiter{ready: make(chan struct{})}
	s.queues[class] = append(s.queues[class], w)
	s.mu.Unlock()

	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	select {
	case <-w.ready:
		return nil
	case <-timer.C:
		return s.leave(class, w, errQueueFull)
	case <-ctx.Done():
		return s.leave(class, w, ctx.Err())
	}
}

// takes reports whether a check of class may take a free slot now.
func (s *slots) takes(class int) bool {
	return s.free > s.reserved || (class == cleanClass && s.free > 0)
}

func (s *slots) waiting() int { return len(s.queues[cleanClass]) + len(s.queues[otherClass]) }

// leave gives up waiting; a slot granted in the meantime is handed on.
func (s *slots) leave(class int, w *slotWaiter, err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.granted {
		s.free++
		s.handOn()
		return err
	}
	q := s.queues[class]
	if i := slices.Index(q, w); i >= 0 {
		s.queues[class] = slices.Delete(q, i, i+1)
	}
	return err
}

// release returns a slot.
func (s *slots) release() {
	s.mu.Lock()
	s.free++
	s.handOn()
	s.mu.Unlock()
}

// handOn grants free slots to waiting checks, clean ones first (s.mu held).
func (s *slots) handOn() {
	for _, class := range []int{cleanClass, otherClass} {
		for len(s.queues[class]) > 0 && s.takes(class) {
			w := s.queues[class][0]
			s.queues[class] = slices.Delete(s.queues[class], 0, 1)
			s.free--
			w.granted = true
			close(w.ready)
		}
	}
}
