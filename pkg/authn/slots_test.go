package authn

import (
	"context"
	"errors"
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
	s.acquire(context.Background(), true) // the only slot is busy
	var queued sync.WaitGroup
	queued.Go(func() { s.acquire(context.Background(), true) }) // takes the one queue place
	waitQueued(t, s, 1)
	start := time.Now()
	if err := s.acquire(context.Background(), true); !errors.Is(err, errQueueFull) {
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
	s.acquire(context.Background(), true)
	if err := s.acquire(context.Background(), true); !errors.Is(err, errQueueFull) {
		t.Fatalf("acquire past the deadline = %v, want errQueueFull", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.acquire(ctx, true); !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire with a cancelled context = %v", err)
	}
	s.release()
	if err := s.acquire(context.Background(), false); err != nil {
		t.Fatalf("after the waiters left, the free slot: %v", err)
	}
	if s.waiting() != 0 || s.free != 0 {
		t.Fatalf("waiting %d, free %d; want 0, 0", s.waiting(), s.free)
	}
}

// Waiting clean checks get the next slot before others that waited longer;
// within a class, first come, first served.
func TestSlotsServeCleanChecksFirst(t *testing.T) {
	s := newSlots(1, 16, 10*time.Second)
	s.acquire(context.Background(), false)
	order := make(chan string, 4)
	var wg sync.WaitGroup
	for i, name := range []string{"guess-1", "guess-2", "honest-1", "honest-2"} {
		wg.Go(func() {
			if err := s.acquire(context.Background(), name[0] == 'h'); err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			order <- name
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
	want := []string{"honest-1", "honest-2", "guess-1", "guess-2"}
	if len(got) != 4 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Fatalf("slots granted in the order %v, want %v", got, want)
	}
}

// With two slots, other checks take one: the second is kept for a clean
// check, which then starts at once.
func TestSlotsKeepOneForCleanChecks(t *testing.T) {
	s := newSlots(2, 16, 10*time.Second)
	if err := s.acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	second := make(chan error, 1)
	go func() { second <- s.acquire(context.Background(), false) }()
	waitQueued(t, s, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.acquire(ctx, true); err != nil {
		t.Fatalf("a clean check beside a running guess: %v, want the kept slot at once", err)
	}
	s.release() // the clean check ends: the kept slot is free again, not for guesses
	select {
	case err := <-second:
		t.Fatalf("a second guess took the slot kept for clean checks (%v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	s.release() // the first guess ends
	if err := <-second; err != nil {
		t.Fatal(err)
	}
}
