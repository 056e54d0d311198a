package ldapauth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Entry is a directory user as the rules see it.
type Entry struct {
	DN string
	// Groups are the user's directory groups, nested ones included, in the
	// order they were found.
	Groups   []Group
	memberOf []string // the DNs of the user's MemberOfAttribute
}

// Group is one of a user's directory groups.
type Group struct {
	DN   string
	Name string // its GroupNameAttribute, or its DN
	// Rule is the group of the rules it stands for: its mapping, or its
	// name; "" when unmapped_groups = "drop" drops it.
	Rule string

	memberOf []string // the groups it is in, read for NestedGroups in the memberOf way
}

// RuleGroups are the groups the rules give e: each mapped name once, sorted.
func (e Entry) RuleGroups() []string {
	var names []string
	for _, g := range e.Groups {
		if g.Rule != "" {
			names = append(names, g.Rule)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Bounds of a group lookup: nesting deeper than this, or this many groups,
// is a loop the directory let through or a mistake, not an organisation.
const (
	maxNesting = 10
	maxGroups  = 1000
)

// errTooManyGroups refuses to go on rather than decide with a part of the
// groups: a missing group may be one whose rules deny.
var errTooManyGroups = fmt.Errorf("more than %d groups (or nesting deeper than %d)", maxGroups, maxNesting)

// resolveGroups fills in u's groups: by the group search, or from the DNs of
// its MemberOfAttribute, then, with NestedGroups, the groups those are in,
// level by level, each group once.
func (d *Directory) resolveGroups(c *ldap.Conn, u Entry, user string) (Entry, error) {
	level, err := d.directGroups(c, u, user)
	seen := map[string]bool{}
	for depth := 0; err == nil && len(level) > 0; depth++ {
		var added []Group
		for _, g := range level {
			if key := normalizeDN(g.DN); !seen[key] {
				seen[key] = true
				added = append(added, g)
			}
		}
		u.Groups = append(u.Groups, added...)
		switch {
		case len(u.Groups) > maxGroups || depth >= maxNesting && len(added) > 0 && d.opts.NestedGroups:
			return Entry{}, errTooManyGroups
		case !d.opts.NestedGroups:
			return u, nil
		}
		level, err = d.parentGroups(c, added, user)
	}
	return u, err
}

func (d *Directory) directGroups(c *ldap.Conn, u Entry, user string) ([]Group, error) {
	if d.opts.GroupFilter != "" {
		return d.searchGroups(c, u.DN, user)
	}
	return d.readGroups(c, u.memberOf)
}

func (d *Directory) readGroups(c *ldap.Conn, dns []string) ([]Group, error) {
	groups := make([]Group, 0, len(dns))
	for _, dn := range dns {
		g, err := d.readGroup(c, dn)
		if err != nil {
			return nil, err
		}
		groups = append(groups, g)
	}
	return groups, nil
}

// parentGroups returns the groups that any of groups is a member of.
func (d *Directory) parentGroups(c *ldap.Conn, groups []Group, user string) ([]Group, error) {
	var parents []Group
	for _, g := range groups {
		if d.opts.GroupFilter != "" {
			found, err := d.searchGroups(c, g.DN, user)
			if err != nil {
				return nil, err
			}
			parents = append(parents, found...)
			continue
		}
		found, err := d.readGroups(c, g.memberOf)
		if err != nil {
			return nil, err
		}
		parents = append(parents, found...)
	}
	return parents, nil
}

// searchGroups runs the group search for a member (the user, or a group).
func (d *Directory) searchGroups(c *ldap.Conn, memberDN, user string) ([]Group, error) {
	req := ldap.NewSearchRequest(d.opts.GroupBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, maxGroups+1,
		int(d.opts.Timeout/time.Second), false, groupFilter(d.opts.GroupFilter, memberDN, user), d.groupAttributes(), nil)
	res, err := c.Search(req)
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return nil, errTooManyGroups
	case err != nil:
		return nil, fmt.Errorf("group search: %w", err)
	}
	groups := make([]Group, 0, len(res.Entries))
	for _, e := range res.Entries {
		groups = append(groups, d.group(e.DN, e.GetAttributeValue(d.opts.GroupNameAttribute)))
	}
	return groups, nil
}

// readGroup names the group at dn and, with NestedGroups, lists the groups
// it is in. It reads the entry only when it must: a DN whose first
// component is the name attribute ("cn=dev,ou=groups,...") names itself.
func (d *Directory) readGroup(c *ldap.Conn, dn string) (Group, error) {
	name, named := firstRDNValue(dn, d.opts.GroupNameAttribute)
	if d.opts.GroupNameAttribute == groupNameDN {
		name, named = dn, true
	}
	if named && !d.opts.NestedGroups {
		return d.group(dn, name), nil
	}
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1,
		int(d.opts.Timeout/time.Second), false, "(objectClass=*)", append(d.groupAttributes(), d.opts.MemberOfAttribute), nil)
	res, err := c.Search(req)
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		// The user's entry lists a group the service account cannot read
		// (or one deleted since): the entry is the directory's word that
		// the user is in it, as when the DN names the group itself.
		return d.group(dn, name), nil
	case err != nil:
		return Group{}, fmt.Errorf("reading group %s: %w", dn, err)
	case len(res.Entries) != 1:
		return Group{}, errors.New("reading group " + dn + ": no entry")
	}
	e := res.Entries[0]
	if !named {
		name = e.GetAttributeValue(d.opts.GroupNameAttribute)
	}
	g := d.group(dn, name)
	g.memberOf = e.GetAttributeValues(d.opts.MemberOfAttribute)
	return g, nil
}

func (d *Directory) groupAttributes() []string {
	if d.opts.GroupNameAttribute == groupNameDN {
		return []string{"1.1"} // no attributes: the DN is the name
	}
	return []string{d.opts.GroupNameAttribute}
}

// group makes a Group of a DN and its name (the DN when the entry has no
// name attribute), mapped as the options say.
func (d *Directory) group(dn, name string) Group {
	if name == "" || d.opts.GroupNameAttribute == groupNameDN {
		name = dn
	}
	g := Group{DN: dn, Name: name}
	switch rule, ok := d.groupMap[normalizeDN(dn)]; {
	case ok:
		g.Rule = rule
	case d.groupMap[name] != "":
		g.Rule = d.groupMap[name]
	case d.opts.UnmappedGroups == "keep":
		g.Rule = name
	}
	return g
}

// firstRDNValue returns the value of dn's first component when it is a
// single attr=value.
func firstRDNValue(dn, attr string) (string, bool) {
	parsed, err := ldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 || len(parsed.RDNs[0].Attributes) != 1 {
		return "", false
	}
	a := parsed.RDNs[0].Attributes[0]
	return a.Value, strings.EqualFold(a.Type, attr)
}

// normalizeDN writes dn so that two spellings of one DN compare equal:
// types and values lower-cased, no spaces around separators. Group DNs are
// compared so, as their naming attributes (cn, ou, dc) ignore case. A
// string that is no DN is returned as it is.
func normalizeDN(dn string) string {
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return dn
	}
	rdns := make([]string, 0, len(parsed.RDNs))
	for _, rdn := range parsed.RDNs {
		parts := make([]string, 0, len(rdn.Attributes))
		for _, a := range rdn.Attributes {
			parts = append(parts, strings.ToLower(a.Type)+"="+ldap.EscapeDN(strings.ToLower(a.Value)))
		}
		slices.Sort(parts)
		rdns = append(rdns, strings.Join(parts, "+"))
	}
	return strings.Join(rdns, ",")
}

// normalizeMap keys a group map by normalized DNs where keys are DNs.
func normalizeMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for from, to := range m {
		if strings.Contains(from, "=") {
			from = normalizeDN(from)
		}
		out[from] = to
	}
	return out
}
