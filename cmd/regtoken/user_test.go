package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// userConfig is a configuration around a copy of testdata's users.json and
// groups.json (no htpasswd).
func userConfig(t *testing.T) (config, users string) {
	t.Helper()
	dir := checkFixture(t, 0o600)
	config = filepath.Join(dir, "users.toml")
	os.WriteFile(config, []byte("[token]\nissuer='i'\nservices=['s']\nkey='RootCA.key'\n[acl]\nusers='users.json'\ngroups='groups.json'\n"), 0o644)
	return config, filepath.Join(dir, "users.json")
}

func TestUserCommands(t *testing.T) {
	config, users := userConfig(t)
	withStdin(t, "s3cret-alice\n")
	cliCase{[]string{"user", "add", "alice", "-config", config, "-cost", "4", "-repo", "team/*=pull,push", "-repo", "team/secret=", "-group", "team-a", "-catalog"},
		0, "added alice in " + users + "; a running regtoken serve applies it within 2 seconds", "s3cret"}.runExcept(t)
	text, _ := os.ReadFile(users)
	if !strings.Contains(string(text), `"alice": {`) || !strings.Contains(string(text), `"team/secret": []`) || strings.Contains(string(text), "s3cret") {
		t.Errorf("users.json:\n%s", text)
	}
	cliCase{[]string{"user", "list", "-config", config}, 0, "alice  password     team-a      yes\n", ""}.run(t)
	cliCase{[]string{"user", "list", "-config", config}, 0, "carol  no password  team-a,ops  yes\n", ""}.run(t)

	withStdin(t, "another\n")
	cliCase{[]string{"user", "add", "-config", config, "-cost", "4", "alice"}, 1, "", "regtoken user add: accounts: user exists: alice"}.run(t)

	withStdin(t, "new-password\n")
	cliCase{[]string{"user", "passwd", "-config", config, "-cost", "5", "alice"}, 0, "changed the password of alice", ""}.run(t)
	text, _ = os.ReadFile(users)
	hash := strings.SplitN(strings.SplitN(string(text), `"alice": {`, 2)[1], `"pass_hash": "`, 2)[1][:60]
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte("new-password")) != nil {
		t.Errorf("alice's new hash %q does not match the new password", hash)
	}

	cliCase{[]string{"user", "del", "alice", "-config", config}, 0, "deleted alice", ""}.run(t)
	cliCase{[]string{"user", "del", "alice", "-config", config}, 1, "", "accounts: no such user: alice"}.run(t)
}

func TestUserCommandLine(t *testing.T) {
	config, _ := userConfig(t)
	for _, c := range []cliCase{
		{[]string{"user"}, 0, "usage: regtoken user add|passwd|del|revoke|list", ""},
		{[]string{"help", "user", "add"}, 0, "-repo PATTERN=ACTIONS", ""},
		{[]string{"user", "add", "-h"}, 0, "NAME       the user name", ""},
		{[]string{"user", "rename"}, 2, "", `regtoken user: unknown subcommand "rename" (want add, passwd, del, revoke or list)`},
		{[]string{"user", "add", "-config", config}, 2, "", "regtoken user add: missing NAME"},
		{[]string{"user", "del", "-config", config, "a", "b"}, 2, "", `regtoken user del: unexpected argument "b"`},
		{[]string{"user", "add", "-repo", "team", "x"}, 2, "", `invalid value "team" for flag -repo: want PATTERN=ACTIONS`},
		{[]string{"user", "add", "-cost", "2", "-config", config, "x"}, 2, "", "-cost 2 is outside 4-31"},
		{[]string{"user", "list", "-config", config, "extra"}, 2, "", `unexpected argument "extra"`},
	} {
		c.run(t)
	}
}
