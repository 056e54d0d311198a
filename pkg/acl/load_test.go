package acl

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// hashFragments are parts of the hashes used in these tests; no message may contain one.
var hashFragments = []string{"t3CyGthihgneFNCk", "UCCJVe.oW2n", "$apr1$abc", "{SHA}qUqP5", "$2y$12$short", "$1$abc", "$2b$99$"}

const (
	fooHash   = "$2b$12$t3CyGthihgneFNCkMY3Cj.8/3aB3dijI2k.HcJ35m2tSQifoMRvgu"
	carolLine = "carol:$2y$12$UCCJVe.oW2n.6f34U5QeMOU0eULrYrpgofqZ3D6zUXxlIPZQurziu\n"
)

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name     string
		files    files
		sentinel error
		contains []string
	}{
		{"broken JSON on line 3", files{users: "{\n  \"foo\": {\n    \"pass_hash\": \"x\",,\n  }\n}\n"},
			ErrSyntax, []string{"users.json", "line 3"}},
		{"truncated", files{users: "{\n  \"foo\": {\n"}, ErrSyntax, []string{"users.json"}},
		{"unknown action", files{users: "{\n\"foo\": {\n\"repositories\": {\n\"app\": [\"pul\"]}}}"},
			ErrInvalid, []string{"users.json", "line 4", `"app"`, `unknown action "pul"`}},
		{"null action list", files{users: `{"foo": {"repositories": {"app": null}}}`},
			ErrInvalid, []string{"line 1", "use [] to deny"}},
		{"actions not a list", files{users: "{\"foo\": {\n\"repositories\": {\"app\": \"pull\"}}}"},
			ErrInvalid, []string{"line 2", `"app"`, "list of actions"}},
		{"user not an object", files{users: `{"foo": ["pull"]}`}, ErrInvalid, []string{`user "foo"`, "want an object"}},
		{"top level not an object", files{users: `["foo"]`}, ErrInvalid, []string{"users.json", "want an object"}},
		{"catalog not a boolean", files{users: `{"foo": {"catalog": "yes"}}`}, ErrInvalid, []string{`"catalog"`}},
		{"unknown variable", files{users: `{"foo": {"repositories": {"${account}/*": ["pull"]}}}`},
			ErrInvalid, []string{"${account}", "unknown variable"}},
		{"** inside a component", files{users: `{"foo": {"repositories": {"team/a**": ["pull"]}}}`},
			ErrInvalid, []string{`"team/a**"`, "whole path component"}},
		{"bad tokens_not_before", files{users: "{\"foo\": {\n\n\"tokens_not_before\": \"yesterday\"}}"},
			ErrInvalid, []string{"line 3", "RFC 3339"}},
		{"${user} in the public list", files{repos: "{\"repositories\": [\n\"${user}/*\"]}"},
			ErrInvalid, []string{"repositories.json", "line 2", "public list"}},
		{"public list not a list", files{repos: `{"repositories": "some-image"}`},
			ErrInvalid, []string{"repositories.json", "want a list"}},
		{"backlist and blacklist differ", files{repos: "{\"backlist\": true,\n\"blacklist\": false}"},
			ErrConflict, []string{"repositories.json", "line 2", "differ"}},
		{"group actions", files{groups: "{\"g\": {\"repositories\": {\n\"x\": [\"write\"]}}}"},
			ErrInvalid, []string{"groups.json", "line 2", `"write"`}},
		{"htpasswd MD5", files{htpasswd: carolLine + "erin:$apr1$abc$defghijklmnopqrstuvwx0\n"},
			ErrUnsupportedHash, []string{"htpasswd", "line 2", `"erin"`, "bcrypt"}},
		{"htpasswd SHA", files{htpasswd: "\n# comment\nerin:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n"},
			ErrUnsupportedHash, []string{"htpasswd", "line 3"}},
		{"htpasswd truncated bcrypt", files{htpasswd: "erin:$2y$12$short\n"}, ErrUnsupportedHash, []string{"line 1"}},
		{"htpasswd without colon", files{htpasswd: carolLine + "erin\n"}, ErrSyntax, []string{"htpasswd", "line 2"}},
		{"htpasswd user twice", files{htpasswd: carolLine + carolLine}, ErrConflict, []string{"line 2", "line 1"}},
		{"two hashes for one user", files{
			users:    "{\n\"carol\": {\"pass_hash\": \"" + fooHash + "\"}}",
			htpasswd: carolLine,
		}, ErrConflict, []string{"users.json", "line 2", `"carol"`, "htpasswd (line 1)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse(bytesOrNil(tt.files.users), bytesOrNil(tt.files.repos), bytesOrNil(tt.files.groups),
				bytesOrNil(tt.files.htpasswd), Files{})
			if err == nil || r != nil {
				t.Fatalf("Parse = %v, %v; want only an error wrapping %v", r, err, tt.sentinel)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("error %q does not wrap %v", err, tt.sentinel)
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Errorf("error %q is not a *LoadError", err)
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			for _, secret := range hashFragments {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows a password hash", err)
				}
			}
		})
	}
}

func TestLoadBrokenFixture(t *testing.T) {
	path := filepath.Join(testdata, "broken", "users-line3.json")
	_, err := Load(Files{Users: path})
	if !errors.Is(err, ErrSyntax) {
		t.Fatalf("Load: %v, want ErrSyntax", err)
	}
	var le *LoadError
	if !errors.As(err, &le) || le.File != path || le.Line != 3 {
		t.Fatalf("Load: %#v, want a *LoadError for %s line 3", err, path)
	}
	if msg := err.Error(); !strings.Contains(msg, "users-line3.json") || !strings.Contains(msg, "line 3") {
		t.Errorf("message %q names neither file nor line", msg)
	}
}

func TestLoadMissingAndEmptyFiles(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.json")
	if _, err := Load(Files{Repositories: missing}); !errors.Is(err, fs.ErrNotExist) ||
		!strings.Contains(err.Error(), missing) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist naming %s", err, missing)
	}
	empty := filepath.Join(dir, "users.json")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(Files{Users: empty}); !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), empty) {
		t.Errorf("Load(empty users.json) = %v, want ErrSyntax naming the file", err)
	}
	r, err := Load(Files{})
	if err != nil {
		t.Fatalf("Load(no files) = %v", err)
	}
	if got := r.Decide(user("x"), "repository", "a", []string{"pull"}); len(got.Granted) != 0 {
		t.Errorf("no files, yet granted %v", got.Granted)
	}
}

func TestExtendedFixture(t *testing.T) {
	f := extendedFiles()
	r := load(t, f)

	if got, want := r.Users(), []string{"bar", "carol", "dave", "erin", "foo"}; !slices.Equal(got, want) {
		t.Errorf("Users() = %v, want %v", got, want)
	}
	if got, want := r.Groups(), []string{"ops", "team-a"}; !slices.Equal(got, want) {
		t.Errorf("Groups() = %v, want %v", got, want)
	}
	if p := r.Check(); len(p) != 0 {
		t.Errorf("Check() = %v, want no problems", p)
	}

	dave, ok := r.User("dave")
	wantTime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if !ok || !dave.TokensNotBefore.Equal(wantTime) || !slices.Equal(dave.Groups, []string{"team-a"}) ||
		dave.Catalog || !strings.HasPrefix(string(dave.PassHash), "$2b$12$") {
		t.Errorf("User(dave) = %+v, %v", dave, ok)
	}
	carol, _ := r.User("carol")
	if !strings.HasPrefix(string(carol.PassHash), "$2y$12$") || !carol.Catalog || !carol.TokensNotBefore.IsZero() {
		t.Errorf("User(carol): hash from htpasswd, catalog via ops expected; got catalog=%v", carol.Catalog)
	}
	carol.PassHash[0], carol.Groups[0] = 'X', "X" // callers get copies
	if again, _ := r.User("carol"); again.PassHash[0] != '$' || again.Groups[0] != "team-a" {
		t.Error("User returned slices shared with Rules")
	}
	if _, ok := r.User("nobody"); ok {
		t.Error(`User("nobody") found`)
	}

	ops := RuleRef{File: f.Groups, Owner: "group ops", Key: "team-a/secret"}
	for _, q := range []request{
		// dave's own exact deny beats team-a's pattern.
		repo(user("dave"), "team-a/secret", "pull").deniedBy(RuleRef{File: f.Users, Owner: "user dave", Key: "team-a/secret"}),
		repo(user("dave"), "team-a/app/x", "pull", "push").grants("pull", "push"),
		repo(user("dave"), "dave/tool", "*").grants("pull", "push", "delete", "*"),
		repo(user("dave"), "home/dave", "delete").grants("delete"),
		// carol (htpasswd) is in team-a and ops: ops' exact key wins for the secret.
		repo(user("carol"), "team-a/secret", "pull", "push", "delete").grants("pull", "delete").by(ops),
		repo(user("carol"), "team-b/x", "pull", "push").grants("pull"),
		repo(user("carol"), "home/carol", "push").grants("push"),
		repo(user("carol"), "home/dave", "push"),
		{subject: user("carol"), typ: "registry", name: "catalog", actions: []string{"*"}, granted: []string{"*"},
			rule: RuleRef{File: f.Groups, Owner: "group ops", Key: "catalog"}, wantRule: true},
		{subject: user("bar"), typ: "registry", name: "catalog", actions: []string{"*"}, granted: []string{"*"}},
		{subject: user("dave"), typ: "registry", name: "catalog", actions: []string{"*"}},
		// erin is only in htpasswd: public rules only.
		repo(user("erin"), "public/a/b", "pull", "push").grants("pull"),
		repo(user("erin"), "team-a/app", "pull"),
		repo(anonymous, "some-image", "pull").grants("pull"),
	} {
		q.check(t, r)
	}
}

func TestEffective(t *testing.T) {
	r := files{
		users:  `{"u": {"groups": ["g"], "catalog": true, "repositories": {"*": [], "${user}/*": ["push", "pull"]}}}`,
		groups: `{"g": {"catalog": true, "repositories": {"g/app": ["*"]}}}`,
		repos:  `{"repositories": ["pub/*"]}`,
	}.parse(t)
	var got []string
	for _, rl := range r.Effective(user("u")) {
		got = append(got, rl.String())
	}
	want := []string{
		`groups.json: group g, key "g/app" -> [*]`,
		`repositories.json: anonymous, key "pub/*" -> [pull]`, // "pub/" is longer than "u/"
		`users.json: user u, key "${user}/*" -> [pull push]`,
		`users.json: user u, key "*" -> deny`,
		`users.json: user u, key "catalog" -> [*]`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Effective(u) =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := r.Effective(anonymous); len(got) != 1 || got[0].Ref.Key != "pub/*" {
		t.Errorf("Effective(anonymous) = %v", got)
	}
	rules, ok := r.GroupRules("g")
	if !ok || len(rules) != 2 || rules[0].String() != `groups.json: group g, key "g/app" -> [*]` ||
		rules[1].Ref.Key != "catalog" {
		t.Errorf("GroupRules(g) = %v, %v", rules, ok)
	}
	if _, ok := r.GroupRules("nope"); ok {
		t.Error(`GroupRules("nope") found`)
	}
}
