//go:build e2e

package listeners

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
	"github.com/regtoken/regtoken/pkg/limits"
	"github.com/regtoken/regtoken/pkg/listen"
)

// TestHelperProcess is the service that systemd-socket-activate starts in
// TestSocketActivation (the usual re-exec pattern: the test binary runs
// itself). In a normal test run it does nothing.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("GO_TEST_HELPER") != "1" {
		return
	}
	if err := activatedService(); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// activationEnv are the variables systemd-socket-activate sets for its
// service (sd_listen_fds(3)); Activated must unset them, so that the
// service's own children do not take the sockets for theirs.
var activationEnv = []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"}

// activatedService is a miniature regtoken main: listeners from
// activation, READY=1, serve until SIGTERM, STOPPING=1, drain, exit.
func activatedService() error {
	act, err := listen.Activated()
	if err != nil {
		return err
	}
	for _, name := range activationEnv {
		if v, ok := os.LookupEnv(name); ok {
			return fmt.Errorf("%s=%s still set after Activated", name, v)
		}
	}
	specs, err := listen.ActivatedSpecs(act)
	if err != nil {
		return err
	}
	ls, err := listen.Open(specs, act)
	if err != nil {
		return err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "activated pid %d", os.Getpid())
	})
	g, err := listen.Start(ls, h, slog.New(slog.NewTextHandler(os.Stderr, nil)), limits.Transport{})
	if err != nil {
		return err
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	if _, err := sd.SdNotify(false, sd.SdNotifyReady); err != nil {
		return err
	}
	select {
	case <-stop:
	case err := <-g.Errors():
		return err
	}
	if _, err := sd.SdNotify(false, sd.SdNotifyStopping); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return g.Shutdown(ctx)
}

// TestSocketActivation hands the helper service one socket named after its
// protocol, as a socket unit with FileDescriptorName=http does, and checks
// that the service serves on it, tells systemd READY=1 and STOPPING=1, and
// leaves the socket file, which systemd owns, in place when it stops.
func TestSocketActivation(t *testing.T) {
	activate := harness.Tool(t, "systemd-socket-activate")
	dir := harness.ShortDir(t)
	sock, notifyPath := filepath.Join(dir, "a.sock"), filepath.Join(dir, "notify.sock")
	notify := harness.ListenNotify(t, notifyPath)

	cmd := exec.Command(activate, "-l", sock, "--fdname="+listen.HTTP, "-E", "NOTIFY_SOCKET", "-E", "GO_TEST_HELPER=1",
		os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notifyPath)
	p := harness.Start(t, "systemd-socket-activate helper", cmd)

	harness.WaitSocketFile(t, p, sock)
	// systemd-socket-activate starts the service on the first connection.
	status, body, err := get(harness.UnixHTTPClient(sock), "http://activated/v2/token")
	if err != nil || status != 200 || !strings.HasPrefix(body, "activated pid") {
		t.Fatalf("request through the activated socket: %d %q %v", status, body, err)
	}
	harness.ExpectNotify(t, notify, "READY=1")

	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	harness.ExpectNotify(t, notify, "STOPPING=1")
	if err := p.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("service exit status %d after SIGTERM, want 0", code)
	}
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Type() != fs.ModeSocket {
		t.Errorf("activated socket file removed by the service: %v", err)
	}
}

// get fetches url with c and returns the status and body.
func get(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
