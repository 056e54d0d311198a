package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/ldapauth"
)

// ldapFixture is the check/explain fixture with an [ldap] table whose
// service password file has the given text and mode.
func ldapFixture(t *testing.T, password string, mode os.FileMode) string {
	t.Helper()
	path := fixture(t, 0o600)
	dir := filepath.Dir(path)
	pw := filepath.Join(dir, "ldap.pw")
	if err := os.WriteFile(pw, []byte(password), mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(pw, mode)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	defer f.Close()
	f.WriteString(`[ldap]
url = "ldap://127.0.0.1:1"
bind_dn = "cn=regtoken,dc=example,dc=org"
bind_password_file = "ldap.pw"
user_base = "ou=people,dc=example,dc=org"
`)
	return path
}

func TestBindPasswordFile(t *testing.T) {
	for _, c := range []struct {
		text string
		mode os.FileMode
		err  string
	}{
		{"secret\n", 0o600, ""},
		{"secret\r\n", 0o640, ""},
		{"secret\n", 0o604, "readable by others"},
		{"\n", 0o600, "is empty"},
	} {
		cfg := load(t, ldapFixture(t, c.text, c.mode))
		d, err := LoadDirectory(cfg.LDAP, nil, nil)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q mode %04o: %v", c.text, c.mode, err)
		case c.err == "" && !d.Same(*cfg.LDAP, ldapauth.Env{BindPassword: "secret"}):
			t.Errorf("%q: the password read is not \"secret\"", c.text)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q mode %04o: %v, want %q", c.text, c.mode, err, c.err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	if d, err := LoadDirectory(nil, nil, nil); d != nil || err != nil {
		t.Errorf("no [ldap]: %v %v", d, err)
	}
}

// A reload keeps the Directory (and its connections) unless the [ldap]
// table or the password changed.
func TestDirectoriesKeepUnchanged(t *testing.T) {
	path := ldapFixture(t, "secret", 0o600)
	ds := &directories{}
	first, err := ds.load(load(t, path))
	if err != nil {
		t.Fatal(err)
	}
	ds.use(first)
	again, err := ds.load(load(t, path))
	if err != nil || again != first {
		t.Fatalf("an unchanged configuration made a new Directory (%v)", err)
	}
	os.WriteFile(filepath.Join(filepath.Dir(path), "ldap.pw"), []byte("rotated"), 0o600)
	rotated, err := ds.load(load(t, path))
	if err != nil || rotated == first {
		t.Fatalf("a new service password kept the old Directory (%v)", err)
	}
	ds.use(rotated)
	if ds.current.Load() != rotated {
		t.Error("use did not make the new Directory current")
	}
	if w := watchedFiles(path, load(t, path)); !strings.Contains(strings.Join(w, " "), "ldap.pw") {
		t.Errorf("the password file is not watched: %v", w)
	}
}

func TestDirectoryHealthBody(t *testing.T) {
	if got := directoryHealth(ldapauth.Health{}); got["status"] != "unknown" {
		t.Errorf("before any contact: %v", got)
	}
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	got := directoryHealth(ldapauth.Health{Known: true, Error: "dial tcp: connection refused", Since: since, Checked: since})
	if got["status"] != "unreachable" || got["error"] != "dial tcp: connection refused" || got["since"] != "2026-01-02T03:04:05Z" {
		t.Errorf("unreachable: %v", got)
	}
	if got := directoryHealth(ldapauth.Health{Known: true, Reachable: true}); got["status"] != "up" || got["error"] != nil {
		t.Errorf("up: %v", got)
	}
}
