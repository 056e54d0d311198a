package acl

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseRules feeds arbitrary users.json bytes to Parse (with a fixed
// groups and public file) and, when they load, exercises Decide and Check:
// none of them may panic, and a decision must keep its invariants.
func FuzzParseRules(f *testing.F) {
	for _, name := range []string{"original/users.json", "extended/users.json", "broken/users-line3.json"} {
		b, err := os.ReadFile(filepath.Join(testdata, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"u": {"groups": ["g", "x"], "catalog": true, "repositories": {"${user}/**/*": [], "**": ["*"]}}}`))
	f.Add([]byte(`{"u": {"repositories": {"a": ["pull"], "a": null}}, "u": 1}`))
	f.Add([]byte(`{"": {"pass_hash": "", "tokens_not_before": "2026-01-02T03:04:05+01:00"}}`))
	groups := []byte(`{"g": {"repositories": {"home/${user}": ["pull"], "*": []}, "catalog": true}}`)
	public := []byte(`{"backlist": true, "repositories": ["secret/**", "x"]}`)
	names := []string{"", "a", "a/b", "u/x", "home/u", "secret/a/b", "x", "a//b", "/"}

	f.Fuzz(func(t *testing.T, users []byte) {
		r, err := Parse(users, public, groups, nil, Files{})
		if err != nil {
			if r != nil {
				t.Fatal("Parse returned rules and an error")
			}
			return
		}
		r.Check()
		subjects := []Subject{anonymous}
		for _, n := range r.Users() {
			subjects = append(subjects, Subject{Name: n})
			r.Effective(Subject{Name: n})
		}
		for _, s := range subjects {
			for _, name := range names {
				d := r.Decide(s, "repository", name, []string{"pull", "push", "*"})
				if d.Granted == nil || (d.Denied && len(d.Granted) != 0) {
					t.Fatalf("Decide(%+v, %q) = %+v", s, name, d)
				}
			}
			r.Decide(s, "registry", "catalog", []string{"*"})
		}
	})
}
