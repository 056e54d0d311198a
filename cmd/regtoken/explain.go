package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/token"
)

var explainUsage = usage{
	synopsis: "regtoken explain [-config regtoken.toml] [-user NAME | -claims FILE [-issuer NAME] | -robot NAME] SCOPE...",
	about: "Show, for each scope, the actions a user (or, without -user, an anonymous client), a CI job's or a pod's\n" +
		"ID token (-claims) or a robot (-robot) would be granted, and the rule that decided: file, owner and key.\n" +
		"No password, signature or secret is needed. With [ldap], a user's groups come from the directory, asked\n" +
		"with the service account.",
	args:    [][2]string{{"SCOPE...", "one or more scopes as registries ask for them: TYPE:NAME:ACTIONS, e.g. repository:team/app:pull,push"}},
	example: "regtoken explain -config /etc/regtoken/regtoken.toml -user alice repository:team/app:pull,push",
	exit: []string{"0  the decisions were printed (or the token or robot would be refused, and why)",
		"1  the rule files, the claims or the robots could not be read, or the directory could not be asked",
		"2  bad command line, scope or configuration file"},
}

// runExplain prints, per scope, what a user (or anonymous), a CI job's or a
// pod's token (-claims) or a robot (-robot) would be granted and the rule
// that decided, without needing a password, the token's signature or a
// secret. A directory user's groups come from the directory, read with the
// service account.
func runExplain(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("explain", stdout, stderr)
	path := configFlag(fs)
	user := fs.String("user", "", "user `NAME` (empty: anonymous)")
	claims := fs.String("claims", "", "a CI job's or a pod's ID token, or its claims as JSON, in `FILE`: what that token would get")
	issuer := fs.String("issuer", "", "with -claims: the [[oidc]] issuer's `NAME` (default: the one the claims' iss names)")
	robotName := fs.String("robot", "", "a robot account's `NAME`: what it gets")
	scopeArgs, code, ok := fs.parse(args, 1, -1)
	if !ok {
		return code
	}
	scopes, err := token.ParseScopes(scopeArgs)
	if err != nil {
		fs.errorf("%v", err)
		return exitUsage
	}
	cfg, rules, code, ok := loadRules(fs, *path)
	if !ok {
		return code
	}
	subject := acl.Subject{Name: *user, Anonymous: *user == ""}
	who := "anonymous"
	switch {
	case *claims != "" || *robotName != "":
		s, w, ok, err := machineSubject(cfg, rules, *claims, *issuer, *robotName, stdout)
		if err != nil {
			fs.errorf("%v", err)
			return exitProblem
		}
		if !ok {
			return exitOK
		}
		subject, who = s, w
	case subject.Anonymous:
	case cfg.LDAP != nil:
		who = "user " + *user
		if subject, err = explainDirectory(cfg, rules, *user, stdout); err != nil {
			fs.errorf("ldap: %v", err)
			return exitProblem
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
	return exitOK
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
