package acl

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// The original service's files must keep working and mean the same.
func TestOriginalWhitelist(t *testing.T) {
	usersFile := filepath.Join(testdata, "original", "users.json")
	reposFile := filepath.Join(testdata, "original", "repositories.json")
	r := load(t, Files{Users: usersFile, Repositories: reposFile})
	foo := RuleRef{File: usersFile, Owner: "user foo", Key: "some-image"}
	barAll := RuleRef{File: usersFile, Owner: "user bar", Key: "*"}
	public := RuleRef{File: reposFile, Owner: "anonymous", Key: "some-image"}

	for _, q := range []request{
		repo(user("foo"), "some-image", "pull").grants("pull").by(foo),
		repo(user("foo"), "some-image", "pull", "push").grants("pull").by(foo),
		repo(user("foo"), "some-image", "push").by(foo), // refused, and explain can say why
		repo(user("foo"), "other", "pull").by(RuleRef{}),
		repo(user("foo"), "team/app", "pull"),
		repo(user("bar"), "some-image", "pull", "push").grants("pull", "push").by(barAll),
		repo(user("bar"), "other", "push", "pull").grants("push", "pull").by(barAll),
		repo(user("bar"), "deeply/nested/name", "pull", "push").grants("pull", "push"),
		repo(user("bar"), "other", "delete"),
		repo(anonymous, "some-image", "pull").grants("pull").by(public),
		repo(anonymous, "some-image", "pull", "push").grants("pull"),
		repo(anonymous, "other", "pull").by(RuleRef{}),
		// Unknown (not in users.json) but authenticated: only public rules.
		repo(user("mallory"), "some-image", "pull", "push").grants("pull"),
		repo(user("mallory"), "other", "pull"),
		// The original gave the catalog to everyone; we deliberately don't.
		{subject: anonymous, typ: "registry", name: "catalog", actions: []string{"*"}},
		{subject: user("bar"), typ: "registry", name: "catalog", actions: []string{"*"}},
	} {
		q.check(t, r)
	}
}

func TestOriginalBlacklist(t *testing.T) {
	// "backlist" is the original's spelling; "blacklist" means the same.
	for _, file := range []string{"repositories-backlist.json", "repositories-blacklist.json"} {
		t.Run(file, func(t *testing.T) {
			usersFile := filepath.Join(testdata, "original", "users.json")
			reposFile := filepath.Join(testdata, "original", file)
			r := load(t, Files{Users: usersFile, Repositories: reposFile})
			listed := RuleRef{File: reposFile, Owner: "anonymous", Key: "some-image"}
			every := RuleRef{File: reposFile, Owner: "anonymous", Key: "*"}
			for _, q := range []request{
				repo(anonymous, "some-image", "pull").deniedBy(listed),
				repo(anonymous, "other", "pull", "push").grants("pull").by(every),
				repo(anonymous, "team/nested", "pull").grants("pull"),
				repo(user("foo"), "some-image", "pull").grants("pull"),
				repo(user("foo"), "other", "pull").grants("pull").by(every),
				// A blacklist entry hides only the public pull, never a user's own rule.
				repo(user("bar"), "some-image", "pull", "push").grants("pull", "push"),
				repo(user("mallory"), "some-image", "pull").deniedBy(listed),
			} {
				q.check(t, r)
			}
		})
	}
}

// The fixture hashes are real: the password is the user name. One hash from
// each file is verified (bcrypt at cost 12 is slow, more so under -race).
func TestFixtureHashesVerify(t *testing.T) {
	t.Parallel()
	r := load(t, Files{
		Users:    filepath.Join(testdata, "original", "users.json"),
		Htpasswd: filepath.Join(testdata, "extended", "htpasswd"),
	})
	for _, name := range []string{"foo", "bar", "carol"} {
		u, ok := r.User(name)
		if !ok {
			t.Fatalf("user %q missing", name)
		}
		if name != "bar" {
			if err := bcrypt.CompareHashAndPassword(u.PassHash, []byte(name)); err != nil {
				t.Errorf("user %q: fixture hash does not verify the password %q: %v", name, name, err)
			}
		}
		if cost, err := bcrypt.Cost(u.PassHash); err != nil || cost != 12 {
			t.Errorf("user %q: cost %d, %v; want 12", name, cost, err)
		}
	}
}

func TestOriginalFilesHaveNoProblems(t *testing.T) {
	dir := filepath.Join(testdata, "original")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "users.json" {
			continue
		}
		r := load(t, Files{Users: filepath.Join(dir, "users.json"), Repositories: filepath.Join(dir, e.Name())})
		if p := r.Check(); len(p) != 0 {
			t.Errorf("%s: Check() = %v, want no problems", e.Name(), p)
		}
	}
}
