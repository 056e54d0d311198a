package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/crypto/bcrypt"

	"github.com/regtoken/regtoken/pkg/accounts"
	"github.com/regtoken/regtoken/pkg/acl"
)

var userUsage = usage{
	synopsis: "regtoken user add|passwd|del|revoke|list [flags] [NAME]",
	about: "Manage the users of the configured users.json (acl.users) or htpasswd file (acl.htpasswd):\n" +
		"  add     add a user with a password and rules\n" +
		"  passwd  change a user's password\n" +
		"  del     delete a user\n" +
		"  revoke  revoke a user's refresh tokens on every replica (needs [store])\n" +
		"  list    list the users\n" +
		"Files are changed in place of the user concerned only, replaced atomically with their mode and owner,\n" +
		"and only when they still load afterwards. A running regtoken serve picks the change up within 2 seconds.\n" +
		"Run 'regtoken help user add' (etc.) for each one's flags.",
	example: "regtoken user add -config /etc/regtoken/regtoken.toml -repo 'team-a/*=pull,push' -group ops alice",
	exit:    exitHelp,
}

func userCommands() []command {
	return []command{
		{"add", "add a user", runUserAdd, usage{
			synopsis: "regtoken user add [-config regtoken.toml] [-repo PATTERN=ACTIONS ...] [-group GROUP ...] [-catalog] [-cost 12] NAME",
			about: "Add a user. The password is read as regtoken hash reads it (asked twice without echo, or one line\n" +
				"from stdin). It goes into the htpasswd file when the configuration names one, else into users.json;\n" +
				"the rules go into users.json, laid out like the file's other entries.",
			args:    [][2]string{{"NAME", "the user name (no ':' or spaces)"}},
			example: "regtoken user add -repo 'team-a/**=pull,push' -repo 'team-a/secret=' -group ops alice",
			exit:    userExit,
		}},
		{"passwd", "change a user's password", runUserPasswd, usage{
			synopsis: "regtoken user passwd [-config regtoken.toml] [-cost 12] NAME",
			about:    "Replace a user's password where its hash is: its htpasswd line or its pass_hash in users.json.",
			args:     [][2]string{{"NAME", "an existing user"}},
			example:  "regtoken user passwd alice",
			exit:     userExit,
		}},
		{"del", "delete a user", runUserDel, usage{
			synopsis: "regtoken user del [-config regtoken.toml] NAME",
			about:    "Delete a user from users.json and the htpasswd file.",
			args:     [][2]string{{"NAME", "an existing user"}},
			example:  "regtoken user del alice",
			exit:     userExit,
		}},
		{"revoke", "revoke a user's refresh tokens on every replica", runUserRevoke, userRevokeUsage},
		{"list", "list the users", runUserList, usage{
			synopsis: "regtoken user list [-config regtoken.toml]",
			about:    "List every user with whether it can log in, its groups and whether it may list the catalog.",
			example:  "regtoken user list -config /etc/regtoken/regtoken.toml",
			exit:     userExit,
		}},
	}
}

var userExit = []string{"0  done", "1  the change was refused or could not be written (nothing was changed)", "2  bad command line or configuration file"}

// runUser runs a user subcommand; alone, or with -h, it prints the list.
func runUser(args []string, stdout, stderr io.Writer) int {
	return runSubcommand("user", args, stdout, stderr)
}

func runUserAdd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("user add", stdout, stderr)
	path := configFlag(fs)
	var rules accounts.Rules
	fs.Func("repo", "a repository rule `PATTERN=ACTIONS`, repeatable; ACTIONS is pull,push,delete or *, comma-separated; none (PATTERN=) denies",
		func(v string) error {
			r, err := parseRepoFlag(v)
			rules.Repositories = append(rules.Repositories, r)
			return err
		})
	fs.Func("group", "a `GROUP` to join, repeatable; it must be defined in the groups file", func(v string) error {
		rules.Groups = append(rules.Groups, v)
		return nil
	})
	fs.BoolVar(&rules.Catalog, "catalog", false, "may list the catalog (registry:catalog:*)")
	cost := costFlag(fs)
	return editUser(fs, args, path, cost, func(files acl.Files, name, hash string) (string, error) {
		return "added", accounts.Add(files, name, hash, rules)
	})
}

func runUserPasswd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("user passwd", stdout, stderr)
	path := configFlag(fs)
	cost := costFlag(fs)
	return editUser(fs, args, path, cost, func(files acl.Files, name, hash string) (string, error) {
		return "changed the password of", accounts.SetPassword(files, name, hash)
	})
}

func runUserDel(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("user del", stdout, stderr)
	path := configFlag(fs)
	return editUser(fs, args, path, nil, func(files acl.Files, name, _ string) (string, error) {
		return "deleted", accounts.Delete(files, name)
	})
}

// editUser parses NAME and the flags, loads the configuration, reads a
// password when cost is not nil, and runs the edit.
func editUser(fs *flags, args []string, path *string, cost *int, edit func(acl.Files, string, string) (string, error)) int {
	name, cfg, code, ok := parseNameAndConfig(fs, args, path)
	if !ok {
		return code
	}
	var hash string
	if cost != nil {
		if err := checkCost(*cost); err != nil {
			fs.errorf("%v", err)
			return exitUsage
		}
		var err error
		if hash, err = hashPassword(os.Stdin, fs.stderr, *cost); err != nil {
			fs.errorf("%v", err)
			return exitProblem
		}
	}
	done, err := edit(cfg.ACL, name, hash)
	if err != nil {
		fs.errorf("%v", err)
		return exitProblem
	}
	fmt.Fprintf(fs.stdout, "%s %s in %s; a running regtoken serve applies it within 2 seconds\n",
		done, name, strings.Join(userFiles(cfg.ACL), " and "))
	return exitOK
}

func userFiles(f acl.Files) []string {
	var out []string
	for _, p := range []string{f.Users, f.Htpasswd} {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseRepoFlag reads PATTERN=ACTIONS; the pattern and the actions are
// checked with the whole file, by package acl.
func parseRepoFlag(v string) (accounts.Rule, error) {
	i := strings.LastIndexByte(v, '=')
	if i <= 0 {
		return accounts.Rule{}, errors.New("want PATTERN=ACTIONS, e.g. team/*=pull,push")
	}
	r := accounts.Rule{Pattern: v[:i]}
	if actions := v[i+1:]; actions != "" {
		r.Actions = strings.Split(actions, ",")
	}
	return r, nil
}

func runUserList(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("user list", stdout, stderr)
	path := configFlag(fs)
	if _, code, ok := fs.parse(args, 0, 0); !ok {
		return code
	}
	_, rules, code, ok := loadRules(fs, *path)
	if !ok {
		return code
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "USER\tLOGIN\tGROUPS\tCATALOG")
	for _, name := range rules.Users() {
		u, _ := rules.User(name)
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", name, loginState(u), nameOr(strings.Join(u.Groups, ","), "-"), yesNo(u.Catalog))
	}
	w.Flush()
	return exitOK
}

// loginState says whether the user can log in with a password.
func loginState(u acl.User) string {
	if len(u.PassHash) == 0 {
		return "no password"
	}
	if _, err := bcrypt.Cost(u.PassHash); err != nil {
		return "invalid hash"
	}
	return "password"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
