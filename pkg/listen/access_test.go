package listen

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// withWebServerGroups makes the given groups the web servers' for one test:
// "root" (gid 0) exists everywhere, so the tests do not depend on which web
// server groups this machine has.
func withWebServerGroups(t *testing.T, groups ...string) {
	old := WebServerGroups
	WebServerGroups = groups
	t.Cleanup(func() { WebServerGroups = old })
}

var (
	asRoot     = identity{uid: 0, gid: 0}
	asUser     = identity{uid: 64123, gid: 64123}
	asRootsGrp = identity{uid: 64123, gid: 64123, groups: []int{0}}
)

func TestDefaultGroup(t *testing.T) {
	withWebServerGroups(t, "no-such-group-regtoken", "root")
	for _, c := range []struct {
		id   identity
		want string
	}{
		{asRoot, "root"},                       // root may give any group
		{asRootsGrp, "root"},                   // a member may give its group
		{identity{uid: 64123, gid: 0}, "root"}, // so may a process whose group it is
		{asUser, ""},                           // otherwise the socket keeps the process's group
	} {
		if got := defaultGroup(c.id); got != c.want {
			t.Errorf("defaultGroup(%+v) = %q, want %q", c.id, got, c.want)
		}
	}
}

// Check reports what would stop Open, each with the fix, without creating
// anything.
func TestCheckErrors(t *testing.T) {
	withWebServerGroups(t, "root")
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	sock := "unix:" + filepath.Join(dir, "s.sock")
	for _, c := range []struct {
		spec Spec
		id   identity
		want string // "" for no error
	}{
		{Spec{Protocol: SCGI, Address: sock}, asRoot, ""},
		{Spec{Protocol: SCGI, Address: "tcp:127.0.0.1:1"}, asUser, ""},
		{Spec{Protocol: SCGI, Address: "unix:" + filepath.Join(dir, "missing", "s.sock")}, asRoot,
			"missing: no such file or directory; create it first (install -d -m 0755 " + filepath.Join(dir, "missing") + ")"},
		{Spec{Protocol: SCGI, Address: "unix:" + filepath.Join(file, "s.sock")}, asRoot, file + " is not a directory"},
		{Spec{Protocol: SCGI, Address: sock, Group: "no-such-group-regtoken"}, asRoot, `group "no-such-group-regtoken": no such group`},
		{Spec{Protocol: SCGI, Address: sock, Owner: "no-such-user-regtoken"}, asRoot, `owner "no-such-user-regtoken": no such user`},
		{Spec{Protocol: SCGI, Address: sock, Group: "root"}, asUser,
			"regtoken (running as uid 64123) is not in group root, so it may not give the socket that group; add it to the group (usermod -aG root USER) or run it as root"},
		{Spec{Protocol: SCGI, Address: sock, Group: "root"}, asRootsGrp, ""},
		{Spec{Protocol: SCGI, Address: sock, Owner: "root"}, asUser, "only root may give the socket another owner (root)"},
	} {
		_, err := c.spec.check(c.id)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v as %+v: %v", c.spec, c.id, err)
		case c.want != "" && (!errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v as %+v: error %v, want %q", c.spec, c.id, err, c.want)
		}
	}
}

// A socket or a directory the web server's group cannot get through is
// named in a warning with the fix.
func TestCheckReachWarnings(t *testing.T) {
	withWebServerGroups(t, "root")
	open, err := os.MkdirTemp("", "regtoken-access") // t.TempDir's parent is 0700
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(open) })
	os.Chmod(open, 0o755)
	closed := filepath.Join(open, "closed")
	os.Mkdir(closed, 0o700)
	for _, c := range []struct {
		spec Spec
		want string // "" for no warning
	}{
		{Spec{Protocol: SCGI, Address: "unix:" + open + "/a.sock", Group: "root"}, ""},
		{Spec{Protocol: SCGI, Address: "unix:" + open + "/a.sock", Group: "4242", Mode: 0o666}, ""},
		{Spec{Protocol: UWSGI, Address: "unix:" + open + "/a.sock", Group: "4242"},
			"a web server running as group root could not connect: the socket will have group 4242 and mode 0660; " +
				"set group = \"root\" in its [[listen]] table, or -listen 'uwsgi=unix:" + open + "/a.sock?group=root'"},
		{Spec{Protocol: SCGI, Address: "unix:" + closed + "/a.sock", Group: "root"},
			"group root may not enter " + closed + " (group root, mode 0700), so a web server running as it cannot reach the socket; chmod o+x " + closed},
	} {
		warnings, err := c.spec.check(asRoot)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(warnings, "\n")
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%v: warnings %q, want %q", c.spec, got, c.want)
		}
	}
}
