package accounts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/regtoken/regtoken/pkg/acl"
)

var hashA, hashB = mustHash("a-password"), mustHash("b-password")

func mustHash(p string) string {
	h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
}

// fixture copies acl's extended test files (users.json with four users,
// groups.json, htpasswd for carol and erin) into a new directory. Without
// htpasswd, carol (who has no pass_hash) is left out of users.json.
func fixture(t *testing.T, withHtpasswd bool) acl.Files {
	t.Helper()
	dir := t.TempDir()
	src := "../acl/testdata/extended"
	f := acl.Files{Users: filepath.Join(dir, "users.json"), Groups: filepath.Join(dir, "groups.json"),
		Repositories: filepath.Join(dir, "repositories.json")}
	for _, name := range []string{"users.json", "groups.json", "repositories.json", "htpasswd"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	if withHtpasswd {
		f.Htpasswd = filepath.Join(dir, "htpasswd")
	} else {
		write(t, f.Users, strings.Replace(read(t, f.Users), `,
    "carol": {
        "groups": ["team-a", "ops"],
        "repositories": {
            "team-b/*": ["pull"]
        }
    }`, "", 1))
	}
	mustLoad(t, f)
	return f
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustLoad(t *testing.T, f acl.Files) *acl.Rules {
	t.Helper()
	r, err := acl.Load(f)
	if err != nil {
		t.Fatalf("the files no longer load: %v", err)
	}
	return r
}

// A new user goes at the end of users.json, laid out like the others; the
// rest of the file does not change by a byte.
func TestAddKeepsTheFile(t *testing.T) {
	f := fixture(t, false)
	before := read(t, f.Users)
	r := Rules{Repositories: []Rule{{"team/*", []string{"pull", "push"}}, {"team/secret", nil}}, Groups: []string{"team-a"}, Catalog: true}
	if err := Add(f, "alice", hashA, r); err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSuffix(before, "\n}\n") + `,
    "alice": {
        "pass_hash": "` + hashA + `",
        "repositories": {
            "team/*": ["pull", "push"],
            "team/secret": []
        },
        "groups": ["team-a"],
        "catalog": true
    }
}
`
	if got := read(t, f.Users); got != want {
		t.Errorf("users.json:\n%s\nwant:\n%s", got, want)
	}
	u, ok := mustLoad(t, f).User("alice")
	if !ok || string(u.PassHash) != hashA || !u.Catalog || len(u.Groups) != 1 {
		t.Errorf("alice as loaded: %+v", u)
	}
}

// With an htpasswd file the hash goes there; rules, if any, into users.json.
func TestAddWithHtpasswd(t *testing.T) {
	f := fixture(t, true)
	users := read(t, f.Users)
	if err := Add(f, "frank", hashA, Rules{}); err != nil {
		t.Fatal(err)
	}
	if read(t, f.Users) != users || !strings.HasSuffix(read(t, f.Htpasswd), "\nfrank:"+hashA+"\n") {
		t.Errorf("frank without rules: users.json changed or no htpasswd line:\n%s", read(t, f.Htpasswd))
	}
	if err := Add(f, "gina", hashB, Rules{Repositories: []Rule{{"gina/**", []string{"*"}}}}); err != nil {
		t.Fatal(err)
	}
	if text := read(t, f.Users); !strings.Contains(text, `"gina": {
        "repositories": {
            "gina/**": ["*"]
        }
    }`) || strings.Contains(text, hashB) {
		t.Errorf("gina's rules, without her hash, in users.json:\n%s", text)
	}
	rules := mustLoad(t, f)
	for name, hash := range map[string]string{"frank": hashA, "gina": hashB} {
		if u, ok := rules.User(name); !ok || string(u.PassHash) != hash {
			t.Errorf("%s: %+v", name, u)
		}
	}
}

// What cannot be added is refused, and nothing is written.
func TestAddRefuses(t *testing.T) {
	f := fixture(t, false)
	noRules := acl.Files{Users: f.Users}
	for _, c := range []struct {
		files acl.Files
		name  string
		rules Rules
		err   error
		msg   string
	}{
		{f, "foo", Rules{}, ErrExists, "user exists: foo (change the password with regtoken user passwd)"},
		{f, "a:b", Rules{}, ErrBadName, `bad user name "a:b"`},
		{f, "", Rules{}, ErrBadName, "bad user name"},
		{f, "new", Rules{Groups: []string{"nope"}}, ErrBadRules, `group "nope" is not defined in ` + f.Groups},
		{noRules, "new", Rules{Groups: []string{"team-a"}}, ErrBadRules, "the configuration names no groups file"},
		{f, "new", Rules{Repositories: []Rule{{"a/**b", []string{"pull"}}}}, ErrNotLoadable, `"**" must be a whole path component`},
		{f, "new", Rules{Repositories: []Rule{{"a", []string{"fly"}}}}, ErrNotLoadable, `unknown action "fly"`},
		{acl.Files{Repositories: f.Repositories}, "new", Rules{}, ErrNoUsersFile, ""},
		{acl.Files{Htpasswd: filepath.Join(filepath.Dir(f.Users), "htpasswd")}, "new", Rules{Catalog: true}, ErrBadRules, "configuration names none (acl.users)"},
	} {
		before := read(t, f.Users)
		err := Add(c.files, c.name, hashA, c.rules)
		if !errors.Is(err, c.err) || !strings.Contains(fmt.Sprint(err), c.msg) {
			t.Errorf("Add(%q, %+v): %v, want %v %q", c.name, c.rules, err, c.err, c.msg)
		}
		if read(t, f.Users) != before {
			t.Errorf("Add(%q) failed but wrote users.json", c.name)
		}
	}
}

// passwd replaces the hash where it is and nothing else.
func TestSetPassword(t *testing.T) {
	f := fixture(t, true)
	users, htpasswd := read(t, f.Users), read(t, f.Htpasswd)
	if err := SetPassword(f, "bar", hashA); err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(users, "$2b$12$/QdCsCcg1JDadB2sFky5weQHx6US/luBHujAvc3PPwUwQEx1IaxU6", hashA, 1); read(t, f.Users) != want || read(t, f.Htpasswd) != htpasswd {
		t.Errorf("bar's hash in users.json:\n%s", read(t, f.Users))
	}
	if err := SetPassword(f, "erin", hashB); err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(htpasswd, "erin:$2y$12$oz8BediCnJpmIyh2MGkYoeN.RkHrMINNhGstAP/RT6TIeshUv87Wi", "erin:"+hashB, 1); read(t, f.Htpasswd) != want {
		t.Errorf("erin's line:\n%s", read(t, f.Htpasswd))
	}
	if err := SetPassword(f, "nobody", hashB); !errors.Is(err, ErrNoUser) {
		t.Errorf("unknown user: %v", err)
	}
	rules := mustLoad(t, f)
	for name, hash := range map[string]string{"bar": hashA, "erin": hashB} {
		if u, _ := rules.User(name); string(u.PassHash) != hash {
			t.Errorf("%s's hash not changed", name)
		}
	}
}

// A user without a hash gets one: into htpasswd when there is one, else
// as the first key of its users.json entry.
func TestSetPasswordWhereThereWasNone(t *testing.T) {
	f := fixture(t, false)
	write(t, f.Users, `{"zed": {"repositories": {"x": ["pull"]}}}`)
	if err := SetPassword(f, "zed", hashA); err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, f.Users), `{"zed": {"pass_hash": "`+hashA+`", "repositories": {"x": ["pull"]}}}`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// del removes a user's entry, first, middle or last, and its htpasswd
// line, leaving the rest as it was.
func TestDelete(t *testing.T) {
	for _, name := range []string{"foo", "dave", "carol"} {
		t.Run(name, func(t *testing.T) {
			f := fixture(t, true)
			if err := Delete(f, name); err != nil {
				t.Fatal(err)
			}
			rules := mustLoad(t, f)
			if _, ok := rules.User(name); ok || len(rules.Users()) != 4 {
				t.Errorf("after deleting %s: users %v", name, rules.Users())
			}
			if strings.Contains(read(t, f.Users), `"`+name+`"`) || strings.Contains(read(t, f.Htpasswd), name+":") {
				t.Errorf("%s still in the files", name)
			}
		})
	}
	f := fixture(t, false)
	before := read(t, f.Users)
	if err := Add(f, "temp", hashA, Rules{}); err != nil {
		t.Fatal(err)
	}
	if err := Delete(f, "temp"); err != nil {
		t.Fatal(err)
	}
	if read(t, f.Users) != before {
		t.Errorf("add then delete did not give the file back:\n%s", read(t, f.Users))
	}
	if err := Delete(f, "temp"); !errors.Is(err, ErrNoUser) {
		t.Errorf("deleting twice: %v", err)
	}
}

// Files on one line and empty files are edited in their own style.
func TestLayouts(t *testing.T) {
	f := fixture(t, false)
	write(t, f.Users, `{"a": {"pass_hash": "`+hashA+`", "repositories": {}}}`)
	if err := Add(f, "b", hashB, Rules{Repositories: []Rule{{"x", []string{"pull"}}}}); err != nil {
		t.Fatal(err)
	}
	want := `{"a": {"pass_hash": "` + hashA + `", "repositories": {}}, "b": {"pass_hash": "` + hashB + `", "repositories": {"x": ["pull"]}}}`
	if got := read(t, f.Users); got != want {
		t.Errorf("one line:\n got %s\nwant %s", got, want)
	}
	write(t, f.Users, "{}\n")
	if err := Add(f, "c", hashA, Rules{}); err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, f.Users), "{\n    \"c\": {\n        \"pass_hash\": \""+hashA+"\",\n        \"repositories\": {}\n    }\n}\n"; got != want {
		t.Errorf("empty file:\n got %q\nwant %q", got, want)
	}
	if err := Delete(f, "c"); err != nil || read(t, f.Users) != "{}\n" {
		t.Errorf("delete the only user: %v %q", err, read(t, f.Users))
	}
}

// The new file keeps the old one's mode and owner; a symlink keeps
// pointing at the real file, which is the one replaced.
func TestKeepsModeOwnerAndSymlink(t *testing.T) {
	f := fixture(t, false)
	real := f.Users + ".real"
	os.Rename(f.Users, real)
	os.Symlink(filepath.Base(real), f.Users)
	os.Chmod(real, 0o640)
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		uid, gid = 4242, 4343
		os.Chown(real, uid, gid)
	}
	if err := Add(f, "alice", hashA, Rules{}); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(f.Users); err != nil || target != filepath.Base(real) {
		t.Errorf("symlink: %q %v", target, err)
	}
	fi, _ := os.Stat(real)
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o640 || int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("mode %v owner %d:%d, want 0640 %d:%d", fi.Mode().Perm(), st.Uid, st.Gid, uid, gid)
	}
}

// A write that fails leaves the old file and no temporary file.
func TestFailedWriteLeavesTheOldFile(t *testing.T) {
	f := fixture(t, false)
	before := read(t, f.Users)
	beforeRename = func(string) error { return errors.New("disk full") }
	defer func() { beforeRename = func(string) error { return nil } }()
	if err := Add(f, "alice", hashA, Rules{}); err == nil || err.Error() != "disk full" {
		t.Fatalf("Add: %v", err)
	}
	if read(t, f.Users) != before {
		t.Error("the old file changed")
	}
	entries, _ := os.ReadDir(filepath.Dir(f.Users))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

// Files that do not load now are not edited: the operator fixes them
// first; a missing one is not made up.
func TestRefusesBrokenFiles(t *testing.T) {
	f := fixture(t, false)
	write(t, f.Users, `{"foo": {"pass_hash": `)
	if err := Add(f, "alice", hashA, Rules{}); err == nil || !strings.Contains(err.Error(), "do not load now; fix them first") {
		t.Errorf("Add on a broken file: %v", err)
	}
	os.Remove(f.Users)
	if err := Add(f, "alice", hashA, Rules{}); err == nil || !strings.Contains(err.Error(), "users.json does not exist; create it") {
		t.Errorf("Add without the file: %v", err)
	}
}

// A reload reading the files while they are edited sees the old file or
// the new one, never part of one; edits at once all land.
func TestConcurrentEditsAndReloads(t *testing.T) {
	f := fixture(t, false)
	stop := make(chan struct{})
	var loads, failures int
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := acl.Load(f); err != nil {
				failures++
				t.Errorf("a reload saw a broken file: %v", err)
			}
			loads++
		}
	})
	var editors sync.WaitGroup
	for w := range 4 {
		editors.Go(func() {
			for i := range 10 {
				name := fmt.Sprintf("user-%d-%d", w, i)
				if err := Add(f, name, hashA, Rules{Repositories: []Rule{{name + "/*", []string{"pull"}}}}); err != nil {
					t.Error(err)
				}
				if i%2 == 1 {
					if err := Delete(f, name); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	editors.Wait()
	close(stop)
	readers.Wait()
	if n := len(mustLoad(t, f).Users()); n != 3+4*5 {
		t.Errorf("%d users after the edits, want %d", n, 3+4*5)
	}
	t.Logf("%d reloads during the edits, %d failed", loads, failures)
}
