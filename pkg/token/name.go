package token

import "strings"

// maxNameLength is distribution's NameTotalLengthMax: the whole name,
// domain included.
const maxNameLength = 255

// ValidRepositoryName reports whether name is a repository name in the
// grammar of github.com/distribution/reference (NameRegexp), which the
// registry applies to the repository part of every /v2/ URL:
//
//	name           := [domain '/'] path-component ['/' path-component]*
//	domain         := host [':' port]      host = domain-name | '[' ipv6 ']'
//	domain-name    := label ['.' label]*   label = [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?
//	path-component := [a-z0-9]+ (separator [a-z0-9]+)*
//	separator      := '.' | '_' | '__' | '-'+
//
// and is at most 255 bytes long. A first component such as "Team" counts as
// a host, so "Team/app" is valid: the registry's own routes accept it.
//
// This is regtoken's one copy of the grammar: the rule check of package acl
// asks it too, so a rule key is never called dead that a scope can reach. It
// is hand-written rather than a regexp because it runs for every scope of
// every token request.
func ValidRepositoryName(name string) bool {
	if name == "" || len(name) > maxNameLength {
		return false
	}
	if validPath(name) {
		return true
	}
	// Only a first component that is not a valid path component can be
	// the domain; the grammar accepts the name either way.
	domain, path, ok := strings.Cut(name, "/")
	return ok && validDomain(domain) && validPath(path)
}

// ValidRepositoryPath reports whether p is one or more '/'-separated path
// components of the grammar above, with no domain: lower-case alphanumerics
// joined by separators. A value that passes can stand inside a repository
// name without adding a wildcard, a domain or an empty or ".." component.
func ValidRepositoryPath(p string) bool { return len(p) <= maxNameLength && validPath(p) }

// validPath reports whether p is one or more '/'-separated path components.
func validPath(p string) bool {
	for c := range strings.SplitSeq(p, "/") {
		if !validPathComponent(c) {
			return false
		}
	}
	return true
}

// validPathComponent matches [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*.
func validPathComponent(c string) bool {
	i := 0
	for {
		start := i
		for i < len(c) && isLowerAlnum(c[i]) {
			i++
		}
		if i == start {
			return false // empty component, or a separator not followed by alphanumerics
		}
		if i == len(c) {
			return true
		}
		switch c[i] {
		case '.':
			i++
		case '_':
			i++
			if i < len(c) && c[i] == '_' {
				i++
			}
		case '-':
			for i < len(c) && c[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

// validDomain matches host[:port], host being a domain name or a bracketed
// IPv6 address.
func validDomain(d string) bool {
	var port string
	if rest, ok := strings.CutPrefix(d, "["); ok {
		addr, after, ok := strings.Cut(rest, "]")
		if !ok || !validIPv6(addr) {
			return false
		}
		port = after
	} else {
		host := d
		if i := strings.IndexByte(d, ':'); i >= 0 {
			host, port = d[:i], d[i:]
		}
		if !validDomainName(host) {
			return false
		}
	}
	return port == "" || port[0] == ':' && allDigits(port[1:])
}

// validDomainName matches label('.' label)*.
func validDomainName(h string) bool {
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlnum(c) && c != '-' {
				return false
			}
		}
	}
	return true
}

// validIPv6 matches the loose [a-fA-F0-9:]+ of the reference grammar.
func validIPv6(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != ':' && !('0' <= c && c <= '9') && !('a' <= c && c <= 'f') && !('A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

func isAlnum(c byte) bool { return isLowerAlnum(c) || 'A' <= c && c <= 'Z' }
