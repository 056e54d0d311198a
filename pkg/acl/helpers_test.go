package acl

import (
	"slices"
	"testing"
)

// testdata is the fixture directory shared by this package's tests.
var testdata = "testdata"

// bytesOrNil turns "" into an absent file.
func bytesOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// files are rule files given inline; "" means absent.
type files struct {
	users, repos, groups, htpasswd string
	anonymousCatalog               bool
}

func (f files) parse(t testing.TB) *Rules {
	t.Helper()
	r, err := Parse(bytesOrNil(f.users), bytesOrNil(f.repos), bytesOrNil(f.groups), bytesOrNil(f.htpasswd),
		Files{AnonymousCatalog: f.anonymousCatalog})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return r
}

func load(t testing.TB, f Files) *Rules {
	t.Helper()
	r, err := Load(f)
	if err != nil {
		t.Fatalf("Load(%+v): %v", f, err)
	}
	return r
}

// request is one Decide call and what it must return.
type request struct {
	subject   Subject
	typ, name string
	actions   []string
	granted   []string
	denied    bool
	rule      RuleRef // compared only when wantRule is set
	wantRule  bool
}

func user(name string) Subject { return Subject{Name: name} }

var anonymous = Subject{Anonymous: true}

func repo(s Subject, name string, actions ...string) request {
	return request{subject: s, typ: "repository", name: name, actions: actions}
}

func (q request) grants(actions ...string) request {
	q.granted = actions
	return q
}

func (q request) deniedBy(ref RuleRef) request {
	q.denied, q.rule, q.wantRule = true, ref, true
	return q
}

func (q request) by(ref RuleRef) request {
	q.rule, q.wantRule = ref, true
	return q
}

func (q request) check(t *testing.T, r *Rules) {
	t.Helper()
	d := r.Decide(q.subject, q.typ, q.name, q.actions)
	want := q.granted
	if want == nil {
		want = []string{}
	}
	if d.Granted == nil {
		t.Errorf("%+v %s:%s:%v: Granted is nil, want non-nil", q.subject, q.typ, q.name, q.actions)
	}
	if !slices.Equal(d.Granted, want) {
		t.Errorf("%+v %s:%s:%v: granted %q, want %q (rule: %s)", q.subject, q.typ, q.name, q.actions,
			d.Granted, want, d.Rule)
	}
	if d.Denied != q.denied {
		t.Errorf("%+v %s:%s:%v: Denied = %v, want %v (rule: %s)", q.subject, q.typ, q.name, q.actions,
			d.Denied, q.denied, d.Rule)
	}
	if q.wantRule && d.Rule != q.rule {
		t.Errorf("%+v %s:%s:%v: decided by %s, want %s", q.subject, q.typ, q.name, q.actions, d.Rule, q.rule)
	}
}
