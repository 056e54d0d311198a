//go:build e2e

package harness

import (
	"fmt"
	"testing"
)

// StartNginx runs nginx in the foreground with a private prefix under dir,
// serving the given server-block body on 127.0.0.1:port. The body is what goes
// inside `server { ... }` after the listen line. Files like scgi_params are
// included from /etc/nginx.
func StartNginx(t testing.TB, dir string, port int, http, server string) *Process {
	t.Helper()
	prefix := NginxPrefix(t, dir)
	conf := fmt.Sprintf(`master_process on;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
%[2]s
    %[3]s
    server {
        listen 127.0.0.1:%[4]d;
        server_name localhost;
        %[5]s
    }
}
`, prefix, NginxTempPaths(prefix), http, port, server)
	return StartNginxConf(t, prefix, conf, fmt.Sprintf("127.0.0.1:%d", port))
}
