package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/token"
)

// runExplain prints, per scope, what a user (or anonymous) would be granted and
// the rule that decided, without needing the user's password. A directory
// user's groups come from the directory, read with the service account.
func runExplain(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("explain", stderr)
	path := fs.String("config", "regtoken.toml", "configuration file")
	user := fs.String("user", "", "user name (empty: anonymous)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "regtoken explain: name at least one scope, e.g. repository:team/app:pull,push")
		return exitUsage
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	rules, err := acl.Load(cfg.ACL)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	scopes, err := token.ParseScopes(fs.Args())
	if err != nil {
		fmt.Fprintln(stderr, "regtoken explain:", err)
		return exitUsage
	}
	subject := acl.Subject{Name: *user, Anonymous: *user == ""}
	who := "anonymous"
	switch {
	case subject.Anonymous:
	case cfg.LDAP != nil:
		who = "user " + *user
		if subject, err = explainDirectory(cfg, rules, *user, stdout); err != nil {
			fmt.Fprintln(stderr, "regtoken explain: ldap:", err)
			return 1
		}
	default:
		who = "user " + *user
		if _, ok := rules.User(*user); !ok {
			fmt.Fprintf(stdout, "note: %q is not a known user; a real request with this name gets 401\n", *user)
		}
	}
	for _, s := range scopes {
		d := rules.Decide(subject, s.Type, s.Name, s.Actions)
		fmt.Fprintf(stdout, "%s %s -> [%s] %s\n", who, s, strings.Join(d.Granted, ","), because(d))
	}
	return 0
}

func because(d acl.Decision) string {
	switch {
	case d.Rule == (acl.RuleRef{}):
		return "(no rule matched: denied)"
	case d.Denied:
		return "(denied by " + d.Rule.String() + ")"
	}
	return "(by " + d.Rule.String() + ")"
}
