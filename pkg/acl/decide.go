package acl

import (
	"fmt"

	"github.com/regtoken/regtoken/pkg/token"
)

// Subject is who asks: a logged-in user, or anonymous.
type Subject struct {
	Name      string
	Anonymous bool // Name is ignored when set; an empty Name is anonymous too
	// Groups are groups an identity source vouches for (a directory's
	// groups, mapped to groups.json names), added to those users.json gives.
	Groups []string
	// Grants are rules an identity source derived for this caller (from a
	// workload token's claims), decided like the caller's own keys.
	Grants []Grant
	// NotInFiles marks a caller who is no user of the rule files (a robot,
	// a CI job): its rules are Grants and Groups only, and a users.json
	// entry that happens to bear its name never adds to them.
	NotInFiles bool
}

// Decision is the outcome for one resource.
type Decision struct {
	Granted []string // never nil; empty when nothing is granted
	Denied  bool     // an explicit deny (an empty action list) decided
	Rule    RuleRef  // the rule that decided; zero when no rule matched
}

// RuleRef names a rule so an operator can find it.
type RuleRef struct {
	File  string // the file that holds the rule; "" for the AnonymousCatalog setting
	Owner string // "user foo", "group team-a" or "anonymous"
	Key   string // the key as written: repository name, pattern, or "catalog"
}

// String reads `users.json: user foo, key "some-image"`.
func (r RuleRef) String() string {
	switch {
	case r == RuleRef{}:
		return "no rule matched"
	case r.File == "":
		return fmt.Sprintf("%s, key %q (AnonymousCatalog setting)", r.Owner, r.Key)
	}
	return fmt.Sprintf("%s: %s, key %q", r.File, r.Owner, r.Key)
}

// Decide returns what s gets of the requested actions on the resource
// typ:name, following the decision table in the package documentation.
// The resource type must come without a class ("repository", not
// "repository(plugin)"). Decide allocates only the granted slice.
func (r *Rules) Decide(s Subject, typ, name string, requested []string) Decision {
	switch {
	case typ == "registry" && name == "catalog":
		if ref := r.catalogRef(s); ref != nil {
			return Decision{Granted: []string{"*"}, Rule: *ref}
		}
		return Decision{Granted: []string{}}
	case typ == "repository" && name == "":
		return r.decideZotCatalog(s, requested)
	case typ != "repository" || !token.ValidRepositoryName(name):
		return Decision{Granted: []string{}}
	}
	wellFormed := wellFormedPath(name)
	var own verdict
	if sr := r.subjectRules(s); sr != nil {
		own = best(sr.rules, name, wellFormed)
	}
	v := combine(own, best(r.public, name, wellFormed))
	switch {
	case v.ref == nil:
		return Decision{Granted: []string{}}
	case v.deny:
		return Decision{Granted: []string{}, Denied: true, Rule: *v.ref}
	}
	return Decision{Granted: v.allowed.grant(requested), Rule: *v.ref}
}

// decideZotCatalog answers the scope zot asks for its catalog: zot maps
// every route but /v2/ to a repository, and the catalog's has no name, so it
// wants "repository::pull" where distribution wants "registry:catalog:*". The
// catalog right grants pull there and nothing else.
func (r *Rules) decideZotCatalog(s Subject, requested []string) Decision {
	if ref := r.catalogRef(s); ref != nil {
		return Decision{Granted: actPull.grant(requested), Rule: *ref}
	}
	return Decision{Granted: []string{}}
}

// subjectRules returns the compiled rules of a logged-in, known user. An
// empty name counts as anonymous: docker_auth used "" for anonymous, and a
// users.json entry "" must not quietly become everyone's rules.
func (r *Rules) subjectRules(s Subject) *subjectRules {
	switch {
	case s.Anonymous || s.Name == "":
		return nil
	case s.external():
		return r.compileExternal(s)
	}
	return r.subjects[s.Name]
}

// catalogRef returns the rule that gives s the catalog, or nil.
func (r *Rules) catalogRef(s Subject) *RuleRef {
	if sr := r.subjectRules(s); sr != nil && sr.catalog != nil {
		return sr.catalog
	}
	return r.anyCat
}

// verdict is the outcome of one rule list at its most specific matching level.
type verdict struct {
	ref     *RuleRef // the deciding rule; nil: nothing matched
	level   int
	deny    bool
	allowed actionSet
}

// best keeps the most specific matching rules: a deny among them wins,
// otherwise their actions are united. The reference is the first deny, or
// the first rule, at that level (the user's own keys come first).
func best(rules []rule, name string, wellFormed bool) verdict {
	var v verdict
	for i := range rules {
		rl := &rules[i]
		if !rl.pattern.match(name, wellFormed) {
			continue
		}
		switch lv := rl.pattern.level; {
		case v.ref == nil || lv > v.level:
			v = verdict{ref: &rl.ref, level: lv, deny: rl.deny, allowed: rl.actions}
		case lv == v.level:
			if rl.deny && !v.deny {
				v.deny, v.ref = true, &rl.ref
			}
			v.allowed |= rl.actions
		}
	}
	return v
}

// combine applies step 5 of the decision table: public pull is a floor for
// everyone, but an own deny stands unless the public rule is more specific,
// and a public deny (a blacklist entry) never removes own actions.
func combine(own, public verdict) verdict {
	switch {
	case own.ref == nil:
		return public
	case public.ref == nil || public.deny:
		return own
	case own.deny:
		if public.level > own.level {
			return public
		}
		return own
	}
	own.allowed |= public.allowed
	return own
}
