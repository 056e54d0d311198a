package acl

import (
	"fmt"
	"strings"

	"github.com/regtoken/regtoken/pkg/token"
)

// Problem is something in the rule files that loads but is probably not
// what the operator meant. Messages start with "line N:" when the line is
// known, and never contain a password hash.
type Problem struct {
	File, Key, Message string
}

func (p Problem) String() string { return fmt.Sprintf("%s: %q: %s", p.File, p.Key, p.Message) }

// Check reports, for `regtoken check`: duplicate and unknown keys; users
// without a usable bcrypt hash (without any, only when no directory holds
// passwords: see Files.DirectoryUsers); groups that users name but nobody defines;
// keys that cannot match any valid repository name (also for a particular
// user's ${user}); a user key that its own group repeats with different
// actions (both count at the same specificity, so the result is their union,
// or a deny); and a user whose ${user} namespace is one that other keys name
// literally (see checkUserNamespaces).
func (r *Rules) Check() []Problem {
	problems := append([]Problem(nil), r.src.problems...)
	for _, u := range r.src.users {
		problems = append(problems, r.checkUser(u)...)
	}
	for _, name := range r.src.groupOrder {
		g := r.src.groups[name]
		problems = append(problems, checkKeys(r.files.Groups, "group "+name, g.rules)...)
	}
	for _, e := range r.src.public.entries {
		if !canMatchValidName(e.key) {
			problems = append(problems, Problem{File: r.files.Repositories, Key: e.key,
				Message: fmt.Sprintf("line %d: matches no valid repository name", e.line)})
		}
	}
	return append(problems, r.checkUserNamespaces()...)
}

func (r *Rules) checkUser(u userEntry) []Problem {
	file := r.files.Users
	at := func(key, format string, args ...any) Problem {
		return Problem{File: file, Key: key, Message: fmt.Sprintf("line %d: ", u.line) + fmt.Sprintf(format, args...)}
	}
	var problems []Problem
	if u.name == "" {
		problems = append(problems, at(u.name,
			"empty user name: never used (anonymous access comes from repositories.json)"))
	}
	if _, inHtpasswd := r.src.htpasswd[u.name]; !inHtpasswd {
		switch {
		case u.passHash == "" && r.files.DirectoryUsers:
			// the rules of a directory user
		case u.passHash == "":
			problems = append(problems, at(u.name, "no pass_hash and no htpasswd entry: nobody can log in as this user"))
		case !isBcrypt(u.passHash):
			problems = append(problems, at(u.name,
				"pass_hash is not a bcrypt hash ($2a$, $2b$ or $2y$ with a valid cost): nobody can log in as this user"))
		}
	}
	problems = append(problems, checkKeys(file, "user "+u.name, u.rules)...)
	problems = append(problems, checkUserVar(file, u.name, "user "+u.name, u.rules)...)
	seen := map[string]bool{}
	for _, name := range u.groups {
		if seen[name] {
			problems = append(problems, at(name, "user %q lists group %q twice", u.name, name))
			continue
		}
		seen[name] = true
		g, ok := r.src.groups[name]
		if !ok {
			problems = append(problems, at(name, "user %q is in group %q, which is not defined", u.name, name))
			continue
		}
		problems = append(problems, checkUserVar(r.files.Groups, u.name, "group "+name, g.rules)...)
		problems = append(problems, checkOverlap(file, u, g)...)
	}
	return problems
}

// checkKeys reports keys that can never match a valid repository name.
func checkKeys(file, owner string, rules []ruleEntry) []Problem {
	var problems []Problem
	for _, e := range rules {
		if !canMatchValidName(e.key) {
			problems = append(problems, Problem{File: file, Key: e.key, Message: fmt.Sprintf(
				"line %d: %s: matches no valid repository name (lower-case components like team/app-1)", e.line, owner)})
		}
	}
	return problems
}

// checkUserVar reports ${user} keys that a particular user's name turns
// into something that never matches.
func checkUserVar(file, user, owner string, rules []ruleEntry) []Problem {
	var problems []Problem
	for _, e := range rules {
		if !strings.Contains(e.key, userVar) || !canMatchValidName(e.key) {
			continue
		}
		if !expandableUser(user) || !canMatchValidName(strings.ReplaceAll(e.key, userVar, user)) {
			problems = append(problems, Problem{File: file, Key: e.key, Message: fmt.Sprintf(
				"line %d: %s: never matches for user %q, whose name cannot be part of a repository name",
				e.line, owner, user)})
		}
	}
	return problems
}

// checkOverlap reports keys a user shares with one of its groups but with
// different actions: the operator probably expects one to override the other.
func checkOverlap(file string, u userEntry, g *groupEntry) []Problem {
	var problems []Problem
	for _, mine := range u.rules {
		for _, theirs := range g.rules {
			if mine.key != theirs.key || (mine.deny == theirs.deny && mine.actions == theirs.actions) {
				continue
			}
			problems = append(problems, Problem{File: file, Key: mine.key, Message: fmt.Sprintf(
				"line %d: user %q has [%s] but its group %q has [%s] for the same key; both apply (%s)",
				mine.line, u.name, mine.actions, g.name, theirs.actions, sameLevelOutcome(mine, theirs))})
		}
	}
	return problems
}

func sameLevelOutcome(a, b ruleEntry) string {
	if a.deny || b.deny {
		return "the deny wins"
	}
	return "the result is their union [" + (a.actions | b.actions).String() + "]"
}

// canMatchValidName reports whether some valid repository name matches key.
// Valid means what the token endpoint accepts in a scope, token's
// ValidRepositoryName, so that check never calls a key dead that a request
// can reach, nor the other way round. Replacing every wildcard and ${user}
// with one letter, or one digit (for a port), is enough: one of them can
// stand wherever any valid text can.
func canMatchValidName(key string) bool {
	if key == "*" {
		return true
	}
	for _, stand := range []string{"a", "0"} {
		probe := strings.ReplaceAll(key, userVar, stand)
		probe = strings.ReplaceAll(probe, "**", stand)
		probe = strings.ReplaceAll(probe, "*", stand)
		if token.ValidRepositoryName(probe) {
			return true
		}
	}
	return false
}
