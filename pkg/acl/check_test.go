package acl

import (
	"strings"
	"testing"

	"github.com/regtoken/regtoken/pkg/token"
)

func TestCheck(t *testing.T) {
	r := files{
		users: `{
  "nohash": {"repositories": {"ok": ["pull"]}},
  "md5": {"pass_hash": "$1$abc$def"},
  "badcost": {"pass_hash": "$2b$99$t3CyGthihgneFNCkMY3Cj.8/3aB3dijI2k.HcJ35m2tSQifoMRvgu"},
  "good": {
    "pass_hash": "` + fooHash + `",
    "groups": ["team", "ghost", "team"],
    "repositories": {"Team/App": ["pull"], "team/x": ["pull"], "team/x": ["push"], "shared": ["pull"], "-bad-*": []},
    "comment": "unknown keys are ignored, but reported"
  },
  "": {"pass_hash": "` + fooHash + `"},
  "Bob": {"pass_hash": "` + fooHash + `", "repositories": {"apps/${user}": ["pull"]}, "groups": ["team"]}
}`,
		groups: `{"team": {"repositories": {"shared": ["pull", "push"], "home/${user}": ["pull"]}, "colour": "blue"}}`,
		repos:  `{"backlist": false, "repositories": ["ok", "ok", "team/UPPER-*", "a/b"]}`,
	}.parse(t)

	want := []struct{ file, key, message string }{
		{"users.json", "nohash", "no pass_hash and no htpasswd entry"},
		{"users.json", "", "empty user name"},
		{"users.json", "md5", "not a bcrypt hash"},
		{"users.json", "badcost", "not a bcrypt hash"},
		{"users.json", "ghost", `group "ghost", which is not defined`},
		{"users.json", "team", "lists group \"team\" twice"},
		{"users.json", "Team/App", "matches no valid repository name"},
		{"users.json", "-bad-*", "matches no valid repository name"},
		{"users.json", "team/x", "duplicate key"},
		{"users.json", "comment", "unknown key"},
		{"users.json", "shared", `group "team" has [pull,push]`},
		{"users.json", "apps/${user}", `never matches for user "Bob"`},
		{"groups.json", "home/${user}", `never matches for user "Bob"`},
		{"groups.json", "colour", "unknown key"},
		{"repositories.json", "ok", "listed twice"},
		{"repositories.json", "team/UPPER-*", "matches no valid repository name"},
	}
	got := r.Check()
	for _, w := range want {
		found := false
		for _, p := range got {
			if p.File == w.file && p.Key == w.key && strings.Contains(p.Message, w.message) {
				found = true
			}
		}
		if !found {
			t.Errorf("Check() lacks %s %q %q", w.file, w.key, w.message)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Check() returned %d problems, want %d:\n%v", len(got), len(want), got)
	}
	for _, p := range got {
		for _, secret := range hashFragments {
			if strings.Contains(p.String(), secret) {
				t.Errorf("problem shows a password hash: %v", p)
			}
		}
		if !strings.HasPrefix(p.Message, "line ") {
			t.Errorf("problem without a line: %v", p)
		}
	}
}

func TestCanMatchValidName(t *testing.T) {
	for _, tt := range []struct {
		key  string
		want bool
	}{
		{"*", true}, {"some-image", true}, {"team/*", true}, {"team/**", true}, {"a/**/z", true},
		{"${user}/*", true}, {"app-*", true}, {"a__b", true}, {"localhost:5000/app", true},
		{"registry.example.com:*/app", true}, {"Example.com/app", true}, {"[::1]:5000/*", true},
		// "Team" reads as a host, as it does in the registry's own routes.
		{"Team/app", true}, {"Team/App", false}, {"Team", false}, {"team//app", false}, {"team/", false}, {"/team", false}, {"-a", false},
		{"a..b", false}, {"a*-", false}, {"app:latest", false}, {"a b", false},
		{strings.Repeat("a", 256), false},
	} {
		if got := canMatchValidName(tt.key); got != tt.want {
			t.Errorf("canMatchValidName(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

// A key without wildcards can match exactly when the token endpoint accepts
// it as a name: the check has no grammar of its own that could drift from
// the one scopes are parsed with.
func TestCheckUsesTheScopeGrammar(t *testing.T) {
	for _, name := range []string{
		"app", "team/app", "Team/app", "localhost:5000/app", "[::1]/app", "[fe80::1]:5000/a/b",
		"exa_mple.com/app", "Team", "team/App", "a..b", "[::1/app", "-team/app", strings.Repeat("a", 256),
	} {
		if got, want := canMatchValidName(name), token.ValidRepositoryName(name); got != want {
			t.Errorf("canMatchValidName(%q) = %v, but the scope grammar says %v", name, got, want)
		}
	}
}

// With a directory, a users.json entry without a password gives a directory
// user rules: no problem. A hash that is no bcrypt hash still is one.
func TestCheckDirectoryUsers(t *testing.T) {
	r, err := Parse([]byte(`{"carol": {"repositories": {"carol/*": ["push"]}}, "md5": {"pass_hash": "$1$abc$def"}}`),
		nil, nil, nil, Files{DirectoryUsers: true})
	if err != nil {
		t.Fatal(err)
	}
	got := r.Check()
	if len(got) != 1 || got[0].Key != "md5" {
		t.Errorf("Check() = %v, want only md5's hash", got)
	}
}

// A user named like a namespace that other keys name literally gets that
// namespace through ${user}: check says so, naming the rule and the key.
func TestCheckUserNamespaceCollisions(t *testing.T) {
	r := files{
		users: `{
  "team-a": {"pass_hash": "` + fooHash + `", "groups": ["devs"]},
  "alice": {"pass_hash": "` + fooHash + `", "groups": ["devs"], "repositories": {"team-a/app": ["pull"]}},
  "bob": {"pass_hash": "` + fooHash + `", "repositories": {"${user}/**": ["*"], "bob/tools": ["pull"]}},
  "docs": {"pass_hash": "` + fooHash + `", "groups": ["devs"]},
  "carol": {"pass_hash": "` + fooHash + `", "groups": ["homes"]},
  "home": {"pass_hash": "` + fooHash + `", "groups": ["devs"]}
}`,
		groups: `{
  "devs": {"repositories": {"${user}/*": ["*"]}},
  "homes": {"repositories": {"home/${user}/**": ["pull", "push"]}},
  "team-a-members": {"repositories": {"team-a/*": ["pull", "push"], "home/carol/shared": ["pull"]}}
}`,
		repos: `{"repositories": ["library/*", "docs/site"]}`,
	}.parse(t)
	want := map[string]string{
		"team-a": `user "team-a" gets [*] on "team-a/..." through "${user}/*" (group devs), a namespace that user alice names literally ("team-a/app", users.json line 3)`,
		"docs":   `a namespace that the public list names literally ("docs/site", repositories.json line 1)`,
		"carol":  `gets [pull,push] on "home/carol/..." through "home/${user}/**" (group homes), a namespace that group team-a-members names literally`,
		"home":   `user "home" gets [*] on "home/..." through "${user}/*" (group devs), a namespace that group team-a-members names literally ("home/carol/shared"`,
	}
	got := map[string]string{}
	for _, p := range r.Check() {
		got[p.Key] = p.String()
	}
	for user, message := range want {
		if !strings.Contains(got[user], message) {
			t.Errorf("user %s: problem %q, want one containing %q", user, got[user], message)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d problems, want %d (alice and bob collide with nobody): %v", len(got), len(want), got)
	}
}
