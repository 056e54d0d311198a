package acl

import (
	"errors"
	"testing"
)

func TestPatternMatch(t *testing.T) {
	for _, tt := range []struct {
		key, user string
		match     []string
		noMatch   []string
		level     int
	}{
		{key: "some-image", match: []string{"some-image"}, noMatch: []string{"some-image/x", "some", "other"}, level: levelExact},
		{key: "*", match: []string{"a", "a/b", "a/b/c"}, noMatch: []string{"", "a/", "/a", "a//b"}, level: levelEvery},
		{key: "team/*", match: []string{"team/a", "team/a-b"}, noMatch: []string{"team", "team/", "team/a/b", "teams/a"}, level: 6},
		{key: "team/**", match: []string{"team/a", "team/a/b/c"}, noMatch: []string{"team", "team/", "team/a//b"}, level: 6},
		{key: "**", match: []string{"a", "a/b"}, noMatch: []string{""}, level: 1},
		{key: "a/**/z", match: []string{"a/b/z", "a/b/c/z", "a/z/z"}, noMatch: []string{"a/z", "a/b/c", "b/x/z"}, level: 3},
		{key: "**/cache", match: []string{"a/cache", "a/b/cache"}, noMatch: []string{"cache", "a/cache/x"}, level: 1},
		{key: "app-*", match: []string{"app-", "app-1", "app-x-y"}, noMatch: []string{"app", "app-1/x"}, level: 5},
		{key: "*-test/*", match: []string{"a-test/x"}, noMatch: []string{"a-test", "a-tests/x", "test/x"}, level: 1},
		{key: "a*b*c", match: []string{"abc", "aXbYc", "abbbc", "acbc"}, noMatch: []string{"ab", "acb", "a/b/c"}, level: 2},
		{key: "${user}/*", user: "alice", match: []string{"alice/app"}, noMatch: []string{"bob/app", "alice"}, level: 7},
		{key: "${user}", user: "alice", match: []string{"alice"}, noMatch: []string{"alice/x"}, level: levelExact},
		{key: "home/${user}/**", user: "bo", match: []string{"home/bo/x"}, noMatch: []string{"home/bob/x"}, level: 9},
		// ${user} never matches without a user, nor for names that would add wildcards or components.
		{key: "${user}/*", user: "", noMatch: []string{"/app", "${user}/app", "a/app"}},
		{key: "${user}/*", user: "*", noMatch: []string{"a/app", "*/app"}},
		{key: "${user}/*", user: "a/b", noMatch: []string{"a/b/app"}},
	} {
		p := compilePattern(tt.key, tt.user)
		if p.kind != neverMatch && p.level != tt.level {
			t.Errorf("%q (user %q): level %d, want %d", tt.key, tt.user, p.level, tt.level)
		}
		for _, name := range tt.match {
			if !p.match(name, wellFormedPath(name)) {
				t.Errorf("%q (user %q) does not match %q", tt.key, tt.user, name)
			}
		}
		for _, name := range tt.noMatch {
			if p.match(name, wellFormedPath(name)) {
				t.Errorf("%q (user %q) matches %q", tt.key, tt.user, name)
			}
		}
	}
}

func TestKeySyntax(t *testing.T) {
	for _, tt := range []struct {
		key         string
		userAllowed bool
		ok          bool
	}{
		{"team/**", true, true}, {"${user}/*", true, true}, {"a/${user}/${user}", true, true},
		{"$user/x", true, true}, // not a variable: a literal that Check reports
		{"${user}/*", false, false}, {"${users}/*", true, false}, {"${user", true, false},
		{"a**", true, false}, {"**b/c", true, false}, {"a/***", true, false},
	} {
		err := checkKeySyntax(tt.key, tt.userAllowed)
		if (err == nil) != tt.ok {
			t.Errorf("checkKeySyntax(%q, %v) = %v, want ok=%v", tt.key, tt.userAllowed, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("checkKeySyntax(%q): %v does not wrap ErrInvalid", tt.key, err)
		}
	}
}

// Matching stays linear: a pattern full of ** against a long name must not
// backtrack exponentially.
func TestPatternNoBlowUp(t *testing.T) {
	p := compilePattern("**/**/**/**/**/**/**/**/x", "")
	name := "a"
	for range 120 {
		name += "/a"
	}
	if p.match(name, true) {
		t.Fatal("matched a name without x")
	}
}
