package listen

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func openOne(t *testing.T, s Spec, activated map[string][]net.Listener) Listener {
	t.Helper()
	ls, err := Open([]Spec{s}, activated)
	if err != nil {
		t.Fatalf("Open(%v): %v", s, err)
	}
	if len(ls) != 1 {
		t.Fatalf("Open(%v) gave %d listeners", s, len(ls))
	}
	return ls[0]
}

func fileStat(t *testing.T, path string) (fs.FileMode, *syscall.Stat_t) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode(), fi.Sys().(*syscall.Stat_t)
}

func TestUnixSocketModeAndGroup(t *testing.T) {
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatalf("group of this process: %v", err)
	}
	defaultGID := g.Gid // without a web server group to give, the process's
	if name := DefaultGroup(); name != "" {
		dg, err := user.LookupGroup(name)
		if err != nil {
			t.Fatal(err)
		}
		defaultGID = dg.Gid
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		spec Spec
		mode fs.FileMode
		gid  string
	}{
		{Spec{Protocol: SCGI, Address: "unix:" + filepath.Join(dir, "default.sock")}, 0o660, defaultGID},
		{Spec{Protocol: SCGI, Address: "unix:" + filepath.Join(dir, "named.sock"), Mode: 0o600, Group: g.Name}, 0o600, g.Gid},
		{Spec{Protocol: SCGI, Address: "unix:" + filepath.Join(dir, "numeric.sock"), Mode: 0o666,
			Owner: strconv.Itoa(os.Getuid()), Group: g.Gid}, 0o666, g.Gid},
	} {
		l := openOne(t, tc.spec, nil)
		path := l.Addr().String()
		mode, st := fileStat(t, path)
		if mode.Type() != fs.ModeSocket || mode.Perm() != tc.mode {
			t.Errorf("%s: mode %v, want socket %v", path, mode, tc.mode)
		}
		if strconv.Itoa(int(st.Gid)) != tc.gid || int(st.Uid) != os.Getuid() {
			t.Errorf("%s: owned by %d:%d, want %d:%s", path, st.Uid, st.Gid, os.Getuid(), tc.gid)
		}
		l.Close()
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: created socket left behind after Close: %v", path, err)
		}
	}
}

func TestUnknownGroupFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	_, err := Open([]Spec{{Protocol: SCGI, Address: "unix:" + path, Group: "no-such-group-regtoken"}}, nil)
	if err == nil {
		t.Fatal("unknown group accepted")
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket left behind after failed Open: %v", err)
	}
}

// The socket file must never exist with more than owner permission
// before setPermissions runs (Go alone would create it 0777 &^ umask).
func TestSocketBornPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	lc := net.ListenConfig{Control: ownerOnly}
	l, err := lc.Listen(context.Background(), "unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if mode, _ := fileStat(t, path); mode.Perm() != 0o600 {
		t.Errorf("new socket has mode %v, want 0600", mode.Perm())
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stale.sock")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close() // the file stays, nobody answers: a crashed predecessor
	l := openOne(t, Spec{Protocol: SCGI, Address: "unix:" + path}, nil)
	defer l.Close()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("replaced socket does not answer: %v", err)
	}
	c.Close()
}

func TestLiveSocketRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "live.sock")
	live, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	_, err = Open([]Spec{{Protocol: SCGI, Address: "unix:" + path}}, nil)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("got %v, want ErrInUse", err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("live socket file was touched: %v", err)
	}
}

func TestNonSocketRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open([]Spec{{Protocol: SCGI, Address: "unix:" + path}}, nil)
	if !errors.Is(err, ErrNotSocket) {
		t.Fatalf("got %v, want ErrNotSocket", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me" {
		t.Error("regular file was replaced")
	}
}

// activatedFrom hands a socket to the activation code the way systemd
// would: as a bare fd with a name, with the original listener gone.
func activatedFrom(t *testing.T, path, name string) map[string][]net.Listener {
	t.Helper()
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false) // systemd, not this test, owns the file
	f, err := ul.File()
	if err != nil {
		t.Fatal(err)
	}
	ul.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	act, err := listenersFromFiles([]*os.File{os.NewFile(uintptr(fd), name)})
	if err != nil {
		t.Fatal(err)
	}
	return act
}

func TestActivatedSocketSurvivesClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "activated.sock")
	l := openOne(t, Spec{Protocol: SCGI, Address: "systemd:scgi"}, activatedFrom(t, path, "scgi"))
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("activated socket does not answer: %v", err)
	}
	c.Close()
	l.Close()
	if mode, _ := fileStat(t, path); mode.Type() != fs.ModeSocket {
		t.Errorf("activated socket file gone or changed after Close: %v", mode)
	}
}

func TestNonListeningFDRejected(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "notasocket")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := listenersFromFiles([]*os.File{f}); err == nil {
		t.Error("a regular file was accepted as a passed socket")
	}
}

func TestOpenChecksActivatedNames(t *testing.T) {
	dir := t.TempDir()
	act := activatedFrom(t, filepath.Join(dir, "a.sock"), "scgi")
	defer closeAll(act)
	_, err := Open([]Spec{{Protocol: UWSGI, Address: "systemd:uwsgi"}}, act)
	if !errors.Is(err, ErrNotActivated) || !containsAll(err.Error(), `"uwsgi"`, "scgi") {
		t.Errorf("missing name: got %v, want ErrNotActivated naming uwsgi and the passed scgi", err)
	}
	_, err = Open([]Spec{{Protocol: HTTP, Address: "unix:" + filepath.Join(dir, "h.sock")}}, act)
	if !errors.Is(err, ErrUnusedActivated) {
		t.Errorf("unclaimed activated socket: got %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "h.sock")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("Open created a socket before failing its checks")
	}
	_, err = Open([]Spec{{Protocol: HTTP, Address: "systemd:scgi"}, {Protocol: SCGI, Address: "systemd:scgi"}}, act)
	if !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate: got %v", err)
	}
}

func TestActivatedSpecs(t *testing.T) {
	dir := t.TempDir()
	act := activatedFrom(t, filepath.Join(dir, "a.sock"), "fcgi")
	defer closeAll(act)
	specs, err := ActivatedSpecs(act)
	if err != nil || len(specs) != 1 || specs[0] != (Spec{Protocol: FastCGI, Address: "systemd:fcgi"}) {
		t.Errorf("got %+v, %v", specs, err)
	}
	other := activatedFrom(t, filepath.Join(dir, "b.sock"), "regtoken.socket")
	defer closeAll(other)
	if _, err := ActivatedSpecs(other); !errors.Is(err, ErrUnknownProtocol) {
		t.Errorf("unit-named socket: got %v", err)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// Between bind and chmod, whoever can write to the socket's directory could
// put a link where the socket was. Permissions are set through a descriptor
// that does not follow links and must hold a socket of ours, so the file a
// link leads to keeps its owner and mode, and the listener is refused.
func TestPermissionsNeverFollowLinks(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "signing-key.pem")
	if err := os.WriteFile(victim, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := Spec{Protocol: SCGI, Mode: 0o666, Group: strconv.Itoa(os.Getgid())}
	for name, link := range map[string]func(string, string) error{"symlink": os.Symlink, "hard link": os.Link} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".sock")
		if err := link(victim, path); err != nil {
			t.Fatal(err)
		}
		if err := setPermissions(path, spec); !errors.Is(err, ErrNotSocket) {
			t.Errorf("%s in place of the socket: %v, want ErrNotSocket", name, err)
		}
		if mode, _ := fileStat(t, victim); mode.Perm() != 0o600 {
			t.Fatalf("%s: the linked file's mode became %v", name, mode.Perm())
		}
	}
}

// Both ways of changing the mode through the descriptor work: fchmodat2 on
// kernels that have it, /proc/self/fd on the others.
func TestChmodThroughDescriptor(t *testing.T) {
	for name, chmod := range map[string]func(int, uint32) error{
		"chmodDescriptor": chmodDescriptor, "chmodThroughProc": chmodThroughProc,
	} {
		path := filepath.Join(t.TempDir(), "s.sock")
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := chmod(fd, 0o640); err != nil {
			t.Errorf("%s: %v", name, err)
		} else if mode, _ := fileStat(t, path); mode.Perm() != 0o640 {
			t.Errorf("%s: mode %v, want 0640", name, mode.Perm())
		}
		unix.Close(fd)
		l.Close()
	}
}
