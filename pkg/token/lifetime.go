package token

import (
	"errors"
	"fmt"
	"time"
)

// Bounds of a token lifetime: clients treat less than 60 s as 60 s, and a
// day is longer than any push needs.
const (
	MinLifetime = time.Minute
	MaxLifetime = 24 * time.Hour
)

// ErrLifetime reports a lifetime outside MinLifetime..MaxLifetime.
var ErrLifetime = errors.New("token: lifetime out of range")

// Lifetimes are access-token lifetimes by the actions a token grants, so
// that a push of a large image can outlive a pull token's lifetime without
// every pull token living as long. A token lives as long as the longest of
// the lifetimes of the actions it grants: the shortest lifetime that still
// covers everything it was granted. Default applies to actions without a
// lifetime of their own and to tokens that grant nothing (a login).
type Lifetimes struct {
	Default time.Duration
	// Pull, Push and Delete are the repository actions' lifetimes; zero
	// means Default. A granted "*" counts as all three.
	Pull, Push, Delete time.Duration
}

// Of returns the lifetime of action (Default for one without its own).
func (l Lifetimes) Of(action string) time.Duration {
	var d time.Duration
	switch action {
	case "pull":
		d = l.Pull
	case "push":
		d = l.Push
	case "delete":
		d = l.Delete
	case "*":
		return max(l.Of("pull"), l.Of("push"), l.Of("delete"))
	}
	if d == 0 {
		return l.Default
	}
	return d
}

// For returns the lifetime of a token granting access: the longest
// lifetime of the repository actions it grants, at least Default when it
// grants something else (the catalog) or nothing.
func (l Lifetimes) For(access []ResourceActions) time.Duration {
	var d time.Duration
	for _, a := range access {
		for _, action := range a.Actions {
			if a.Type != "repository" {
				action = ""
			}
			d = max(d, l.Of(action))
		}
	}
	if d == 0 {
		return l.Default
	}
	return d
}

// Shortest returns the shortest lifetime a token may get.
func (l Lifetimes) Shortest() time.Duration {
	return min(l.Default, l.Of("pull"), l.Of("push"), l.Of("delete"))
}

// Longest returns the longest lifetime a token may get: how long a token
// signed by a key that stopped signing may still be presented. Default
// counts too: logins and catalog tokens get it even when every action's
// own lifetime is shorter.
func (l Lifetimes) Longest() time.Duration { return max(l.Default, l.Of("*")) }

// ValidateLifetime checks one lifetime: MinLifetime..MaxLifetime.
func ValidateLifetime(d time.Duration) error {
	if d < MinLifetime || d > MaxLifetime {
		return fmt.Errorf("%w: %s is outside %s..%s (clients treat less than 60s as 60s)", ErrLifetime, d, MinLifetime, MaxLifetime)
	}
	return nil
}
