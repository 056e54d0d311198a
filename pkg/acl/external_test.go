package acl

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
)

func extendedFiles() Files {
	dir := filepath.Join(testdata, "extended")
	return Files{
		Users:        filepath.Join(dir, "users.json"),
		Repositories: filepath.Join(dir, "repositories.json"),
		Groups:       filepath.Join(dir, "groups.json"),
		Htpasswd:     filepath.Join(dir, "htpasswd"),
	}
}

func TestDirectoryGroupsGiveGroupRules(t *testing.T) {
	r := load(t, extendedFiles())
	// zoe is in no file: a directory vouches for her and her group team-a.
	zoe := Subject{Name: "zoe", Groups: []string{"team-a", "no-such-group"}}
	cases := []struct {
		name    string
		actions []string
		want    []string
	}{
		{"team-a/app", []string{"pull", "push"}, []string{"pull", "push"}},
		{"home/zoe", []string{"delete"}, []string{"delete"}}, // ${user} is zoe
		{"home/dave", []string{"pull"}, []string{}},
		{"team-b/x", []string{"pull"}, []string{}},
	}
	for _, c := range cases {
		if d := r.Decide(zoe, "repository", c.name, c.actions); !slices.Equal(d.Granted, c.want) {
			t.Errorf("zoe %s %v: %v, want %v", c.name, c.actions, d.Granted, c.want)
		}
	}
	if d := r.Decide(Subject{Name: "zoe"}, "repository", "team-a/app", []string{"pull"}); len(d.Granted) != 0 {
		t.Errorf("without the directory's groups zoe got %v", d.Granted)
	}
}

func TestDirectoryGroupsAddToFileUser(t *testing.T) {
	r := load(t, extendedFiles())
	// foo has only "some-image" in users.json; the directory adds ops.
	foo := Subject{Name: "foo", Groups: []string{"ops"}}
	if d := r.Decide(foo, "repository", "some-image", []string{"pull"}); !slices.Equal(d.Granted, []string{"pull"}) {
		t.Errorf("foo's own key lost: %v", d.Granted)
	}
	if d := r.Decide(foo, "repository", "team-a/secret", []string{"delete"}); !slices.Equal(d.Granted, []string{"delete"}) {
		t.Errorf("foo through ops: %v", d.Granted)
	}
	if d := r.Decide(foo, "registry", "catalog", []string{"*"}); !slices.Equal(d.Granted, []string{"*"}) {
		t.Errorf("ops' catalog right not given: %v", d.Granted)
	}
	// dave's own deny still wins over what a directory group adds at the same level.
	dave := Subject{Name: "dave", Groups: []string{"ops"}}
	if d := r.Decide(dave, "repository", "team-a/secret", []string{"pull"}); !d.Denied {
		t.Errorf("dave's own deny was lost: %+v", d)
	}
}

func TestGrantsDecideLikeOwnKeys(t *testing.T) {
	r := load(t, extendedFiles())
	ref := RuleRef{File: "regtoken.toml", Owner: "oidc ci", Key: "rule 1"}
	job := Subject{Name: "ci:repo:acme/app", Grants: []Grant{
		{Pattern: "acme/app/**", Actions: []string{"pull", "push"}, Ref: ref},
		{Pattern: "acme/app/secret", Ref: ref}, // deny
		{Catalog: true, Ref: ref},
	}}
	if d := r.Decide(job, "repository", "acme/app/web", []string{"push", "pull"}); !slices.Equal(d.Granted, []string{"push", "pull"}) || d.Rule != ref {
		t.Errorf("grant: %+v", d)
	}
	if d := r.Decide(job, "repository", "acme/app/secret", []string{"pull"}); !d.Denied {
		t.Errorf("deny grant: %+v", d)
	}
	if d := r.Decide(job, "repository", "acme/other", []string{"pull"}); len(d.Granted) != 0 {
		t.Errorf("outside the grant: %+v", d)
	}
	if d := r.Decide(job, "registry", "catalog", []string{"*"}); !slices.Equal(d.Granted, []string{"*"}) || d.Rule != ref {
		t.Errorf("catalog grant: %+v", d)
	}
}

func TestCheckGrant(t *testing.T) {
	for _, g := range []Grant{
		{Pattern: "acme/**", Actions: []string{"pull"}},
		{Pattern: "${user}/*", Actions: []string{"*"}},
		{Pattern: "acme/x"},
		{Catalog: true},
	} {
		if err := CheckGrant(g); err != nil {
			t.Errorf("CheckGrant(%+v): %v", g, err)
		}
	}
	for _, g := range []Grant{
		{Pattern: "acme/**", Actions: []string{"fly"}},
		{Pattern: "acme/a**", Actions: []string{"pull"}},
		{Pattern: "${repo}/x", Actions: []string{"pull"}},
		{Pattern: "UPPER CASE/x", Actions: []string{"pull"}},
	} {
		if err := CheckGrant(g); !errors.Is(err, ErrBadGrant) {
			t.Errorf("CheckGrant(%+v) = %v, want ErrBadGrant", g, err)
		}
	}
}

// A robot or a CI job named like a users.json user gets its own grants
// only: bar's "*": [pull, push] must not leak into a machine called bar.
func TestNotInFilesIgnoresNamesakes(t *testing.T) {
	r := load(t, extendedFiles())
	ref := RuleRef{File: "robots.json", Owner: "robot bar", Key: "x"}
	bar := Subject{Name: "bar", NotInFiles: true, Grants: []Grant{{Pattern: "x", Actions: []string{"pull"}, Ref: ref}}}
	if d := r.Decide(bar, "repository", "anything", []string{"push"}); len(d.Granted) != 0 {
		t.Errorf("the namesake's rules applied: %+v", d)
	}
	if d := r.Decide(bar, "registry", "catalog", []string{"*"}); len(d.Granted) != 0 {
		t.Errorf("the namesake's catalog right applied: %+v", d)
	}
	if d := r.Decide(bar, "repository", "x", []string{"pull", "push"}); !slices.Equal(d.Granted, []string{"pull"}) {
		t.Errorf("own grant: %+v", d)
	}
	empty := Subject{Name: "bar", NotInFiles: true}
	if d := r.Decide(empty, "repository", "anything", []string{"pull"}); len(d.Granted) != 0 {
		t.Errorf("no grants at all fell back to the namesake: %+v", d)
	}
}
