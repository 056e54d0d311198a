package acl

import (
	"testing"
)

// One case per row of the decision table in doc.go, plus the pattern rules.
func TestDecisionTable(t *testing.T) {
	ownKey := func(owner, key string) RuleRef { return RuleRef{File: "users.json", Owner: owner, Key: key} }
	groupKey := func(owner, key string) RuleRef { return RuleRef{File: "groups.json", Owner: owner, Key: key} }
	publicKey := func(key string) RuleRef { return RuleRef{File: "repositories.json", Owner: "anonymous", Key: key} }

	tests := []struct {
		name     string
		files    files
		requests []request
	}{{
		name: "deny overrides at the same level",
		files: files{
			users:  `{"u": {"groups": ["g"], "repositories": {"team/*": ["pull"], "x/*": [], "x/**": ["pull"]}}}`,
			groups: `{"g": {"repositories": {"team/*": []}}}`,
		},
		requests: []request{
			repo(user("u"), "team/app", "pull").deniedBy(groupKey("group g", "team/*")),
			// "x/*" and "x/**" share the literal prefix "x/": same level, the deny wins.
			repo(user("u"), "x/app", "pull").deniedBy(ownKey("user u", "x/*")),
			// Only "x/**" matches a nested name.
			repo(user("u"), "x/app/cache", "pull").grants("pull").by(ownKey("user u", "x/**")),
		},
	}, {
		name:  "more specific allow beats less specific deny",
		files: files{users: `{"u": {"repositories": {"*": [], "team/*": ["pull"], "team/app": ["pull", "push"]}}}`},
		requests: []request{
			repo(user("u"), "team/app", "pull", "push").grants("pull", "push").by(ownKey("user u", "team/app")),
			repo(user("u"), "team/other", "pull", "push").grants("pull").by(ownKey("user u", "team/*")),
			repo(user("u"), "elsewhere", "pull").deniedBy(ownKey("user u", "*")),
		},
	}, {
		name:  "more specific deny beats less specific allow",
		files: files{users: `{"u": {"repositories": {"*": ["*"], "team/**": ["pull", "push"], "team/secret": []}}}`},
		requests: []request{
			repo(user("u"), "team/secret", "pull").deniedBy(ownKey("user u", "team/secret")),
			repo(user("u"), "team/app", "pull", "delete").grants("pull").by(ownKey("user u", "team/**")),
			repo(user("u"), "other", "pull", "delete").grants("pull", "delete").by(ownKey("user u", "*")),
		},
	}, {
		name:  "longer literal prefix wins",
		files: files{users: `{"u": {"repositories": {"team/*": ["pull"], "team/app-*": ["push"], "*/app-1": ["delete"]}}}`},
		requests: []request{
			repo(user("u"), "team/app-1", "pull", "push").grants("push").by(ownKey("user u", "team/app-*")),
			repo(user("u"), "team/b", "pull", "push").grants("pull").by(ownKey("user u", "team/*")),
			// "*/app-1" has an empty literal prefix but still beats nothing.
			repo(user("u"), "other/app-1", "delete").grants("delete"),
		},
	}, {
		name: "user and groups are united at the same level",
		files: files{
			users: `{"u": {"groups": ["readers", "writers"], "repositories": {"x/*": ["delete"]}},
			         "w": {"groups": ["writers"]}}`,
			groups: `{"readers": {"repositories": {"x/*": ["pull"]}}, "writers": {"repositories": {"x/*": ["push"], "y/app": ["push"]}}}`,
		},
		requests: []request{
			repo(user("u"), "x/app", "pull", "push", "delete").grants("pull", "push", "delete").by(ownKey("user u", "x/*")),
			repo(user("u"), "y/app", "pull", "push").grants("push").by(groupKey("group writers", "y/app")),
			repo(user("w"), "x/app", "pull", "push").grants("push"),
		},
	}, {
		name: "${user} expands to the user's name and never matches anonymous",
		files: files{
			users:  `{"alice": {"groups": ["staff"], "repositories": {"${user}/*": ["*"]}}, "bob": {"groups": ["staff"]}}`,
			groups: `{"staff": {"repositories": {"home/${user}": ["pull", "push"]}}}`,
			repos:  `{"backlist": true, "repositories": []}`,
		},
		requests: []request{
			repo(user("alice"), "alice/app", "pull", "push", "delete").grants("pull", "push", "delete").
				by(ownKey("user alice", "${user}/*")),
			repo(user("alice"), "alice/app/nested", "push"),
			repo(user("alice"), "bob/app", "push"),
			repo(user("alice"), "home/alice", "push").grants("push").by(groupKey("group staff", "home/${user}")),
			repo(user("bob"), "home/bob", "push").grants("push"),
			repo(user("bob"), "home/alice", "push"),
			repo(user("bob"), "alice/app", "push"),
			// Anonymous gets only the public pull, whatever name it claims.
			repo(Subject{Name: "alice", Anonymous: true}, "alice/app", "pull", "push").grants("pull").
				by(publicKey("*")),
			repo(Subject{Name: "alice", Anonymous: true}, "home/alice", "push"),
		},
	}, {
		name:  "** spans components, * does not, bare * matches everything",
		files: files{users: `{"one": {"repositories": {"t/*": ["pull"]}}, "many": {"repositories": {"t/**": ["pull"]}}, "mid": {"repositories": {"a/**/z": ["pull"]}}, "all": {"repositories": {"*": ["pull"]}}, "dbl": {"repositories": {"**": ["pull"]}}}`},
		requests: []request{
			repo(user("one"), "t/a", "pull").grants("pull"),
			repo(user("one"), "t/a/b", "pull"),
			repo(user("one"), "t", "pull"),
			repo(user("one"), "t/", "pull"),
			repo(user("many"), "t/a", "pull").grants("pull"),
			repo(user("many"), "t/a/b/c", "pull").grants("pull"),
			repo(user("many"), "t", "pull"),
			repo(user("many"), "tx/a", "pull"),
			repo(user("mid"), "a/b/z", "pull").grants("pull"),
			repo(user("mid"), "a/b/c/z", "pull").grants("pull"),
			repo(user("mid"), "a/z", "pull"),
			repo(user("all"), "a/b/c/d", "pull").grants("pull"),
			repo(user("all"), "", "pull"),
			repo(user("all"), "a//b", "pull"),
			repo(user("dbl"), "a/b", "pull").grants("pull"),
		},
	}, {
		name: "catalog rights",
		files: files{
			users:  `{"admin": {"catalog": true}, "member": {"groups": ["ops"]}, "plain": {"repositories": {"*": ["*"]}}}`,
			groups: `{"ops": {"catalog": true}}`,
		},
		requests: []request{
			{subject: user("admin"), typ: "registry", name: "catalog", actions: []string{"*"}, granted: []string{"*"},
				rule: ownKey("user admin", "catalog"), wantRule: true},
			// The catalog is ["*"] whatever was asked: the registry checks the literal "*".
			{subject: user("member"), typ: "registry", name: "catalog", actions: []string{"pull"}, granted: []string{"*"},
				rule: groupKey("group ops", "catalog"), wantRule: true},
			{subject: user("plain"), typ: "registry", name: "catalog", actions: []string{"*"}},
			{subject: anonymous, typ: "registry", name: "catalog", actions: []string{"*"}},
			// Other non-repository resources: nothing, even for a user with "*": ["*"].
			{subject: user("plain"), typ: "registry", name: "other", actions: []string{"*"}},
			{subject: user("plain"), typ: "plugin", name: "x", actions: []string{"pull"}},
			// zot asks "repository::pull" for its catalog: the catalog right
			// grants pull there, and only pull; without it, nothing.
			repo(user("admin"), "", "pull").grants("pull").by(ownKey("user admin", "catalog")),
			repo(user("member"), "", "pull").grants("pull").by(groupKey("group ops", "catalog")),
			repo(user("admin"), "", "*").grants("pull").by(ownKey("user admin", "catalog")),
			repo(user("admin"), "", "push", "delete").by(ownKey("user admin", "catalog")),
			repo(user("plain"), "", "pull").by(RuleRef{}),
			repo(anonymous, "", "pull").by(RuleRef{}),
		},
	}, {
		name:  "anonymous catalog when configured",
		files: files{users: `{"plain": {}}`, anonymousCatalog: true},
		requests: []request{
			{subject: anonymous, typ: "registry", name: "catalog", actions: []string{"*"}, granted: []string{"*"},
				rule: RuleRef{Owner: "anonymous", Key: "catalog"}, wantRule: true},
			{subject: user("plain"), typ: "registry", name: "catalog", actions: []string{"*"}, granted: []string{"*"}},
			repo(anonymous, "", "pull").grants("pull").by(RuleRef{Owner: "anonymous", Key: "catalog"}),
		},
	}, {
		name:  "names outside the repository grammar get nothing, even from a * rule",
		files: files{users: `{"plain": {"repositories": {"*": ["*"]}}}`, repos: `{"blacklist": true, "repositories": []}`},
		requests: []request{
			repo(user("plain"), "UPPER", "pull").by(RuleRef{}),
			repo(user("plain"), "foo..bar", "pull").by(RuleRef{}),
			repo(anonymous, "a/../b", "pull").by(RuleRef{}),
			repo(user("plain"), "ok/name", "pull").grants("pull").by(ownKey("user plain", "*")),
		},
	}, {
		name:  "requested * and intersection",
		files: files{users: `{"rw": {"repositories": {"*": ["pull", "push"]}}, "all": {"repositories": {"*": ["*"]}}, "w": {"repositories": {"*": ["push"]}}}`},
		requests: []request{
			repo(user("rw"), "a", "*").grants("pull", "push"),
			// A "*" grant lists the concrete actions too: zot knows no wildcard.
			repo(user("all"), "a", "*").grants("pull", "push", "delete", "*"),
			repo(user("all"), "a", "pull", "*").grants("pull", "push", "delete", "*"),
			repo(user("all"), "a", "delete", "*").grants("delete", "pull", "push", "*"),
			repo(user("all"), "a", "delete", "pull").grants("delete", "pull"),
			repo(user("all"), "a", "scanner-pull").grants("scanner-pull"), // "*" is every action
			repo(user("rw"), "a", "delete").by(ownKey("user rw", "*")),    // nothing in common: empty, not denied
			repo(user("rw"), "a", "pull", "pull", "", "push").grants("pull", "push"),
			repo(user("rw"), "a"),
			repo(user("w"), "a", "push").grants("push"),
			repo(user("w"), "a", "pull", "push").grants("push"),
		},
	}, {
		name: "public pull is a floor for everyone",
		files: files{
			users: `{"none": {"repositories": {"*": []}}, "push": {"repositories": {"some-image": ["push"], "lib/*": []}},
			         "deny": {"repositories": {"some-image": []}}}`,
			repos: `{"backlist": false, "repositories": ["some-image", "lib/**", "pub/*"]}`,
		},
		requests: []request{
			// An exact public name beats a user's "*": [].
			repo(user("none"), "some-image", "pull").grants("pull").by(publicKey("some-image")),
			repo(user("none"), "other", "pull").deniedBy(ownKey("user none", "*")),
			// Own actions and public pull are united.
			repo(user("push"), "some-image", "pull", "push").grants("pull", "push").by(ownKey("user push", "some-image")),
			// A user's deny at least as specific as the public rule stands.
			repo(user("push"), "lib/x", "pull").deniedBy(ownKey("user push", "lib/*")),
			repo(user("deny"), "some-image", "pull").deniedBy(ownKey("user deny", "some-image")),
			repo(anonymous, "lib/a/b", "pull").grants("pull").by(publicKey("lib/**")),
			repo(anonymous, "pub/a", "pull", "push").grants("pull").by(publicKey("pub/*")),
			repo(anonymous, "pub/a/b", "pull"),
		},
	}, {
		name:  "a blacklist * does not beat a user's * deny",
		files: files{users: `{"none": {"repositories": {"*": []}}}`, repos: `{"blacklist": true, "repositories": ["x/**"]}`},
		requests: []request{
			repo(user("none"), "a", "pull").deniedBy(ownKey("user none", "*")),
			repo(anonymous, "a", "pull").grants("pull"),
			repo(anonymous, "x/a/b", "pull").deniedBy(publicKey("x/**")),
		},
	}, {
		name:  "an empty name is anonymous, even if users.json defines it",
		files: files{users: `{"": {"repositories": {"*": ["*"]}}}`, repos: `{"repositories": ["pub"]}`},
		requests: []request{
			repo(Subject{}, "a", "pull").by(RuleRef{}),
			repo(Subject{}, "pub", "pull", "push").grants("pull"),
		},
	}, {
		name:     "nothing matched",
		files:    files{users: `{"u": {"repositories": {"team/*": ["pull"]}}}`},
		requests: []request{repo(user("u"), "other/app", "pull").by(RuleRef{}), repo(anonymous, "team/app", "pull")},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.files.parse(t)
			for _, q := range tt.requests {
				q.check(t, r)
			}
		})
	}
}

func TestRuleRefString(t *testing.T) {
	for _, tt := range []struct {
		ref  RuleRef
		want string
	}{
		{RuleRef{File: "users.json", Owner: "user foo", Key: "some-image"}, `users.json: user foo, key "some-image"`},
		{RuleRef{File: "/etc/regtoken/groups.json", Owner: "group team-a", Key: "team-a/**"},
			`/etc/regtoken/groups.json: group team-a, key "team-a/**"`},
		{RuleRef{Owner: "anonymous", Key: "catalog"}, `anonymous, key "catalog" (AnonymousCatalog setting)`},
		{RuleRef{}, "no rule matched"},
	} {
		if got := tt.ref.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.ref, got, tt.want)
		}
	}
}

// Decide must stay cheap: patterns are compiled at load, so the only
// allocation is the granted slice.
func TestDecideAllocations(t *testing.T) {
	r := benchRules(t)
	for _, q := range benchRequests {
		allocs := testing.AllocsPerRun(100, func() { r.Decide(q.subject, q.typ, q.name, q.actions) })
		if allocs > 1 {
			t.Errorf("Decide(%+v, %s:%s) allocates %.0f times, want at most 1", q.subject, q.typ, q.name, allocs)
		}
	}
}

func benchRules(t testing.TB) *Rules {
	return files{
		users: `{
  "foo": {"repositories": {"some-image": ["pull"]}},
  "bar": {"repositories": {"*": ["pull", "push"]}, "groups": ["team-a", "ops"]},
  "dave": {"groups": ["team-a"], "repositories": {"${user}/*": ["*"], "team-a/secret": [], "a/b/c/**": ["pull"], "x-*/y": ["pull"]}}
}`,
		groups: `{"team-a": {"repositories": {"team-a/**": ["pull", "push"], "home/${user}": ["*"]}}, "ops": {"catalog": true, "repositories": {"*": ["pull"]}}}`,
		repos:  `{"backlist": false, "repositories": ["some-image", "public/**", "library/*"]}`,
	}.parse(t)
}

var benchRequests = []request{
	repo(user("dave"), "team-a/app/cache", "pull", "push"),
	repo(user("dave"), "team-a/secret", "pull"),
	repo(user("dave"), "dave/app", "*"),
	repo(user("bar"), "some-image", "pull", "push"),
	repo(anonymous, "public/a/b/c", "pull"),
	repo(anonymous, "private/a", "pull"),
	{subject: user("bar"), typ: "registry", name: "catalog", actions: []string{"*"}},
}

func BenchmarkDecide(b *testing.B) {
	r := benchRules(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, q := range benchRequests {
			r.Decide(q.subject, q.typ, q.name, q.actions)
		}
	}
}
