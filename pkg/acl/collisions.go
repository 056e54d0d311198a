package acl

import (
	"fmt"
	"strings"
)

// A key with ${user} gives every user a namespace of its own: with a group
// rule "${user}/*": ["*"], user dave may push to dave/app. When a user's
// name is also a namespace that other rules name literally ("team-a/app":
// ["pull"] for the team's members), the user named team-a gets push and
// delete on the team's repositories, and nothing in the files says so.
// checkUserNamespaces finds these collisions for Check.

// namespaceRef is a key that names a namespace literally.
type namespaceRef struct {
	file, owner, key string
	line             int
}

// namespaces indexes literal keys (those without ${user}) by each path
// prefix they name before any wildcard: "team-a/app" and "team-a/*" both
// name "team-a"; "team-a/app" names "team-a/app" too.
type namespaces map[string][]namespaceRef

func (ns namespaces) add(ref namespaceRef) {
	if strings.Contains(ref.key, userVar) {
		return
	}
	parts := strings.Split(ref.key, "/")
	for i := range parts {
		if strings.Contains(parts[i], "*") {
			return
		}
		prefix := strings.Join(parts[:i+1], "/")
		ns[prefix] = append(ns[prefix], ref)
	}
}

// literalNamespaces indexes every literal key of every user, group and the
// public list.
func (r *Rules) literalNamespaces() namespaces {
	ns := namespaces{}
	for _, u := range r.src.users {
		for _, e := range u.rules {
			ns.add(namespaceRef{file: r.files.Users, owner: "user " + u.name, key: e.key, line: e.line})
		}
	}
	for _, name := range r.src.groupOrder {
		for _, e := range r.src.groups[name].rules {
			ns.add(namespaceRef{file: r.files.Groups, owner: "group " + name, key: e.key, line: e.line})
		}
	}
	for _, e := range r.src.public.entries {
		ns.add(namespaceRef{file: r.files.Repositories, owner: "the public list", key: e.key, line: e.line})
	}
	return ns
}

// userNamespace is the namespace key gives user: its components before the
// first wildcard, ${user} replaced, provided one of them holds ${user}
// ("${user}/*" gives "dave", "home/${user}/**" gives "home/dave").
func userNamespace(key, user string) (string, bool) {
	var lead []string
	for _, part := range strings.Split(key, "/") {
		if strings.Contains(part, "*") {
			break
		}
		lead = append(lead, part)
	}
	prefix := strings.Join(lead, "/")
	if !strings.Contains(prefix, userVar) {
		return "", false
	}
	return strings.ReplaceAll(prefix, userVar, user), true
}

// checkUserNamespaces reports each user whose ${user} namespace, from its
// own keys or its groups', is a namespace that someone else's literal key
// names.
func (r *Rules) checkUserNamespaces() []Problem {
	var ns namespaces
	var problems []Problem
	for _, u := range r.src.users {
		for _, src := range r.userVarSources(u) {
			for _, e := range src.rules {
				name, ok := userNamespace(e.key, u.name)
				if !ok {
					continue
				}
				if ns == nil {
					ns = r.literalNamespaces()
				}
				if p, found := collision(ns[name], u, src.owner, e, name); found {
					problems = append(problems, Problem{File: r.files.Users, Key: u.name, Message: p})
				}
			}
		}
	}
	return problems
}

// ruleSource is a user's own keys or one of its groups' keys.
type ruleSource struct {
	owner string
	rules []ruleEntry
}

// userVarSources are u's own keys and those of its known groups.
func (r *Rules) userVarSources(u userEntry) []ruleSource {
	out := []ruleSource{{owner: "its own key", rules: u.rules}}
	for _, g := range u.groups {
		if ge, ok := r.src.groups[g]; ok {
			out = append(out, ruleSource{owner: "group " + g, rules: ge.rules})
		}
	}
	return out
}

// collision describes the first of refs that is not u's own key.
func collision(refs []namespaceRef, u userEntry, owner string, e ruleEntry, name string) (string, bool) {
	for _, ref := range refs {
		if ref.owner == "user "+u.name {
			continue
		}
		return fmt.Sprintf("line %d: user %q gets [%s] on %q through %q (%s), a namespace that %s names literally (%q, %s line %d); "+
			"rename the user or the namespace, or check that %q should own it",
			u.line, u.name, e.actions, name+"/...", e.key, owner, ref.owner, ref.key, ref.file, ref.line, u.name), true
	}
	return "", false
}
