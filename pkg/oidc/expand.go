package oidc

import (
	"fmt"
	"strings"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/token"
)

// A repository pattern of a claim rule may hold variables:
//
//	${claim}            the claim's value, which must be one path component
//	${claim:lower}      the same, lower-cased first (GitHub owners may be "Acme")
//	${claim:path}       a value that may hold several components ("group/project")
//	${claim:lower:path} both
//
// claim is a path into the token's claims (see lookup). A value stands in
// only when it is a lower-case repository path component (with :path, one
// or more joined by "/"): no wildcard, no empty or ".." component, no
// domain. Otherwise the pattern yields no grant, so no value a token's
// holder can choose (a branch name, say) can widen what the operator wrote.
// :path is for claims whose values the issuer keeps hierarchical and
// unique, such as GitLab's project_path; a value with "/" reaches into the
// subtree of the value before its "/", so never use it for a free-form claim.

// variable is one ${...} of a pattern.
type variable struct {
	claim string
	lower bool
	path  bool
}

// template is a pattern split into literal text and variables.
type template struct {
	literals []string // len(vars)+1 pieces around the variables
	vars     []variable
}

// parseTemplate splits a pattern into literals and variables.
func parseTemplate(pattern string) (template, error) {
	var t template
	rest := pattern
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			t.literals = append(t.literals, rest)
			return t, nil
		}
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			return t, fmt.Errorf("%q: ${ without a closing }", pattern)
		}
		v, err := parseVariable(rest[i+2 : i+end])
		if err != nil {
			return t, fmt.Errorf("%q: %w", pattern, err)
		}
		t.literals = append(t.literals, rest[:i])
		t.vars = append(t.vars, v)
		rest = rest[i+end+1:]
	}
}

func parseVariable(s string) (variable, error) {
	parts := strings.Split(s, ":")
	v := variable{claim: parts[0]}
	if !validClaimPath(v.claim) {
		return v, fmt.Errorf("${%s}: want a claim path of letters, digits, '.', '_' and '-'", s)
	}
	for _, mod := range parts[1:] {
		switch mod {
		case "lower":
			v.lower = true
		case "path":
			v.path = true
		default:
			return v, fmt.Errorf("${%s}: unknown modifier %q (lower, path)", s, mod)
		}
	}
	return v, nil
}

func validClaimPath(p string) bool {
	if p == "" || p[0] == '.' || p[len(p)-1] == '.' {
		return false
	}
	for _, c := range p {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// fill joins the literals with value(v) for every variable.
func (t template) fill(value func(variable) string) string {
	var b strings.Builder
	for i, lit := range t.literals {
		b.WriteString(lit)
		if i < len(t.vars) {
			b.WriteString(value(t.vars[i]))
		}
	}
	return b.String()
}

// expandError says why a pattern yields no grant for a token.
type expandError struct {
	claim, value, why string
}

func (e *expandError) Error() string {
	if e.value == "" {
		return fmt.Sprintf("claim %s %s", e.claim, e.why)
	}
	return fmt.Sprintf("claim %s = %q %s", e.claim, clip(e.value), e.why)
}

// expand replaces every variable of pattern by its claim's value, checking
// each value, and checks the result as a grant pattern.
func expand(pattern string, claims map[string]any) (string, error) {
	t, err := parseTemplate(pattern)
	if err != nil {
		return "", err
	}
	values := make([]string, len(t.vars))
	for i, v := range t.vars {
		if values[i], err = v.value(claims); err != nil {
			return "", err
		}
	}
	n := 0
	out := t.fill(func(variable) string { n++; return values[n-1] })
	if err := acl.CheckGrant(acl.Grant{Pattern: out}); err != nil {
		return "", fmt.Errorf("%q expands to %q: %w", pattern, clip(out), err)
	}
	return out, nil
}

// value returns the claim's value as it may stand in a pattern.
func (v variable) value(claims map[string]any) (string, error) {
	raw, ok := lookup(claims, v.claim)
	if !ok {
		return "", &expandError{claim: v.claim, why: "is missing"}
	}
	s, ok := scalar(raw)
	if !ok {
		return "", &expandError{claim: v.claim, why: "is not a string or number"}
	}
	if v.lower {
		s = strings.ToLower(s)
	}
	switch {
	case !token.ValidRepositoryPath(s):
		return "", &expandError{claim: v.claim, value: s, why: "is not a lower-case repository path component"}
	case !v.path && strings.Contains(s, "/"):
		return "", &expandError{claim: v.claim, value: s, why: `contains "/" (write ${` + v.claim + `:path} if the issuer keeps such values hierarchical)`}
	}
	return s, nil
}

// clip shortens a value for a message.
func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}
