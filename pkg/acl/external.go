package acl

import (
	"errors"
	"fmt"
	"slices"
)

// Grant is a rule that an identity source derived for one caller — for
// example from the claims of a CI job's token — rather than a key of the rule
// files. It is decided exactly like a users.json key: ranked by how specific
// its pattern is, an empty action list is a deny, ${user} is the caller's
// name.
type Grant struct {
	Pattern string
	Actions []string // empty: an explicit deny
	Catalog bool     // the grant is the catalog right; Pattern and Actions are ignored
	Ref     RuleRef  // where the rule came from, for explain and the audit line
}

// ErrBadGrant is wrapped by CheckGrant's errors.
var ErrBadGrant = errors.New("invalid grant")

// CheckGrant reports whether g could be decided: a valid pattern and known
// actions. Identity sources check their rules with it when they load, so a
// mistake is reported then and not at the first login it affects.
func CheckGrant(g Grant) error {
	if g.Catalog {
		return nil
	}
	if err := checkKeySyntax(g.Pattern, true); err != nil {
		return fmt.Errorf("%w: %v", ErrBadGrant, err)
	}
	if !canMatchValidName(g.Pattern) {
		return fmt.Errorf("%w: %q matches no valid repository name", ErrBadGrant, g.Pattern)
	}
	for _, a := range g.Actions {
		if _, ok := parseAction(a); !ok {
			return fmt.Errorf("%w: unknown action %q", ErrBadGrant, a)
		}
	}
	return nil
}

// external reports whether an identity source added groups or grants to s,
// which then needs rules compiled for this request rather than at load.
func (s Subject) external() bool {
	return !s.Anonymous && s.Name != "" && (len(s.Groups) > 0 || len(s.Grants) > 0 || s.NotInFiles)
}

// compileExternal builds the rules of a subject whose identity source added
// groups or grants: its users.json entry (if any, and unless it is NotInFiles), the groups users.json and
// the source give it, and the source's grants, in that order — so in a tie
// the reference names the user's own key first, as for file users.
func (r *Rules) compileExternal(s Subject) *subjectRules {
	sr := &subjectRules{}
	var seen []string
	if own := r.subjects[s.Name]; own != nil && !s.NotInFiles {
		sr.rules = slices.Clone(own.rules)
		sr.catalog = own.catalog
		seen = own.user.Groups
	}
	for _, name := range s.Groups {
		if slices.Contains(seen, name) {
			continue
		}
		seen = append(seen, name)
		g, ok := r.src.groups[name]
		if !ok {
			continue // a directory group with no rules of its own grants nothing
		}
		owner := "group " + name
		sr.rules = appendRules(sr.rules, r.files.Groups, owner, g.rules, s.Name)
		if g.catalog && sr.catalog == nil {
			sr.catalog = &RuleRef{File: r.files.Groups, Owner: owner, Key: "catalog"}
		}
	}
	for i := range s.Grants {
		g := &s.Grants[i]
		if g.Catalog {
			if sr.catalog == nil {
				sr.catalog = &g.Ref
			}
			continue
		}
		sr.rules = append(sr.rules, compileGrant(*g, s.Name))
	}
	return sr
}

// compileGrant turns a grant into a rule; an action it does not know grants
// nothing (CheckGrant reports it when the source loads).
func compileGrant(g Grant, user string) rule {
	rl := rule{pattern: compilePattern(g.Pattern, user), deny: len(g.Actions) == 0, ref: g.Ref}
	for _, a := range g.Actions {
		if set, ok := parseAction(a); ok {
			rl.actions |= set
		}
	}
	return rl
}
