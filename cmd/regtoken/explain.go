package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/token"
)

var explainUsage = usage{
	synopsis: "regtoken explain [-config regtoken.toml] [-user NAME] SCOPE...",
	about: "Show, for each scope, the actions a user (or, without -user, an anonymous client) would be granted\n" +
		"and the rule that decided: file, owner and key. No password is needed.",
	args:    [][2]string{{"SCOPE...", "one or more scopes as registries ask for them: TYPE:NAME:ACTIONS, e.g. repository:team/app:pull,push"}},
	example: "regtoken explain -config /etc/regtoken/regtoken.toml -user alice repository:team/app:pull,push",
	exit:    []string{"0  the decisions were printed", "1  the rule files could not be loaded", "2  bad command line, scope or configuration file"},
}

// runExplain prints, per scope, what a user (or anonymous) would be granted and
// the rule that decided, without needing the user's password.
func runExplain(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("explain", stdout, stderr)
	path := configFlag(fs)
	user := fs.String("user", "", "user `NAME` (empty: anonymous)")
	scopeArgs, code, ok := fs.parse(args, 1, -1)
	if !ok {
		return code
	}
	scopes, err := token.ParseScopes(scopeArgs)
	if err != nil {
		fs.errorf("%v", err)
		return exitUsage
	}
	rules, code, ok := loadRules(fs, *path)
	if !ok {
		return code
	}
	subject := acl.Subject{Name: *user, Anonymous: *user == ""}
	who := "anonymous"
	if !subject.Anonymous {
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
