package acl

import "strings"

// actionSet is a bit set of the actions a rule allows. A bit set keeps
// Decide free of allocations: unions and tests are single instructions.
type actionSet uint8

const (
	actPull actionSet = 1 << iota
	actPush
	actDelete
	actAll // "*": every action, also ones this package does not know
)

// concreteActions are the actions registries check one by one, in the order
// a grant lists them when a requested "*" is expanded.
var concreteActions = [...]struct {
	name string
	bit  actionSet
}{{"pull", actPull}, {"push", actPush}, {"delete", actDelete}}

// parseAction maps an action name from a rule file to its bit.
func parseAction(name string) (actionSet, bool) {
	if name == "*" {
		return actAll, true
	}
	for _, a := range concreteActions {
		if a.name == name {
			return a.bit, true
		}
	}
	return 0, false
}

// allows reports whether a requested action is in the set.
func (s actionSet) allows(action string) bool {
	if s&actAll != 0 {
		return true
	}
	bit, ok := parseAction(action)
	return ok && bit != actAll && s&bit != 0
}

// names lists the set the way rule files spell it.
func (s actionSet) names() []string {
	if s&actAll != 0 {
		return []string{"*"}
	}
	out := []string{}
	for _, a := range concreteActions {
		if s&a.bit != 0 {
			out = append(out, a.name)
		}
	}
	return out
}

func (s actionSet) String() string { return strings.Join(s.names(), ",") }

// grant intersects the requested actions with the allowed set: in the
// requested order, without duplicates or empty names. A requested "*"
// becomes the concrete allowed actions, followed by "*" itself when that is
// allowed: distribution takes "*" for any action, but zot matches actions
// literally and knows no wildcard, so a grant of "*" alone would let
// nothing through there. It allocates only the result.
func (s actionSet) grant(requested []string) []string {
	out := make([]string, 0, len(requested)+len(concreteActions))
	add := func(a string) {
		for _, have := range out {
			if have == a {
				return
			}
		}
		out = append(out, a)
	}
	for _, a := range requested {
		switch {
		case a == "":
		case a == "*":
			for _, c := range concreteActions {
				if s.allows(c.name) {
					add(c.name)
				}
			}
			if s&actAll != 0 {
				add("*")
			}
		case s.allows(a):
			add(a)
		}
	}
	return out
}
