package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// StartNginx runs nginx in the foreground with a private prefix under dir,
// serving the given server-block body on 127.0.0.1:port. The body is what goes
// inside `server { ... }` after the listen line. Files like scgi_params are
// included from /etc/nginx.
func StartNginx(t testing.TB, dir string, port int, http, server string) *Process {
	t.Helper()
	bin := Tool(t, "nginx")
	prefix := filepath.Join(dir, "nginx")
	for _, d := range []string{"", "logs", "tmp"} {
		os.MkdirAll(filepath.Join(prefix, d), 0o755)
	}
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
    %[2]s
    server {
        listen 127.0.0.1:%[3]d;
        server_name localhost;
        %[4]s
    }
}
`, prefix, http, port, server)
	confPath := filepath.Join(prefix, "nginx.conf")
	WriteFile(t, confPath, conf, 0o644)
	if out, err := exec.Command(bin, "-t", "-q", "-p", prefix, "-c", confPath).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t rejected the test configuration: %v\n%s\n%s", err, out, conf)
	}
	p := Start(t, "nginx", exec.Command(bin, "-p", prefix, "-c", confPath))
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(prefix, "logs", "error.log")); err == nil {
				t.Logf("--- nginx error.log:\n%s", lastLines(string(b), 40))
			}
		}
	})
	p.WaitDial(t, "tcp", fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
	return p
}
