package listen

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nginxParamFiles are linked next to the temporary nginx.conf so that
// "include scgi_params;" works as it does in /etc/nginx.
var nginxParamFiles = []string{"scgi_params", "uwsgi_params", "fastcgi_params", "proxy_params", "mime.types"}

// startNginx runs nginx in the foreground with a throw-away configuration
// whose single server block listens on a free loopback port and contains
// serverBlock (locations and the like). Everything nginx writes (pid, logs,
// temp files) stays in a temp dir. It returns the server's base URL
// ("http://127.0.0.1:PORT"); nginx stops when the test ends, and its error
// log is printed if the test failed.
func startNginx(t *testing.T, serverBlock string) (baseURL string) {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/nginx"); err != nil {
			t.Fatalf("nginx not found (Debian: apt-get install nginx-light): %v", err)
		}
	}
	dir := t.TempDir()
	for _, name := range nginxParamFiles {
		if err := os.Symlink(filepath.Join("/etc/nginx", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		n, err := runNginx(bin, dir, port, serverBlock)
		if err == nil {
			t.Cleanup(func() {
				n.stop()
				if t.Failed() {
					t.Logf("nginx error log:\n%s", n.errorLog())
				}
			})
			return fmt.Sprintf("http://127.0.0.1:%d", port)
		}
		// Another process may take the free port before nginx binds it.
		if attempt == 3 || !strings.Contains(err.Error(), "Address already in use") {
			t.Fatalf("nginx did not start: %v", err)
		}
	}
}

// nginxConf is the whole configuration: %[1]s is the temp dir, %[2]d the
// port, %[3]s the caller's server block.
const nginxConf = `daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    server {
        listen 127.0.0.1:%[2]d;
%[3]s
    }
}
`

// nginxProcess is one running nginx.
type nginxProcess struct {
	cmd    *exec.Cmd
	exited chan error
	dir    string
}

// runNginx starts nginx and waits until it accepts connections.
func runNginx(bin, dir string, port int, serverBlock string) (*nginxProcess, error) {
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, dir, port, serverBlock), 0o600); err != nil {
		return nil, err
	}
	var output bytes.Buffer
	n := &nginxProcess{
		cmd:    exec.Command(bin, "-p", dir+"/", "-c", conf, "-e", filepath.Join(dir, "error.log")),
		exited: make(chan error, 1),
		dir:    dir,
	}
	n.cmd.Stdout, n.cmd.Stderr = &output, &output
	if err := n.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { n.exited <- n.cmd.Wait() }()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case err := <-n.exited:
			return nil, fmt.Errorf("nginx exited (%v): %s%s", err, output.String(), n.errorLog())
		case <-time.After(20 * time.Millisecond):
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return n, nil
		}
	}
	n.stop()
	return nil, errors.New("nginx did not listen on " + addr)
}

// stop asks for a graceful stop (SIGQUIT) and kills nginx if it lingers.
func (n *nginxProcess) stop() {
	n.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-n.exited:
	case <-time.After(5 * time.Second):
		n.cmd.Process.Kill()
		<-n.exited
	}
}

func (n *nginxProcess) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
	return string(b)
}

// freePort asks the kernel for a loopback port that is free right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
