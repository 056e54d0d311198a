package ldapauth

import (
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// hostileNames are user names that would change a filter or a DN if they
// were put in unescaped: wildcards, a closing parenthesis that starts a new
// condition, NUL (where C servers end a string), a backslash that would start
// an escape, DN separators, and bytes beyond ASCII.
var hostileNames = []string{
	"*",
	"al*",
	"*)(uid=*",
	"alice)(objectClass=*",
	"alice)(|(uid=*)",
	"alice\x00",
	"\x00",
	`alice\2a`,
	`\`,
	"alice,ou=admins",
	"a+cn=b",
	"#alice",
	" alice ",
	`"alice"`,
	"a<b>c;d",
	"a=b",
	"ålice",
}

// The filter made for any name is the template's with one equality
// assertion whose value is exactly the name, and it carries no byte a
// server could read as the end of a string. Without the escaping, "*" turns
// into a presence test, ")(" into another condition, a backslash into an
// escape, and NUL reaches the wire as it is.
func TestUserFilterInjection(t *testing.T) {
	const template = "(&(objectClass=inetOrgPerson)(uid=%s))"
	for _, name := range hostileNames {
		f := userFilter(template, name)
		for i := 0; i < len(f); i++ {
			if f[i] < 0x20 || f[i] > 0x7e {
				t.Errorf("%q: filter %q carries byte %#x unescaped", name, f, f[i])
			}
		}
		p, err := ldap.CompileFilter(f)
		if err != nil {
			t.Errorf("%q: filter %q does not compile: %v", name, f, err)
			continue
		}
		if p.Tag != ldap.FilterAnd || len(p.Children) != 2 {
			t.Errorf("%q: filter %q is not the template's AND of two conditions", name, f)
			continue
		}
		wantEquality(t, name, p.Children[0], "objectClass", "inetOrgPerson")
		wantEquality(t, name, p.Children[1], "uid", name)
	}
}

// Group filters escape the member's DN (which a user named "x)(..." could
// shape in user_dn mode) and the name alike.
func TestGroupFilterInjection(t *testing.T) {
	const template = "(|(member=%s)(memberUid=%u))"
	for _, name := range hostileNames {
		dn := userDN("uid=%s,ou=people,dc=example,dc=org", name)
		p, err := ldap.CompileFilter(groupFilter(template, dn, name))
		if err != nil || p.Tag != ldap.FilterOr || len(p.Children) != 2 {
			t.Errorf("%q: group filter %q is not the template's OR of two conditions (%v)", name, groupFilter(template, dn, name), err)
			continue
		}
		wantEquality(t, name, p.Children[0], "member", dn)
		wantEquality(t, name, p.Children[1], "memberUid", name)
	}
	// A value put in first is not read again as a placeholder.
	if got := groupFilter("(&(member=%s)(memberUid=%u))", "cn=%u", "bob"); got != "(&(member=cn=%u)(memberUid=bob))" {
		t.Errorf("placeholders replaced twice: %s", got)
	}
}

func wantEquality(t *testing.T, name string, p *ber.Packet, attr, value string) {
	t.Helper()
	if p.Tag != ldap.FilterEqualityMatch || len(p.Children) != 2 {
		t.Errorf("%q: %s is %s, not an equality match", name, attr, ldap.FilterMap[uint64(p.Tag)])
		return
	}
	if got := p.Children[0].Data.String(); got != attr {
		t.Errorf("%q: equality on %q, want %q", name, got, attr)
	}
	if got := p.Children[1].Data.String(); got != value {
		t.Errorf("%q: %s value %q, want %q", name, attr, got, value)
	}
}

// The DN made for any name has the template's components, the first one
// being uid with exactly the name as its value. Without the escaping,
// "alice,ou=admins" would make another DN, with a component of its own.
func TestUserDNInjection(t *testing.T) {
	const template = "uid=%s,ou=people,dc=example,dc=org"
	for _, name := range hostileNames {
		dn := userDN(template, name)
		parsed, err := ldap.ParseDN(dn)
		if err != nil {
			t.Errorf("%q: DN %q does not parse: %v", name, dn, err)
			continue
		}
		if len(parsed.RDNs) != 4 || len(parsed.RDNs[0].Attributes) != 1 {
			t.Errorf("%q: DN %q has %d components, want the template's 4", name, dn, len(parsed.RDNs))
			continue
		}
		if a := parsed.RDNs[0].Attributes[0]; a.Type != "uid" || a.Value != name {
			t.Errorf("%q: DN %q starts with %s=%q", name, dn, a.Type, a.Value)
		}
		if strings.IndexByte(dn, 0) >= 0 {
			t.Errorf("%q: DN %q carries NUL unescaped", name, dn)
		}
	}
}

func TestPlausibleName(t *testing.T) {
	for name, want := range map[string]bool{
		"alice": true, "a\x00b": true, "ålice": true, "": false, "\xff": false,
		strings.Repeat("a", maxNameBytes): true, strings.Repeat("a", maxNameBytes+1): false,
	} {
		if got := plausibleName(name); got != want {
			t.Errorf("plausibleName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestFill(t *testing.T) {
	for _, c := range []struct{ template, want string }{
		{"(uid=%s)", "(uid=S)"},
		{"(|(member=%s)(memberUid=%u))", "(|(member=S)(memberUid=U))"},
		{"(cn=100%)", "(cn=100%)"},
		{"(cn=%d%s%)", "(cn=%dS%)"},
		{"%s%u%s", "SUS"},
	} {
		if got := fill(c.template, "S", "U"); got != c.want {
			t.Errorf("fill(%q) = %q, want %q", c.template, got, c.want)
		}
	}
	if got := userFilter("(&(uid=%s)(x=%u))", "a%u"); got != "(&(uid=a%u)(x=%u))" {
		t.Errorf("userFilter keeps %%u and reads no placeholder in the name: %q", got)
	}
}

// Whatever name a client sends, the filter and the DN made of it keep the
// template's shape, with the name as one value.
func FuzzEscape(f *testing.F) {
	for _, name := range hostileNames {
		f.Add(name)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !plausibleName(name) {
			return // refused before any filter or DN is made
		}
		p, err := ldap.CompileFilter(userFilter("(&(objectClass=person)(uid=%s))", name))
		if err != nil || p.Tag != ldap.FilterAnd || len(p.Children) != 2 {
			t.Fatalf("%q: filter lost its shape (%v)", name, err)
		}
		wantEquality(t, name, p.Children[1], "uid", name)
		dn, err := ldap.ParseDN(userDN("uid=%s,ou=people,dc=example,dc=org", name))
		if err != nil || len(dn.RDNs) != 4 || len(dn.RDNs[0].Attributes) != 1 || dn.RDNs[0].Attributes[0].Value != name {
			t.Fatalf("%q: DN lost its shape (%v)", name, err)
		}
	})
}
