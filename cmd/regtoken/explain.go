package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/token"
)

// runExplain prints, per scope, what a user (or anonymous), a CI job's or a
// pod's token (-claims) or a robot (-robot) would be granted and the rule
// that decided, without needing a password, the token's signature or a
// secret. A directory user's groups come from the directory, read with the
// service account.
func runExplain(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("explain", stderr)
	path := fs.String("config", "regtoken.toml", "configuration file")
	user := fs.String("user", "", "user name (empty: anonymous)")
	claims := fs.String("claims", "", "a CI job's or a pod's ID token, or its claims as JSON: what that token would get")
	issuer := fs.String("issuer", "", "with -claims: the [[oidc]] issuer's name (default: the one the claims' iss names)")
	robotName := fs.String("robot", "", "a robot account: what it gets")
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
	case *claims != "" || *robotName != "":
		s, w, ok, err := machineSubject(cfg, rules, *claims, *issuer, *robotName, stdout)
		if err != nil {
			fmt.Fprintln(stderr, "regtoken explain:", err)
			return 1
		}
		if !ok {
			return 0
		}
		subject, who = s, w
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
