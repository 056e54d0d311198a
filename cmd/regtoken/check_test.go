package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/regtoken/regtoken/pkg/listen"
)

// TestMain lets a test run regtoken as another user: the test binary,
// started again with REGTOKEN_TEST_ARGS (separated by US, 0x1f), runs
// those arguments and exits.
func TestMain(m *testing.M) {
	if args := os.Getenv("REGTOKEN_TEST_ARGS"); args != "" {
		listen.WebServerGroups = strings.Fields(os.Getenv("REGTOKEN_TEST_WEB_GROUPS"))
		os.Exit(run(strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// listenConfig writes, into the fixture dir, a configuration that serve
// would accept but for its [[listen]] table listenTable ("" for none).
func listenConfig(t *testing.T, dir, listenTable string) string {
	t.Helper()
	path := filepath.Join(dir, "listen.toml")
	text := "[token]\nissuer = 'example issuer'\nservices = ['Authentication']\nkey = 'RootCA.key'\ncertificate = 'RootCA.crt'\n" +
		"[acl]\nusers = 'users.json'\nrepositories = 'repositories.json'\ngroups = 'groups.json'\nhtpasswd = 'htpasswd'\n" + listenTable
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Every reason serve would not create a socket as asked is an error in
// check, with the fix; what would keep nginx out is a warning. serve
// refuses to start with the same message: both run daemon.Preflight.
func TestCheckListeners(t *testing.T) {
	for _, c := range []struct {
		golden, listen string
		code           int // check's; serve exits 2 whenever check exits 1
	}{
		{"check-listen-nodir.golden", "[[listen]]\nprotocol = 'scgi'\naddress = 'unix:missing/regtoken.sock'\n", 1},
		{"check-listen-nogroup.golden", "[[listen]]\nprotocol = 'scgi'\naddress = 'unix:regtoken.sock'\ngroup = 'no-such-group-regtoken'\n", 1},
		{"check-listen-unreachable.golden", "[[listen]]\nprotocol = 'uwsgi'\naddress = 'unix:regtoken.sock'\ngroup = '4242'\n", 0},
		{"check-listen-none.golden", "", 0},
	} {
		t.Run(c.golden, func(t *testing.T) {
			dir := checkFixture(t, 0o600)
			path := listenConfig(t, dir, c.listen)
			runGoldenIn(t, dir, c.golden, c.code, "check", "-config", path)
			if c.code == 0 {
				return
			}
			var stdout, stderr bytes.Buffer
			if code := run([]string{"serve", "-config", path}, &stdout, &stderr); code != exitUsage {
				t.Fatalf("serve: exit %d, want %d\n%s", code, exitUsage, &stderr)
			}
			golden, _ := os.ReadFile(filepath.Join("testdata", c.golden))
			first := strings.TrimPrefix(strings.SplitN(string(golden), "\n", 2)[0], "ERROR ")
			if !strings.Contains(strings.ReplaceAll(stderr.String(), dir, "$DIR"), fmt.Sprintf("%q", first)) {
				t.Errorf("serve does not log check's error %q:\n%s", first, &stderr)
			}
		})
	}
}

// serve without any listener, and not started by systemd, refuses to start;
// check can only warn, since it cannot know how serve will be started.
func TestServeWithoutListeners(t *testing.T) {
	dir := checkFixture(t, 0o600)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"serve", "-config", listenConfig(t, dir, "")}, &stdout, &stderr); code != exitUsage ||
		!strings.Contains(stderr.String(), "nothing to listen on: add a [[listen]] table") {
		t.Errorf("serve: exit %d\n%s", code, &stderr)
	}
}

// A process that is not in the socket's group may not give the socket that
// group: check says so, and serve does not start. As root, the test runs
// regtoken as nobody.
func TestCheckListenerGroupNotMine(t *testing.T) {
	dir := checkFixture(t, 0o600)
	withWebServerGroups(t, "root")
	path := listenConfig(t, dir, "[[listen]]\nprotocol = 'scgi'\naddress = 'unix:regtoken.sock'\ngroup = 'root'\n")
	for _, args := range [][]string{{"check", "-config", path}, {"serve", "-config", path}} {
		stdout, stderr, code, who := runAsNobody(t, dir, args...)
		out := strings.NewReplacer(dir, "$DIR", "running as "+who, "running as $USER").Replace(stdout + stderr)
		if args[0] == "check" {
			if code != exitProblem {
				t.Errorf("check: exit %d\n%s", code, out)
			}
			compareGolden(t, "check-listen-notmember.golden", out)
		} else if code != exitUsage || !strings.Contains(out, "is not in group root, so it may not give the socket that group") {
			t.Errorf("serve: exit %d\n%s", code, out)
		}
	}
}

// runAsNobody runs regtoken with args as the user nobody when the test runs
// as root (in a copy of the test binary, since go test's build directory is
// root's alone), and in the test's process otherwise. It returns the output,
// the exit status and the user name regtoken ran as.
func runAsNobody(t *testing.T, dir string, args ...string) (stdout, stderr string, code int, who string) {
	t.Helper()
	if os.Geteuid() != 0 {
		var out, errs bytes.Buffer
		code := run(args, &out, &errs)
		u, _ := user.Current()
		return out.String(), errs.String(), code, u.Username
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("user nobody: %v", err)
	}
	var uid, gid int
	fmt.Sscan(nobody.Uid, &uid)
	fmt.Sscan(nobody.Gid, &gid)
	filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, uid, gid) })
	self := filepath.Join(dir, "regtoken.test")
	copyExecutable(t, os.Args[0], self)
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "REGTOKEN_TEST_ARGS="+strings.Join(args, "\x1f"),
		"REGTOKEN_TEST_WEB_GROUPS="+strings.Join(listen.WebServerGroups, " "))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	err = cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errs.String(), code, "nobody"
}

func copyExecutable(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
