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
	return strings.NewReplacer("%s", ldap.EscapeFilter(name)).Replace(filter)
}

// groupFilter is the group search filter for a member: %s is its DN, %u
// the user's name.
func groupFilter(filter, memberDN, name string) string {
	return strings.NewReplacer("%s", ldap.EscapeFilter(memberDN), "%u", ldap.EscapeFilter(name)).Replace(filter)
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
