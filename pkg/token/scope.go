package token

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

var (
	// ErrMalformedScope reports a scope that does not have the shape
	// type[(class)]:name:action[,action]*.
	ErrMalformedScope = errors.New("token: malformed scope")
)

// Scope is one resource a client asks for: "repository:team/app:pull,push".
type Scope struct {
	Type    string   // "repository", "registry", ... (the "(class)" part is dropped)
	Name    string   // may contain host:port, e.g. "localhost:5000/team/app"
	Actions []string // as requested, de-duplicated, order kept
}

// String formats s the way clients send it, "type:name:a,b". A Scope that
// ParseScope accepted parses back to itself (minus the dropped class).
func (s Scope) String() string {
	n := len(s.Type) + len(s.Name) + 2 + len(s.Actions)
	for _, a := range s.Actions {
		n += len(a)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(s.Type)
	b.WriteByte(':')
	b.WriteString(s.Name)
	b.WriteByte(':')
	for i, a := range s.Actions {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(a)
	}
	return b.String()
}

// ParseScope parses one scope. The type is the text up to the first ':', the
// actions the text after the last ':' split on ',', and the name everything
// in between, because a repository name may carry a registry host:port.
//
// The type (and an optional "(class)", which is dropped because distribution
// ignores it) must match [a-z0-9]+, and every action [a-z*]+, as in
// distribution's scope.md. The name may be anything without whitespace, control characters
// or invalid UTF-8, which could not travel in a space-separated scope list
// anyway. It may be empty, and a repository name need not pass
// [ValidRepositoryName]: zot asks "repository::pull" for its catalog, and a
// scope the rules cannot grant is answered with an empty grant rather than
// failing the other scopes of the request, so which names get anything is
// the rules' business, not the parser's. An empty action list
// ("repository:foo:") is allowed and means nothing is requested; empty
// elements between commas are skipped.
func ParseScope(s string) (Scope, error) {
	first := strings.IndexByte(s, ':')
	last := strings.LastIndexByte(s, ':')
	if first < 0 || first == last {
		return Scope{}, fmt.Errorf("%w: want type:name:actions", ErrMalformedScope)
	}
	typ, err := parseResourceType(s[:first])
	if err != nil {
		return Scope{}, err
	}
	name := s[first+1 : last]
	if err := checkResourceName(name); err != nil {
		return Scope{}, err
	}
	var actions actionList
	if err := actions.parse(s[last+1:]); err != nil {
		return Scope{}, err
	}
	return Scope{Type: typ, Name: name, Actions: actions.list}, nil
}

// parseResourceType checks "type" or "type(class)" and returns the type.
func parseResourceType(t string) (string, error) {
	typ, class, hasClass := strings.Cut(t, "(")
	if hasClass {
		var ok bool
		if class, ok = strings.CutSuffix(class, ")"); !ok || !isResourceTypeValue(class) {
			return "", fmt.Errorf("%w: bad resource class", ErrMalformedScope)
		}
	}
	if !isResourceTypeValue(typ) {
		return "", fmt.Errorf("%w: bad resource type", ErrMalformedScope)
	}
	return typ, nil
}

// isResourceTypeValue reports whether v matches /[a-z0-9]+/.
func isResourceTypeValue(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !isLowerAlnum(v[i]) {
			return false
		}
	}
	return true
}

// checkResourceName rejects names that could not have come from a scope
// list (whitespace) or that would make audit lines and errors ambiguous.
func checkResourceName(name string) error {
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: resource name is not UTF-8", ErrMalformedScope)
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("%w: space or control character in resource name", ErrMalformedScope)
		}
	}
	return nil
}

// isAction reports whether a matches /[a-z*]+/.
func isAction(a string) bool {
	if a == "" {
		return false
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; (c < 'a' || c > 'z') && c != '*' {
			return false
		}
	}
	return true
}

// parse adds the comma-separated actions of list, skipping empty elements.
func (l *actionList) parse(list string) error {
	if list == "" {
		return nil
	}
	if l.list == nil {
		l.list = make([]string, 0, min(strings.Count(list, ",")+1, smallSetLimit))
	}
	for a := range strings.SplitSeq(list, ",") {
		if a == "" {
			continue
		}
		if !isAction(a) {
			return fmt.Errorf("%w: bad action", ErrMalformedScope)
		}
		l.add(a)
	}
	return nil
}

// actionList is an ordered set of actions. Real requests carry one to three
// actions, where a linear scan beats a map; the map only appears for junk
// with many distinct actions, so that such input cannot cost quadratic time.
type actionList struct {
	list  []string
	index map[string]struct{}
}

// smallSetLimit is the size above which the ordered sets in this file build
// a map index instead of scanning.
const smallSetLimit = 8

func (l *actionList) has(a string) bool {
	if l.index != nil {
		_, ok := l.index[a]
		return ok
	}
	for _, x := range l.list {
		if x == a {
			return true
		}
	}
	return false
}

func (l *actionList) add(a string) {
	if l.has(a) {
		return
	}
	l.list = append(l.list, a)
	switch {
	case l.index != nil:
		l.index[a] = struct{}{}
	case len(l.list) > smallSetLimit:
		l.index = make(map[string]struct{}, 2*len(l.list))
		for _, x := range l.list {
			l.index[x] = struct{}{}
		}
	}
}
