package authn

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// slots admits bcrypt checks: at most n run at once, and up to maxQueue
// more wait, each for at most a timeout, or patientFactor times as long
// when it is patient (a client without failed logins is better served late
// than told to retry, but a burst from a fresh address must not pile up
// for the whole request timeout). Waiting checks are served by
// rank, lowest first, and in order of arrival within a rank: the rank is
// how suspect the client is (throttle.Pass.Rank), so honest first logins
// go before a burst of guesses and guesses from addresses that failed
// before go last. With more than one slot, checks of rank above 0 never
// take the last free one, so a check of rank 0 starts at once even while
// guesses fill the rest: a flood of wrong passwords slows down other
// guesses, not honest logins.
//
// A buffered channel would be simpler, but has no order but its own.
type slots struct {
	mu       sync.Mutex
	free     int
	reserved int // free slots only rank 0 may take
	queue    waiters
	arrivals uint64
	maxQueue int
	timeout  time.Duration
}

// patientFactor stretches the queue timeout for patient checks: 20 s with
// the default 5 s, inside the default 30 s request timeout.
const patientFactor = 4

type slotWaiter struct {
	rank    int
	arrival uint64
	index   int           // in the heap; -1 once granted
	ready   chan struct{} // closed when granted
}

func newSlots(n, maxQueue int, timeout time.Duration) *slots {
	s := &slots{free: n, maxQueue: maxQueue, timeout: timeout}
	if n > 1 {
		s.reserved = 1
	}
	return s
}

// acquire takes a slot for a check waiting at at. It returns errQueueFull
// when maxQueue checks wait already or the wait exceeds its timeout, and
// ctx's error when ctx ends first.
func (s *slots) acquire(ctx context.Context, at place) error {
	rank := at.rank
	s.mu.Lock()
	if s.queue.Len() == 0 && s.takes(rank) {
		s.free--
		s.mu.Unlock()
		return nil
	}
	if s.queue.Len() >= s.maxQueue {
		s.mu.Unlock()
		return errQueueFull
	}
	s.arrivals++
	w := &slotWaiter{rank: rank, arrival: s.arrivals, ready: make(chan struct{})}
	heap.Push(&s.queue, w)
	s.handOn() // a higher rank may wait while this one could start
	s.mu.Unlock()

	timeout := s.timeout
	if at.patient {
		timeout *= patientFactor
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-w.ready:
		return nil
	case <-timer.C:
		return s.leave(w, errQueueFull)
	case <-ctx.Done():
		return s.leave(w, ctx.Err())
	}
}

// takes reports whether a check of rank may take a free slot now.
func (s *slots) takes(rank int) bool {
	return s.free > s.reserved || (rank == 0 && s.free > 0)
}

func (s *slots) waiting() int { return s.queue.Len() }

// leave gives up waiting; a slot granted in the meantime is handed on.
func (s *slots) leave(w *slotWaiter, err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.index < 0 {
		s.free++
		s.handOn()
		return err
	}
	heap.Remove(&s.queue, w.index)
	return err
}

// release returns a slot.
func (s *slots) release() {
	s.mu.Lock()
	s.free++
	s.handOn()
	s.mu.Unlock()
}

// handOn grants free slots to the waiting checks of lowest rank (s.mu
// held). When the lowest rank may not take the slot kept for rank 0,
// nobody else may either.
func (s *slots) handOn() {
	for s.queue.Len() > 0 && s.takes(s.queue[0].rank) {
		w := heap.Pop(&s.queue).(*slotWaiter)
		s.free--
		close(w.ready)
	}
}

// waiters is a heap of waiting checks, lowest rank, then earliest, first.
type waiters []*slotWaiter

func (q waiters) Len() int { return len(q) }
func (q waiters) Less(i, j int) bool {
	if q[i].rank != q[j].rank {
		return q[i].rank < q[j].rank
	}
	return q[i].arrival < q[j].arrival
}
func (q waiters) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *waiters) Push(x any) {
	w := x.(*slotWaiter)
	w.index = len(*q)
	*q = append(*q, w)
}
func (q *waiters) Pop() any {
	old := *q
	w := old[len(old)-1]
	old[len(old)-1] = nil
	w.index = -1
	*q = old[:len(old)-1]
	return w
}
