//go:build e2e

package harness

import (
	"fmt"
	"testing"
)

// StartNginx runs nginx (one worker) in the foreground with a private prefix
// under dir, serving the given server-block body on 127.0.0.1:port. The body
// is what goes inside `server { ... }` after the listen line; http is more
// http-level text, such as upstream blocks. Files like scgi_params are
// included from /etc/nginx.
func StartNginx(t testing.TB, dir string, port int, http, server string) *Process {
	t.Helper()
	prefix := NginxPrefix(t, dir)
	conf := NginxConf(prefix, 1, fmt.Sprintf(`    %s
    server {
        listen 127.0.0.1:%d;
        server_name localhost;
        %s
    }`, http, port, server))
	return StartNginxConf(t, prefix, conf, fmt.Sprintf("127.0.0.1:%d", port))
}
