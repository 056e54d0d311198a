package throttle

import (
	"context"
	"time"
)

// Hold keeps a refused request for a while before its 429 goes out: for
// wait (what Check returned), but no longer than Policy.Tarpit. It returns
// at once when ctx ends, when the tarpit is off, or when Policy.TarpitSlots
// requests are held already.
//
// Why: a password-guessing tool, like a load generator, runs a fixed number
// of attempts in parallel and sends the next as soon as an answer arrives.
// Answered at once, a throttled guesser sends 429-bound requests as fast as
// the machine answers them and crowds out honest clients; held for a second,
// 64 of them send 64 requests a second. The bound on held requests keeps an
// attacker who does not wait for answers from turning the tarpit into a pile
// of open connections: past it, refusals are answered at once, as without a
// tarpit.
func (l *Limiter) Hold(ctx context.Context, wait time.Duration) {
	if l == nil || l.slots == nil || wait <= 0 {
		return
	}
	select {
	case l.slots <- struct{}{}:
	default:
		l.Stats.TarpitFull.Add(1)
		return
	}
	defer func() { <-l.slots }()
	l.Stats.TarpitHeld.Add(1)
	t := time.NewTimer(min(wait, l.policy.Tarpit))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
