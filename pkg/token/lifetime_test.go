package token

import (
	"errors"
	"testing"
	"time"
)

func TestLifetimesFor(t *testing.T) {
	l := Lifetimes{Default: 5 * time.Minute, Push: 30 * time.Minute, Delete: 2 * time.Minute}
	repo := func(actions ...string) ResourceActions {
		return ResourceActions{Type: "repository", Name: "a/b", Actions: actions}
	}
	tests := []struct {
		name   string
		access []ResourceActions
		want   time.Duration
	}{
		{"login", nil, 5 * time.Minute},
		{"nothing granted", []ResourceActions{repo()}, 5 * time.Minute},
		{"pull (default)", []ResourceActions{repo("pull")}, 5 * time.Minute},
		{"push and pull", []ResourceActions{repo("pull", "push")}, 30 * time.Minute},
		{"push beside a mount source's pull", []ResourceActions{repo("pull"), repo("push", "pull")}, 30 * time.Minute},
		{"delete alone", []ResourceActions{repo("delete")}, 2 * time.Minute},
		{"wildcard", []ResourceActions{repo("*")}, 30 * time.Minute},
		{"catalog", []ResourceActions{{Type: "registry", Name: "catalog", Actions: []string{"*"}}}, 5 * time.Minute},
	}
	for _, tt := range tests {
		if got := l.For(tt.access); got != tt.want {
			t.Errorf("%s: lifetime %s, want %s", tt.name, got, tt.want)
		}
	}
	if l.Shortest() != 2*time.Minute || l.Longest() != 30*time.Minute {
		t.Errorf("shortest %s longest %s, want 2m and 30m", l.Shortest(), l.Longest())
	}
	short := Lifetimes{Default: 30 * time.Minute, Pull: 5 * time.Minute, Push: 10 * time.Minute, Delete: 10 * time.Minute}
	if short.Longest() != 30*time.Minute {
		t.Errorf("every action shorter than the default: longest %s, want the default's 30m (a login token lives that long)", short.Longest())
	}
	if one := (Lifetimes{Default: time.Hour}); one.Shortest() != time.Hour || one.Longest() != time.Hour {
		t.Errorf("a single lifetime: shortest %s longest %s", one.Shortest(), one.Longest())
	}
}

func TestValidateLifetime(t *testing.T) {
	for d, ok := range map[time.Duration]bool{time.Minute: true, 24 * time.Hour: true, 59 * time.Second: false, 25 * time.Hour: false} {
		if err := ValidateLifetime(d); (err == nil) != ok || (err != nil && !errors.Is(err, ErrLifetime)) {
			t.Errorf("ValidateLifetime(%s) = %v", d, err)
		}
	}
}
