package robot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func create(t testing.TB, path, name, secret string, rules map[string][]string, expires time.Time) {
	t.Helper()
	err := Update(path, func(robots []Robot) ([]Robot, error) {
		return append(robots, Robot{Name: name, Rules: rules, SecretHash: HashSecret(secret),
			Created: time.Now().Add(-time.Hour), Expires: expires}), nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSecretShape(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if a == b || !LooksLikeSecret(a) || !strings.HasPrefix(a, "regtoken_") || len(a) != len("regtoken_")+46 {
		t.Fatalf("secrets %q %q", a, b)
	}
	flipped := a[:20] + string(a[20]^1) + a[21:]
	for _, s := range []string{"", "regtoken_", a + "x", a[:len(a)-1], flipped, strings.Replace(a, "regtoken_", "regtokex_", 1)} {
		if LooksLikeSecret(s) {
			t.Errorf("%q passes for a secret", s)
		}
	}
}

func TestVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "robots.json")
	secret := NewSecret()
	create(t, path, "ci-pusher", secret, map[string][]string{"team/app/**": {"pull", "push"}, "team/app/secret": {}}, time.Time{})
	create(t, path, "old", secret, map[string][]string{"x": {"pull"}}, time.Now().Add(-time.Minute))
	set, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	grants, err := set.Verify("ci-pusher", secret, now)
	if err != nil || len(grants) != 2 || grants[0].Ref.String() != path+`: robot ci-pusher, key "team/app/**"` {
		t.Fatalf("right secret: %v %+v", err, grants)
	}
	if _, err := set.Verify("ci-pusher", NewSecret(), now); !errors.Is(err, ErrWrongSecret) {
		t.Errorf("wrong secret: %v", err)
	}
	if _, err := set.Verify("nobody", secret, now); !errors.Is(err, ErrNoRobot) {
		t.Errorf("no robot: %v", err)
	}
	var expired *ExpiredError
	if _, err := set.Verify("old", secret, now); !errors.As(err, &expired) || !strings.Contains(err.Error(), "expired at") {
		t.Errorf("expired robot: %v", err)
	}
	if _, err := set.Verify("old", NewSecret(), now); !errors.Is(err, ErrWrongSecret) {
		t.Errorf("an expired robot's wrong secret must not tell it expired: %v", err)
	}
	if b, _ := os.ReadFile(path); strings.Contains(string(b), secret) {
		t.Error("the file holds the secret")
	}
}

func TestRevokeAndRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "robots.json")
	first, second := NewSecret(), NewSecret()
	create(t, path, "a", first, map[string][]string{"x": {"pull"}}, time.Time{})
	create(t, path, "b", first, map[string][]string{"y": {"pull"}}, time.Time{})
	err := Update(path, func(robots []Robot) ([]Robot, error) { return robots[1:], nil }) // revoke a
	if err != nil {
		t.Fatal(err)
	}
	set, _ := Load(path)
	if set.Has("a") || !set.Has("b") {
		t.Fatalf("after revoking a: %v", set.Robots())
	}
	err = Update(path, func(robots []Robot) ([]Robot, error) {
		robots[0].SecretHash = HashSecret(second)
		return robots, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	set, _ = Load(path)
	if _, err := set.Verify("b", first, time.Now()); err == nil {
		t.Error("the old secret works after rotate")
	}
	if _, err := set.Verify("b", second, time.Now()); err != nil {
		t.Errorf("the new secret: %v", err)
	}
}

func TestUpdateIsAtomicAndKeepsMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "robots.json")
	create(t, path, "a", NewSecret(), map[string][]string{"x": {"pull"}}, time.Time{})
	if fi, _ := os.Stat(path); fi.Mode().Perm() != newFileMode {
		t.Errorf("new file mode %o", fi.Mode().Perm())
	}
	os.Chmod(path, 0o600)
	before, _ := os.ReadFile(path)
	failed := Update(path, func(robots []Robot) ([]Robot, error) { return nil, errors.New("changed my mind") })
	bad := Update(path, func(robots []Robot) ([]Robot, error) {
		return append(robots, Robot{Name: "Bad Name", SecretHash: HashSecret("x")}), nil
	})
	if failed == nil || bad == nil {
		t.Fatal("a failed change was written")
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("a failed change touched the file")
	}
	create(t, path, "b", NewSecret(), map[string][]string{"y": {"pull"}}, time.Time{})
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after update %o, want the old 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "robots.json" && e.Name() != "robots.json.lock" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "robots.json")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			create(t, path, fmt.Sprintf("r%d", i), NewSecret(), map[string][]string{"x": {"pull"}}, time.Time{})
		}()
	}
	wg.Wait()
	set, err := Load(path)
	if err != nil || len(set.Robots()) != 8 {
		t.Fatalf("%v, %d robots", err, len(set.Robots()))
	}
}

func TestParseRefuses(t *testing.T) {
	h := HashSecret("s")
	for body, words := range map[string]string{
		`{"robots": {"a": {"secret_hash": "` + h + `", "repositories": {"x": ["fly"]}}}}`:                                       "unknown action",
		`{"robots": {"a": {"secret_hash": "` + h + `", "repositories": {"${user}/x": ["pull"]}}}}`:                              "no variables",
		`{"robots": {"a": {"secret_hash": "` + h + `", "repositories": {"x": null}}}}`:                                          "null",
		`{"robots": {"a": {"secret_hash": "bcrypt", "repositories": {}}}}`:                                                      "secret_hash",
		`{"robots": {"A": {"secret_hash": "` + h + `", "repositories": {}}}}`:                                                   "name",
		`{"robots": {"a": {"secret_hash": "` + h + `", "expire": "2027-01-01T00:00:00Z"}}}`:                                     "unknown field",
		`{"robots": {"a": {"secret_hash": "` + h + `", "created": "2027-01-01T00:00:00Z", "expires": "2026-01-01T00:00:00Z"}}}`: "expires before",
		`[]`: "not a robots file",
	} {
		if _, err := Parse([]byte(body), "robots.json"); err == nil || !strings.Contains(err.Error(), words) {
			t.Errorf("%s: %v, want %q", body, err, words)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	path := filepath.Join(b.TempDir(), "robots.json")
	secret := NewSecret()
	create(b, path, "ci", secret, map[string][]string{"team/**": {"pull"}}, time.Time{})
	set, _ := Load(path)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := set.Verify("ci", secret, now); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParse feeds arbitrary robots files to Parse: it may refuse them, never
// panic, and whatever it accepts verifies no made-up secret.
func FuzzParse(f *testing.F) {
	h := HashSecret("s")
	f.Add([]byte(`{"robots": {"a": {"secret_hash": "` + h + `", "repositories": {"x/**": ["pull"], "y": []}, "catalog": true, "expires": "2099-01-01T00:00:00Z"}}}`))
	f.Add([]byte(`{"robots": {"a": {"secret_hash": "sha256$$", "repositories": {"x": null}}}}`))
	f.Add([]byte(`{"robots": {}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := Parse(data, "robots.json")
		if err != nil {
			return
		}
		for _, r := range set.Robots() {
			if _, err := set.Verify(r.Name, NewSecret(), time.Now()); err == nil {
				t.Fatalf("robot %q took a random secret", r.Name)
			}
			r.Grants("robots.json")
		}
	})
}
