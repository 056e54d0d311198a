package oidc

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/regtoken/regtoken/pkg/acl"
)

// Login is what a verified token's claims give its holder.
type Login struct {
	Issuer  string // the issuer's configured name
	Subject string // the token's "sub"
	// Grants and Groups come from every rule whose claims matched; acl
	// decides them like a user's keys (most specific wins, [] denies).
	Grants  []acl.Grant
	Groups  []string
	Matched []int // the matched rules, by index
	// Skipped says, per pattern of a matched rule that yielded no grant,
	// why (a claim missing or not a repository name), for explain.
	Skipped []string
}

// Name is the caller's name in the token's subject and the audit line: the
// issuer's name and the token's subject, "github:repo:acme/app:ref:…".
func (l *Login) Name() string { return l.Issuer + ":" + l.Subject }

// Errors of Apply; Verify returns them too.
var (
	// ErrNoRule: the token is genuine but no rule of its issuer matches
	// its claims.
	ErrNoRule = errors.New("matches no rule")
	// ErrNoGrant: rules matched, but none of their patterns could be
	// filled in from this token's claims.
	ErrNoGrant = errors.New("matched a rule, but no pattern of it could be filled in from the claims")
)

// Apply runs the issuer's rules on a token's claims. ref names the
// configuration file in the grants' rule references. The claims are
// trusted: Verify checked them, or an operator asks explain about them.
func (i *Issuer) Apply(claims map[string]any, file string) (Login, error) {
	l := Login{Issuer: i.Name}
	l.Subject, _ = claims["sub"].(string)
	for n, r := range i.Rules {
		if !r.matches(claims) {
			continue
		}
		l.Matched = append(l.Matched, n)
		owner := fmt.Sprintf("oidc %s rule %d", i.Name, n+1)
		for _, pattern := range slices.Sorted(maps.Keys(r.Repositories)) {
			expanded, err := expand(pattern, claims)
			if err != nil {
				l.Skipped = append(l.Skipped, fmt.Sprintf("%s, key %q: %v", owner, pattern, err))
				continue
			}
			l.Grants = append(l.Grants, acl.Grant{Pattern: expanded, Actions: r.Repositories[pattern],
				Ref: acl.RuleRef{File: file, Owner: owner, Key: pattern}})
		}
		if r.Catalog {
			l.Grants = append(l.Grants, acl.Grant{Catalog: true, Ref: acl.RuleRef{File: file, Owner: owner, Key: "catalog"}})
		}
		for _, g := range r.Groups {
			if !slices.Contains(l.Groups, g) {
				l.Groups = append(l.Groups, g)
			}
		}
	}
	switch {
	case len(l.Matched) == 0:
		return l, ErrNoRule
	case len(l.Grants) == 0 && len(l.Groups) == 0:
		return l, fmt.Errorf("%w (%s)", ErrNoGrant, strings.Join(l.Skipped, "; "))
	}
	return l, nil
}

// matches reports whether every claim condition of r holds.
func (r *Rule) matches(claims map[string]any) bool {
	for path, accepted := range r.Claims {
		if !matchClaim(claims, path, accepted) {
			return false
		}
	}
	return true
}
