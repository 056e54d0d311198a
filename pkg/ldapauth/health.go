package ldapauth

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Health is whether the directory answered lately.
type Health struct {
	// Known is false until the directory has been asked anything.
	Known bool
	// Reachable: the latest operation got an answer (a refusal counts).
	Reachable bool
	// Error is why the latest operation got none, while unreachable.
	Error string
	// Since is when Reachable last changed; Checked, when it was last seen.
	Since, Checked time.Time
}

type health struct {
	mu sync.Mutex
	h  Health
}

// Health returns what the latest operations found.
func (d *Directory) Health() Health {
	d.health.mu.Lock()
	defer d.health.mu.Unlock()
	return d.health.h
}

// observe records the outcome of an operation: an answer, even a refusal,
// means the directory is reachable; any other failure, that it is not. A
// change is logged once, not at every login. A context that ended, or a
// login that found every pooled connection busy, says nothing about the
// directory.
func (d *Directory) observe(err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errBusy) {
		return
	}
	reachable := err == nil || refusal(err) || errors.Is(err, errTooManyGroups)
	now := time.Now()
	d.health.mu.Lock()
	h := &d.health.h
	wasKnown, changed := h.Known, !h.Known || h.Reachable != reachable
	if changed {
		h.Since = now
	}
	h.Known, h.Reachable, h.Checked, h.Error = true, reachable, now, ""
	if !reachable {
		h.Error = err.Error()
	}
	d.health.mu.Unlock()
	switch {
	case changed && !reachable:
		d.log.Error("ldap: the directory is unreachable: logins it has not vouched for within ldap.cache_lifetime get 503", "err", err)
	case changed && wasKnown:
		d.log.Info("ldap: the directory answers again")
	}
}
