package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/daemon"
	"github.com/regtoken/regtoken/pkg/ldapauth"
)

// directoryTimeout bounds what check and explain ask the directory.
const directoryTimeout = time.Minute

// directoryAnswer is what the directory says about one name.
type directoryAnswer struct {
	entry ldapauth.Entry
	found bool
}

// lookupUser asks the directory, with the service account, about user.
func lookupUser(ctx context.Context, d *ldapauth.Directory, user string) (directoryAnswer, error) {
	e, err := d.Lookup(ctx, user)
	switch {
	case errors.Is(err, authn.ErrUnknownUser):
		return directoryAnswer{}, nil
	case err != nil:
		return directoryAnswer{}, err
	}
	return directoryAnswer{entry: e, found: true}, nil
}

// decidedByDirectory reports whether a login as a user of the files (with
// a password there or not) and of the directory (found or not) is checked
// by the directory, as authentication does it.
func decidedByDirectory(hasPassword, found bool, o ldapauth.Options) bool {
	return found && (!hasPassword || o.Precedence == ldapauth.PrecedenceDirectory)
}

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

// checkDirectory is check's part for the [ldap] table: it connects with the
// service account, then asks the directory about every user the files name.
// A user the files give a password whom the directory knows too is an
// error unless ldap.precedence says which decides; a user the files give
// no password whom the directory does not know can log in nowhere. The
// directory's users are printed with their groups and rules.
func checkDirectory(cfg *config.Config, rules *acl.Rules, out io.Writer) int {
	o := cfg.LDAP
	d, err := daemon.LoadDirectory(o, nil, nil)
	if err != nil {
		fmt.Fprintf(out, "ERROR ldap: %v\n", err)
		return 1
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), directoryTimeout)
	defer cancel()
	if err := d.Probe(ctx); err != nil {
		fmt.Fprintf(out, "ERROR ldap %s: %v\n", strings.Join(o.URLs, " "), err)
		return 1
	}
	fmt.Fprintf(out, "ldap %s: ok (%s); a password changed in the directory stops working within %s (ldap.cache_lifetime)\n",
		strings.Join(o.URLs, " "), serviceAccount(o), o.CacheLifetime)
	problems := 0
	for _, name := range rules.Users() {
		u, _ := rules.User(name)
		a, err := lookupUser(ctx, d, name)
		if err != nil {
			fmt.Fprintf(out, "ERROR ldap: looking up %q: %v\n", name, err)
			return problems + 1
		}
		problems += checkDirectoryUser(out, rules, o, u, a)
	}
	return problems + checkGroupMap(out, rules, o)
}

func serviceAccount(o *ldapauth.Options) string {
	if o.BindDN == "" {
		return "anonymous searches"
	}
	return "service bind as " + o.BindDN
}

func checkDirectoryUser(out io.Writer, rules *acl.Rules, o *ldapauth.Options, u acl.User, a directoryAnswer) int {
	hasPassword := len(u.PassHash) > 0
	switch {
	case hasPassword && a.found && o.Precedence == "":
		fmt.Fprintf(out, "ERROR user %s has a password in the files and is in the directory (%s): "+
			"set ldap.precedence = \"file\" or \"directory\" to say which decides (until then the files do)\n", u.Name, a.entry.DN)
		return 1
	case hasPassword && a.found:
		fmt.Fprintf(out, "user %s has a password in the files and is in the directory (%s): ldap.precedence = %q decides\n",
			u.Name, a.entry.DN, o.Precedence)
	case !hasPassword && !a.found:
		fmt.Fprintf(out, "ERROR user %s has no password in the files and is not in the directory: nobody can log in as this user\n", u.Name)
		return 1
	}
	if decidedByDirectory(hasPassword, a.found, *o) {
		printDirectoryUser(out, rules, u.Name, a.entry)
	}
	return 0
}

// printDirectoryUser writes a directory user's entry, groups and rules.
func printDirectoryUser(out io.Writer, rules *acl.Rules, name string, e ldapauth.Entry) {
	fmt.Fprintf(out, "directory user %s (%s; %s), most specific rule first:\n", name, e.DN, describeGroups(e))
	printRules(out, rules.Effective(acl.Subject{Name: name, Groups: e.RuleGroups()}))
}

// checkGroupMap says which directory groups feed each group of the rules,
// and reports a group_map entry whose group the rules do not define: it
// grants nothing, which is rarely what was meant.
func checkGroupMap(out io.Writer, rules *acl.Rules, o *ldapauth.Options) int {
	defined := rules.Groups()
	feeds := map[string][]string{}
	for from, to := range o.GroupMap {
		feeds[to] = append(feeds[to], from)
	}
	for _, g := range defined {
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
	problems := 0
	for _, to := range slices.Sorted(maps.Keys(feeds)) {
		if !slices.Contains(defined, to) {
			fmt.Fprintf(out, "ERROR ldap.group_map: %q maps to group %q, which the groups file does not define: it grants nothing\n",
				strings.Join(feeds[to], ", "), to)
			problems++
		}
	}
	return problems
}

// explainDirectory decides who name is for explain, as a login would: the
// subject with the directory's groups when the directory checks its
// password, or as the files have it. It notes what it found.
func explainDirectory(cfg *config.Config, rules *acl.Rules, name string, out io.Writer) (acl.Subject, error) {
	subject := acl.Subject{Name: name}
	u, inFiles := rules.User(name)
	hasPassword := len(u.PassHash) > 0
	d, err := daemon.LoadDirectory(cfg.LDAP, nil, nil)
	if err != nil {
		return subject, err
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), directoryTimeout)
	defer cancel()
	a, err := lookupUser(ctx, d, name)
	switch {
	case err != nil && hasPassword && cfg.LDAP.Precedence != ldapauth.PrecedenceDirectory:
		// The files decide this name whatever the directory says.
		fmt.Fprintf(out, "note: the directory could not be asked whether it has %q too: %v\n", name, err)
		return subject, nil
	case err != nil:
		return subject, err
	}
	switch {
	case decidedByDirectory(hasPassword, a.found, *cfg.LDAP):
		subject.Groups = a.entry.RuleGroups()
		fmt.Fprintf(out, "note: %q logs in from the directory: %s; %s\n", name, a.entry.DN, describeGroups(a.entry))
	case a.found:
		fmt.Fprintf(out, "note: %q is in the directory too (%s), but the password in the files decides (ldap.precedence = %q)\n",
			name, a.entry.DN, cfg.LDAP.Precedence)
	case !inFiles || !hasPassword:
		fmt.Fprintf(out, "note: %q is neither in the directory nor has a password in the files; a real request with this name gets 401\n", name)
	}
	return subject, nil
}
