package acl

import (
	"math"
	"strings"
)

// userVar is the one variable a key may contain.
const userVar = "${user}"

// Specificity levels; a wildcard pattern ranks 1 + the length of its literal
// prefix, so any of them beats a bare "*" and none reaches an exact name.
const (
	levelEvery = 0
	levelExact = math.MaxInt32
)

type patternKind uint8

const (
	exactName   patternKind = iota // no wildcard: string equality
	everyName                      // bare "*": every (well-formed) name
	globPattern                    // "*" within components, "**" components
	neverMatch                     // "${user}" that cannot be expanded
)

// pattern is a key compiled once at load so matching needs no allocation.
type pattern struct {
	kind  patternKind
	text  string      // exact name, or the glob after "${user}" expansion
	parts []component // globPattern only
	level int
}

// component is one path component of a glob: its text with "*" as the
// wildcard, or (manyMore) zero or more further whole components. "**" is
// compiled to a "*" component followed by a manyMore one: at least one.
type component struct {
	glob     string
	manyMore bool
}

// checkKeySyntax rejects keys the matcher could only guess at: variables
// other than ${user}, and "**" that is not a whole component.
func checkKeySyntax(key string, userAllowed bool) error {
	rest := key
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			break
		}
		if !strings.HasPrefix(rest[i:], userVar) {
			return failure(ErrInvalid, "unknown variable in %q (only %s exists)", key, userVar)
		}
		if !userAllowed {
			return failure(ErrInvalid, "%s cannot be used in the public list", userVar)
		}
		rest = rest[i+len(userVar):]
	}
	for comp := range strings.SplitSeq(key, "/") {
		if strings.Contains(comp, "**") && comp != "**" {
			return failure(ErrInvalid, `"**" must be a whole path component in %q`, key)
		}
	}
	return nil
}

// compilePattern compiles a key whose syntax checkKeySyntax accepted.
// user is the name "${user}" stands for; "" (anonymous, or a name that
// cannot be part of a path) makes such keys never match.
func compilePattern(key, user string) pattern {
	text := key
	if strings.Contains(key, userVar) {
		if !expandableUser(user) {
			return pattern{kind: neverMatch, text: key}
		}
		text = strings.ReplaceAll(key, userVar, user)
	}
	star := strings.IndexByte(text, '*')
	switch {
	case text == "*":
		return pattern{kind: everyName, text: text, level: levelEvery}
	case star < 0:
		return pattern{kind: exactName, text: text, level: levelExact}
	}
	p := pattern{kind: globPattern, text: text, level: 1 + star}
	for comp := range strings.SplitSeq(text, "/") {
		if comp == "**" {
			p.parts = append(p.parts, component{glob: "*"}, component{manyMore: true})
			continue
		}
		p.parts = append(p.parts, component{glob: comp})
	}
	return p
}

// expandableUser reports whether a user name can stand in for ${user}: it
// must not add wildcards or path components of its own.
func expandableUser(user string) bool {
	return user != "" && !strings.ContainsAny(user, "*/")
}

// wellFormedPath reports whether every path component of name is non-empty.
// Wildcards never match other names, so "team/*" does not match "team/".
func wellFormedPath(name string) bool {
	return name != "" && name[0] != '/' && name[len(name)-1] != '/' &&
		!strings.Contains(name, "//")
}

// match reports whether name matches. wellFormed is wellFormedPath(name),
// computed once per decision rather than once per rule.
func (p *pattern) match(name string, wellFormed bool) bool {
	switch p.kind {
	case exactName:
		return name == p.text
	case everyName:
		return wellFormed
	case globPattern:
		return wellFormed && matchComponents(p.parts, name)
	}
	return false
}

// matchComponents is the classic wildcard algorithm lifted to path
// components: on a mismatch only the last manyMore needs to consume one more
// component, which keeps matching linear in the number of components.
func matchComponents(parts []component, name string) bool {
	pi, ni := 0, 0 // ni is the byte offset of the next name component; len(name)+1 = end
	starPi, starNi := -1, 0
	end := len(name) + 1
	for pi < len(parts) || ni < end {
		if pi < len(parts) {
			if parts[pi].manyMore {
				starPi, starNi = pi, ni
				pi++
				continue
			}
			if ni < end {
				comp, next := nextComponent(name, ni)
				if matchGlob(parts[pi].glob, comp) {
					pi, ni = pi+1, next
					continue
				}
			}
		}
		if starPi < 0 || starNi >= end {
			return false
		}
		_, starNi = nextComponent(name, starNi)
		pi, ni = starPi+1, starNi
	}
	return true
}

// nextComponent returns the component starting at offset i and the offset
// of the one after it (len(name)+1 past the last).
func nextComponent(name string, i int) (string, int) {
	if j := strings.IndexByte(name[i:], '/'); j >= 0 {
		return name[i : i+j], i + j + 1
	}
	return name[i:], len(name) + 1
}

// MatchGlob reports whether s matches glob, in which "*" is any run of
// characters ("/" too: it sees s as plain text) and every other character
// matches itself. Keys use it on one path component at a time; identity
// sources may match other text with it, such as a token's claims.
func MatchGlob(glob, s string) bool { return matchGlob(glob, s) }

// matchGlob matches one component against a glob where "*" is any run of
// characters, with the same single-backtrack algorithm as matchComponents.
func matchGlob(glob, s string) bool {
	gi, si := 0, 0
	starGi, starSi := -1, 0
	for gi < len(glob) || si < len(s) {
		if gi < len(glob) {
			if glob[gi] == '*' {
				starGi, starSi = gi, si
				gi++
				continue
			}
			if si < len(s) && glob[gi] == s[si] {
				gi, si = gi+1, si+1
				continue
			}
		}
		if starGi < 0 || starSi >= len(s) {
			return false
		}
		starSi++
		gi, si = starGi+1, starSi
	}
	return true
}
