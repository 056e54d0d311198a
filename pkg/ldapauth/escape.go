package ldapauth

import (
	"strings"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
)

// A user name comes from whoever sends a token request, so it never reaches
// the directory as written: in a filter every character that could end the
// value, add a condition or stand for a wildcard is escaped (RFC 4515), and
// in a DN every character that could end the value or add a component is
// (RFC 4514). go-ldap's escaping does both; these functions are the only
// place a name is put into either, in one pass, so that a value put in
// first is never read again as a placeholder.

// userFilter is the user search filter for name.
func userFilter(filter, name string) string {
	return fill(filter, ldap.EscapeFilter(name), "%u")
}

// groupFilter is the group search filter for a member: %s is its DN, %u
// the user's name.
func groupFilter(filter, memberDN, name string) string {
	return fill(filter, ldap.EscapeFilter(memberDN), ldap.EscapeFilter(name))
}

// fill replaces each %s of template with s and each %u with u, in one pass.
// (strings.NewReplacer would do, but builds its tables on every login.)
func fill(template, s, u string) string {
	var b strings.Builder
	b.Grow(len(template) + len(s) + len(u))
	for {
		i := strings.IndexByte(template, '%')
		if i < 0 || i == len(template)-1 {
			b.WriteString(template)
			return b.String()
		}
		b.WriteString(template[:i])
		switch template[i+1] {
		case 's':
			b.WriteString(s)
		case 'u':
			b.WriteString(u)
		default:
			b.WriteString(template[i : i+2])
		}
		template = template[i+2:]
	}
}

// userDN is the DN that user_dn makes of name.
func userDN(template, name string) string {
	return strings.Replace(template, "%s", ldap.EscapeDN(name), 1)
}

// maxNameBytes bounds a user name sent to the directory: longer ones are
// no names anyone has, and would only make filters long.
const maxNameBytes = 256

// plausibleName reports whether name could be a directory user's: not
// empty, valid UTF-8, not longer than maxNameBytes. Other names are refused
// without asking the directory; that tells nothing about who exists.
func plausibleName(name string) bool {
	return name != "" && len(name) <= maxNameBytes && utf8.ValidString(name)
}
