package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/daemon"
	"github.com/regtoken/regtoken/pkg/ldapauth"
)

// describeGroups writes a directory user's groups as found and as the
// rules name them: "developers (cn=developers,ou=groups,...) -> dev".
func describeGroups(e ldapauth.Entry) string {
	if len(e.Groups) == 0 {
		return "no directory groups"
	}
	parts := make([]string, 0, len(e.Groups))
	for _, g := range e.Groups {
		p := g.Name
		if g.Name != g.DN {
			p += " (" + g.DN + ")"
		}
		switch {
		case g.Rule == "":
			p += " -> dropped (ldap.unmapped_groups = \"drop\")"
		case g.Rule != g.Name:
			p += " -> " + g.Rule
		}
		parts = append(parts, p)
	}
	return "directory groups " + strings.Join(parts, "; ")
}

// printDirectory says which directory check connected to and how, what
// it said about users both it and the files have, and which directory
// groups feed each group of the rules. The problems it found are among
// Preflight's findings.
func printDirectory(out io.Writer, o *ldapauth.Options, r daemon.Report, rules *acl.Rules) {
	state := "not answering (see the error above)"
	if r.DirectoryReached {
		state = "ok"
	}
	fmt.Fprintf(out, "ldap %s: %s (%s); a password changed in the directory stops working within %s (ldap.cache_lifetime)\n",
		strings.Join(o.URLs, " "), state, serviceAccount(o), o.CacheLifetime)
	for _, u := range r.DirectoryUsers {
		if u.HasPassword && o.Precedence != "" {
			fmt.Fprintf(out, "user %s has a password in the files and is in the directory (%s): ldap.precedence = %q decides\n",
				u.Name, u.Entry.DN, o.Precedence)
		}
	}
	printGroupSources(out, o, rules)
}

func serviceAccount(o *ldapauth.Options) string {
	if o.BindDN == "" {
		return "anonymous searches"
	}
	return "service bind as " + o.BindDN
}

// printDirectoryUsers lists the users of the files whose passwords the
// directory checks, with their directory groups and rules (check -list).
func printDirectoryUsers(out io.Writer, o *ldapauth.Options, users []daemon.DirectoryUser, rules *acl.Rules) {
	for _, u := range users {
		if u.DecidedByDirectory(o) {
			fmt.Fprintf(out, "directory user %s (%s; %s), most specific rule first:\n", u.Name, u.Entry.DN, describeGroups(u.Entry))
			printRules(out, rules.Effective(acl.Subject{Name: u.Name, Groups: u.Entry.RuleGroups()}))
		}
	}
}

// printGroupSources says which directory groups feed each group of the
// rules; a group_map entry to a group the rules lack is among Preflight's
// findings.
func printGroupSources(out io.Writer, o *ldapauth.Options, rules *acl.Rules) {
	feeds := map[string][]string{}
	for from, to := range o.GroupMap {
		feeds[to] = append(feeds[to], from)
	}
	for _, g := range rules.Groups() {
		sources := feeds[g]
		slices.Sort(sources)
		if o.UnmappedGroups == "keep" {
			sources = append(sources, "a directory group named "+g)
		}
		if len(sources) == 0 {
			fmt.Fprintf(out, "group %s: no directory group maps to it (ldap.unmapped_groups = \"drop\")\n", g)
			continue
		}
		fmt.Fprintf(out, "group %s: for members of %s\n", g, strings.Join(sources, ", "))
	}
}

// explainDirectory decides who name is for explain, as a login would: the
// subject with the directory's groups when the directory checks its
// password, or as the files have it. It notes what it found.
func explainDirectory(cfg *config.Config, rules *acl.Rules, name string, out io.Writer) (acl.Subject, error) {
	subject := acl.Subject{Name: name}
	_, inFiles := rules.User(name)
	d, err := daemon.LoadDirectory(cfg.LDAP, nil, nil)
	if err != nil {
		return subject, err
	}
	defer d.Close()
	ctx, cancel := daemon.DirectoryContext()
	defer cancel()
	u, err := daemon.LookupDirectoryUser(ctx, d, rules, name)
	switch {
	case err != nil && u.HasPassword && cfg.LDAP.Precedence != ldapauth.PrecedenceDirectory:
		// The files decide this name whatever the directory says.
		fmt.Fprintf(out, "note: the directory could not be asked whether it has %q too: %v\n", name, err)
		return subject, nil
	case err != nil:
		return subject, err
	}
	switch {
	case u.DecidedByDirectory(cfg.LDAP):
		subject.Groups = u.Entry.RuleGroups()
		fmt.Fprintf(out, "note: %q logs in from the directory: %s; %s\n", name, u.Entry.DN, describeGroups(u.Entry))
	case u.Found:
		fmt.Fprintf(out, "note: %q is in the directory too (%s), but the password in the files decides (ldap.precedence = %q)\n",
			name, u.Entry.DN, cfg.LDAP.Precedence)
	case !inFiles || !u.HasPassword:
		fmt.Fprintf(out, "note: %q is neither in the directory nor has a password in the files; a real request with this name gets 401\n", name)
	}
	return subject, nil
}
