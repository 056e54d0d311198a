package daemon

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/ldapauth"
	"github.com/regtoken/regtoken/pkg/robot"
)

// checkRobots warns of robots that expired or expire within
// robot.WarnBefore: the configuration is fine, a pipeline is about to
// break, or has.
func (r *Report) checkRobots(robots *robot.Set, now time.Time) {
	if robots == nil {
		return
	}
	for _, b := range robots.Robots() {
		switch {
		case b.Expires.IsZero():
		case b.Expired(now):
			r.add(Warning, "robot %s expired %s: its logins are refused; rotate it with a new expiry or revoke it",
				b.Name, b.Expires.UTC().Format(time.DateOnly))
		case b.Expires.Sub(now) < robot.WarnBefore:
			r.add(Warning, "robot %s expires in %d days (%s): regtoken robot rotate %s -expires 90d, and update its users",
				b.Name, int(b.Expires.Sub(now).Hours()/24), b.Expires.UTC().Format(time.DateOnly), b.Name)
		}
	}
}

// checkGroupMap reports a group_map entry whose group the rules do not
// define: it grants nothing, which is rarely what was meant.
func (r *Report) checkGroupMap(o *ldapauth.Options, rules *acl.Rules) {
	if o == nil {
		return
	}
	feeds := map[string][]string{}
	for from, to := range o.GroupMap {
		feeds[to] = append(feeds[to], from)
	}
	for _, to := range slices.Sorted(maps.Keys(feeds)) {
		if _, defined := rules.GroupRules(to); !defined {
			slices.Sort(feeds[to])
			r.add(Problem, "ldap.group_map: %q maps to group %q, which the groups file does not define: it grants nothing",
				strings.Join(feeds[to], ", "), to)
		}
	}
}

// directoryCheckTimeout bounds what Preflight, and explain, ask the
// directory.
const directoryCheckTimeout = time.Minute

// DirectoryUser is what the directory says about one user name.
type DirectoryUser struct {
	Name        string
	HasPassword bool // the rule files hold a password for the name
	Found       bool // the directory has the name
	Entry       ldapauth.Entry
}

// DecidedByDirectory reports whether the directory checks the user's
// password, as authentication decides it: a name the directory has,
// unless the files hold a password too and ldap.precedence leaves the
// decision to them.
func (u DirectoryUser) DecidedByDirectory(o *ldapauth.Options) bool {
	return u.Found && (!u.HasPassword || o.Precedence == ldapauth.PrecedenceDirectory)
}

// LookupDirectoryUser asks d, with the service account, about name, which
// the rule files may have too.
func LookupDirectoryUser(ctx context.Context, d *ldapauth.Directory, rules *acl.Rules, name string) (DirectoryUser, error) {
	u, _ := rules.User(name)
	du := DirectoryUser{Name: name, HasPassword: len(u.PassHash) > 0}
	e, err := d.Lookup(ctx, name)
	switch {
	case errors.Is(err, authn.ErrUnknownUser):
		return du, nil
	case err != nil:
		return du, err
	}
	du.Found, du.Entry = true, e
	return du, nil
}

// DirectoryContext is the context of a conversation with the directory on
// behalf of an operator (check, explain).
func DirectoryContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), directoryCheckTimeout)
}

// checkDirectory connects to d with the service account, then asks it
// about every user the rule files name. A user the files give a password
// whom the directory knows too is a problem unless ldap.precedence says
// which decides; a user the files give no password whom the directory does
// not know can log in nowhere. A directory that does not answer is a
// problem: serve starts and answers its users 503 until it does.
func (r *Report) checkDirectory(o *ldapauth.Options, d *ldapauth.Directory, rules *acl.Rules) {
	if d == nil {
		return
	}
	ctx, cancel := DirectoryContext()
	defer cancel()
	if err := d.Probe(ctx); err != nil {
		r.add(Problem, "ldap %s: %v", strings.Join(o.URLs, " "), err)
		return
	}
	r.DirectoryReached = true
	for _, name := range rules.Users() {
		u, err := LookupDirectoryUser(ctx, d, rules, name)
		if err != nil {
			r.add(Problem, "ldap: looking up %q: %v", name, err)
			return
		}
		switch {
		case u.HasPassword && u.Found && o.Precedence == "":
			r.add(Problem, "user %s has a password in the files and is in the directory (%s): "+
				"set ldap.precedence = \"file\" or \"directory\" to say which decides (until then the files do)", name, u.Entry.DN)
		case !u.HasPassword && !u.Found:
			r.add(Problem, "user %s has no password in the files and is not in the directory: nobody can log in as this user", name)
		}
		if u.Found {
			r.DirectoryUsers = append(r.DirectoryUsers, u)
		}
	}
}
