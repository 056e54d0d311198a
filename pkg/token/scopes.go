package token

import (
	"fmt"
	"strings"
)

// ParseScopes parses the raw values of every `scope` parameter of a token
// request. Each value may hold several scopes separated by spaces (ggcr
// appends a whole challenge scope as one value); empty strings and repeated
// spaces are ignored (zot challenges with scope=""). Scopes naming the same
// type and name are merged into one, with the union of their actions, in the
// order first seen; the class of "repository(plugin)" plays no part, as in
// distribution's access check.
//
// On junk (text that is not type:name:actions at all) it returns the first
// error, wrapped with the offending scope text (clipped), so that errors.Is
// still finds ErrMalformedScope. Well-formed scopes for resources nobody can
// be granted (an invalid repository name, an unknown type) are returned like
// any other: the rules grant them nothing. It returns nil and no error when
// no scope was asked for.
func ParseScopes(values []string) ([]Scope, error) {
	var m scopeMerger
	for _, v := range values {
		for text := range strings.SplitSeq(v, " ") {
			if text == "" {
				continue
			}
			s, err := ParseScope(text)
			if err != nil {
				return nil, fmt.Errorf("scope %q: %w", clip(text), err)
			}
			m.add(s)
		}
	}
	return m.result(), nil
}

// scopeMerger collects scopes, merging those for the same resource. Like
// actionList it scans linearly while small and builds maps only for junk:
// index finds a resource, actionIndex[i] the actions of scopes[i] once they
// outgrow smallSetLimit.
type scopeMerger struct {
	scopes      []Scope
	index       map[resourceKey]int
	actionIndex map[int]map[string]struct{}
}

type resourceKey struct{ typ, name string }

func (m *scopeMerger) find(typ, name string) (int, bool) {
	if m.index != nil {
		i, ok := m.index[resourceKey{typ, name}]
		return i, ok
	}
	for i, s := range m.scopes {
		if s.Type == typ && s.Name == name {
			return i, true
		}
	}
	return 0, false
}

func (m *scopeMerger) add(s Scope) {
	if i, ok := m.find(s.Type, s.Name); ok {
		m.mergeActions(i, s.Actions)
		return
	}
	if m.scopes == nil {
		m.scopes = make([]Scope, 0, 4)
	}
	m.scopes = append(m.scopes, s)
	switch {
	case m.index != nil:
		m.index[resourceKey{s.Type, s.Name}] = len(m.scopes) - 1
	case len(m.scopes) > smallSetLimit:
		m.index = make(map[resourceKey]int, 2*len(m.scopes))
		for i, x := range m.scopes {
			m.index[resourceKey{x.Type, x.Name}] = i
		}
	}
}

// mergeActions adds actions to those of scopes[i], keeping their order.
func (m *scopeMerger) mergeActions(i int, actions []string) {
	l := actionList{list: m.scopes[i].Actions, index: m.actionIndex[i]}
	if l.index == nil && len(l.list) > smallSetLimit {
		l.index = make(map[string]struct{}, 2*len(l.list))
		for _, a := range l.list {
			l.index[a] = struct{}{}
		}
	}
	for _, a := range actions {
		l.add(a)
	}
	m.scopes[i].Actions = l.list
	if l.index != nil {
		if m.actionIndex == nil {
			m.actionIndex = make(map[int]map[string]struct{})
		}
		m.actionIndex[i] = l.index
	}
}

// result hands out the merged scopes.
func (m *scopeMerger) result() []Scope { return m.scopes }

// clip shortens scope text quoted in errors, which may end up in logs: the
// text comes from the client and can be arbitrarily long.
func clip(s string) string {
	const limit = 128
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}
