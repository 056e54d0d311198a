package main

import (
	"fmt"
	"io"
	"time"

	"github.com/regtoken/regtoken/pkg/daemon"
)

var userRevokeUsage = usage{
	synopsis: "regtoken user revoke [-config regtoken.toml] NAME",
	about: "Revoke a user's logins on every replica that shares the configured [store] (Valkey or Redis): refresh\n" +
		"tokens issued so far are refused, and password checks the replicas remember are checked again.\n" +
		"Replicas apply it within 1 second. The password itself stays valid: change it with 'regtoken user passwd'.\n" +
		"Without a [store], set tokens_not_before in users.json instead.",
	args:    [][2]string{{"NAME", "the user name (the files need not know it: directory users too)"}},
	example: "regtoken user revoke -config /etc/regtoken/regtoken.toml alice",
	exit:    []string{"0  revoked", "1  the store did not answer (nothing was changed)", "2  bad command line, configuration, or no [store]"},
}

func runUserRevoke(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("user revoke", stdout, stderr)
	path := configFlag(fs)
	name, cfg, code, ok := parseNameAndConfig(fs, args, path)
	if !ok {
		return code
	}
	if cfg.Store == nil {
		fs.errorf("%s has no [store]: without one, set tokens_not_before for %s in users.json", cfg.File, name)
		return exitUsage
	}
	store, err := daemon.OpenStore(cfg, nil)
	if err != nil {
		fs.errorf("%v", err)
		return exitUsage
	}
	defer store.Close()
	now := time.Now()
	if err := store.Revoke(name, now); err != nil {
		fs.errorf("%v", err)
		return exitProblem
	}
	// Revocations older than the longest a refresh token lives change
	// nothing any more.
	store.Prune(now.Add(-cfg.Refresh.Lifetime))
	fmt.Fprintf(fs.stdout, "revoked the refresh tokens and remembered logins of %s; every replica applies it within 1 second\n", name)
	return exitOK
}
