package authn

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// waitQueued waits until s has n checks waiting.
func waitQueued(t *testing.T, s *slots, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		w := s.waiting()
		s.mu.Unlock()
		if w == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d checks waiting, want %d", w, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A full queue refuses at once instead of piling up goroutines.
func TestSlotsRejectWhenQueueFull(t *testing.T) {
	s := newSlots(1, 1, 10*time.Second)
	s.acquire(context.Background(), place{}) // the only slot is busy
	var queued sync.WaitGroup
	queued.Go(func() { s.acquire(context.Background(), place{}) }) // takes the one queue place
	waitQueued(t, s, 1)
	start := time.Now()
	if err := s.acquire(context.Background(), place{}); !errors.Is(err, errQueueFull) {
		t.Fatalf("acquire with a full queue = %v, want errQueueFull", err)
	}
	if time.Since(start) > time.Second {
		t.Fatal("a full queue should refuse without waiting")
	}
	s.release()
	queued.Wait()
}

func TestSlotsTimeoutAndCancel(t *testing.T) {
	s := newSlots(1, 8, 30*time.Millisecond)
	s.acquire(context.Background(), place{})
	if err := s.acquire(context.Background(), place{}); !errors.Is(err, errQueueFull) {
		t.Fatalf("acquire past the deadline = %v, want errQueueFull", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.acquire(ctx, place{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire with a cancelled context = %v", err)
	}
	s.release()
	if err := s.acquire(context.Background(), place{rank: 1}); err != nil {
		t.Fatalf("after the waiters left, the free slot: %v", err)
	}
	if s.waiting() != 0 || s.free != 0 {
		t.Fatalf("waiting %d, free %d; want 0, 0", s.waiting(), s.free)
	}
}

// Waiting checks get the next slot by rank, lowest first, and in order of
// arrival within a rank.
func TestSlotsServeLowRanksFirst(t *testing.T) {
	s := newSlots(1, 16, 10*time.Second)
	s.acquire(context.Background(), place{rank: 1})
	order := make(chan string, 5)
	var wg sync.WaitGroup
	for i, w := range []struct {
		name string
		rank int
	}{{"guess-5", 5}, {"guess-2a", 2}, {"honest-0", 0}, {"honest-1", 1}, {"guess-2b", 2}} {
		wg.Go(func() {
			if err := s.acquire(context.Background(), place{rank: w.rank}); err != nil {
				t.Errorf("%s: %v", w.name, err)
				return
			}
			order <- w.name
			s.release()
		})
		waitQueued(t, s, i+1)
	}
	s.release()
	wg.Wait()
	close(order)
	var got []string
	for name := range order {
		got = append(got, name)
	}
	if want := []string{"honest-0", "honest-1", "guess-2a", "guess-2b", "guess-5"}; !slices.Equal(got, want) {
		t.Fatalf("slots granted in the order %v, want %v", got, want)
	}
}

// With two slots, checks of rank above 0 take one: the second is kept for
// rank 0, which then starts at once.
func TestSlotsKeepOneForCleanChecks(t *testing.T) {
	s := newSlots(2, 16, 10*time.Second)
	if err := s.acquire(context.Background(), place{rank: 1}); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() { second <- s.acquire(context.Background(), place{rank: 1}) }()
	waitQueued(t, s, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.acquire(ctx, place{}); err != nil {
		t.Fatalf("a rank-0 check beside a running guess: %v, want the kept slot at once", err)
	}
	s.release() // the rank-0 check ends: the kept slot is free again, not for guesses
	select {
	case err := <-second:
		t.Fatalf("a second guess took the slot kept for rank 0 (%v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	s.release() // the first guess ends
	if err := <-second; err != nil {
		t.Fatal(err)
	}
}

// A patient check waits past the timeout until a slot is free, for up to
// four timeouts; another is told the queue is full after one.
func TestSlotsPatientChecksOutwaitTheTimeout(t *testing.T) {
	s := newSlots(1, 8, 100*time.Millisecond)
	s.acquire(context.Background(), place{})
	if err := s.acquire(context.Background(), place{rank: 1}); !errors.Is(err, errQueueFull) {
		t.Fatalf("an impatient check past the timeout: %v, want errQueueFull", err)
	}
	start := time.Now()
	if err := s.acquire(context.Background(), place{rank: 1, patient: true}); !errors.Is(err, errQueueFull) || time.Since(start) < 400*time.Millisecond {
		t.Fatalf("a patient check with no slot free: %v after %s, want errQueueFull after 4 timeouts", err, time.Since(start))
	}
	patient := make(chan error, 1)
	go func() { patient <- s.acquire(context.Background(), place{rank: 1, patient: true}) }()
	time.Sleep(200 * time.Millisecond) // past one timeout
	s.release()
	if err := <-patient; err != nil {
		t.Fatalf("a patient check when the slot came free after two timeouts: %v", err)
	}
}
