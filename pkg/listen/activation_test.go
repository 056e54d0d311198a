package listen

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
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

	"github.com/regtoken/regtoken/pkg/limits"
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

// activatedService is a miniature regtoken main: listeners from
// activation, READY=1, serve until SIGTERM, STOPPING=1, drain, exit.
func activatedService() error {
	act, err := Activated()
	if err != nil {
		return err
	}
	for _, name := range activationEnv {
		if v, ok := os.LookupEnv(name); ok {
			return fmt.Errorf("%s=%s still set after Activated", name, v)
		}
	}
	specs, err := ActivatedSpecs(act)
	if err != nil {
		return err
	}
	ls, err := Open(specs, act)
	if err != nil {
		return err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "activated pid %d", os.Getpid())
	})
	g, err := Start(ls, h, slog.New(slog.NewTextHandler(os.Stderr, nil)), limits.Transport{})
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

func TestSocketActivation(t *testing.T) {
	activate, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Fatalf("systemd-socket-activate not found (Debian: apt-get install systemd): %v", err)
	}
	dir := t.TempDir()
	sock, notifyPath := filepath.Join(dir, "a.sock"), filepath.Join(dir, "notify.sock")
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()

	var output bytes.Buffer
	cmd := exec.Command(activate, "-l", sock, "--fdname=scgi", "-E", "NOTIFY_SOCKET", "-E", "GO_TEST_HELPER=1",
		os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notifyPath)
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("service output:\n%s", output.String())
		}
	})

	waitForFile(t, sock)
	// systemd-socket-activate starts the service on the first connection.
	status, body, err := rawGet(SCGI, "unix", sock, "/v2/token")
	if err != nil || status != 200 || !strings.HasPrefix(body, "activated pid") {
		t.Fatalf("request through the activated socket: %d %q %v", status, body, err)
	}
	expectState(t, notify, "READY=1")

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	expectState(t, notify, "STOPPING=1")
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("service exit: %v", err)
		}
		exited <- err // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("service did not exit after SIGTERM")
	}
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Type() != fs.ModeSocket {
		t.Errorf("activated socket file removed by the service: %v", err)
	}
}

func waitForFile(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Lstat(path); err == nil {
			return
		}
	}
	t.Fatalf("%s did not appear", path)
}

func expectState(t *testing.T, conn *net.UnixConn, want string) {
	t.Helper()
	buf := make([]byte, 1024)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("waiting for %s: %v", want, err)
	}
	if got := string(buf[:n]); got != want {
		t.Fatalf("notify socket got %q, want %q", got, want)
	}
}
