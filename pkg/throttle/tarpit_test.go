package throttle

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Hold keeps a refusal for the shorter of the wait and the tarpit.
func TestHoldWaitsTheShorterOfWaitAndTarpit(t *testing.T) {
	l := New(Policy{Tarpit: 80 * time.Millisecond})
	for _, c := range []struct{ wait, atLeast time.Duration }{
		{time.Hour, 80 * time.Millisecond},
		{30 * time.Millisecond, 30 * time.Millisecond},
	} {
		start := time.Now()
		l.Hold(context.Background(), c.wait)
		took := time.Since(start)
		if took < c.atLeast || took > 10*time.Second {
			t.Errorf("Hold(wait %s) took %s, want about %s", c.wait, took, c.atLeast)
		}
	}
	if l.Stats.TarpitHeld.Load() != 2 {
		t.Errorf("held %d, want 2", l.Stats.TarpitHeld.Load())
	}
}

// With every slot taken, further refusals are answered at once: the tarpit
// cannot be turned into a pile of open connections.
func TestHoldIsBounded(t *testing.T) {
	l := New(Policy{Tarpit: time.Hour, TarpitSlots: 2})
	ctx, cancel := context.WithCancel(context.Background())
	var held sync.WaitGroup
	for range 2 {
		held.Go(func() { l.Hold(ctx, time.Hour) })
	}
	for l.Stats.TarpitHeld.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan struct{})
	go func() { l.Hold(context.Background(), time.Hour); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a third refusal was held although both slots were taken")
	}
	if l.Stats.TarpitFull.Load() != 1 {
		t.Errorf("full %d, want 1", l.Stats.TarpitFull.Load())
	}
	cancel() // a request that goes away is let go at once
	held.Wait()
}

// A negative TarpitSlots turns the tarpit off; so does a nil Limiter.
func TestHoldOff(t *testing.T) {
	var none *Limiter
	none.Hold(context.Background(), time.Hour)
	l := New(Policy{TarpitSlots: -1, Tarpit: time.Hour})
	l.Hold(context.Background(), time.Hour)
	if l.Stats.TarpitHeld.Load() != 0 || l.Stats.TarpitFull.Load() != 0 {
		t.Error("a Limiter without tarpit counted a hold")
	}
}
