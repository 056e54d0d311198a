//go:build e2e

package harness

import (
	"io/fs"
	"net"
	"os"
	"testing"
	"time"
)

// ListenNotify is a stand-in for systemd's notification socket at path
// (what a service finds in NOTIFY_SOCKET), closed when the test ends.
func ListenNotify(t testing.TB, path string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ExpectNotify fails the test unless the next message on the notification
// socket c, within 15 s, is want (such as "READY=1").
func ExpectNotify(t testing.TB, c *net.UnixConn, want string) {
	t.Helper()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("waiting for %s on NOTIFY_SOCKET: %v", want, err)
	}
	if got := string(buf[:n]); got != want {
		t.Fatalf("NOTIFY_SOCKET got %q, want %q", got, want)
	}
}

// WaitSocketFile waits up to 20 s until path is a unix socket, failing the
// test when it does not appear, or when p (if not nil: the process meant to
// create it) exits first.
func WaitSocketFile(t testing.TB, p *Process, path string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == fs.ModeSocket {
			return
		}
		if p != nil && p.Exited() {
			t.Fatalf("%s exited before creating %s:\n%s", p.Name, path, lastLines(p.Output(), 40))
		}
	}
	t.Fatalf("%s did not appear", path)
}
