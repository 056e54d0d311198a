//go:build e2e

package harness

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The deployment files under deploy/ are tested as shipped: a test reads one,
// replaces the few host-specific strings (socket directory, TLS files,
// listen address) and runs the result. Render insists that every string it is
// told to replace is present, so a shipped file that drifts from what the
// tests expect fails them instead of being tested in some other form.

// DeployFile returns the path of a shipped file under deploy/.
func DeployFile(parts ...string) string {
	return filepath.Join(append([]string{RepoRoot(), "deploy"}, parts...)...)
}

// Render returns the text of the file at path with each old string of the
// old, new pairs replaced everywhere, in order. A pair whose old string does
// not occur fails the test.
func Render(t testing.TB, path string, pairs ...string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Replace(t, path, string(b), pairs...)
}

// Replace is Render for text already read; name is used in failure messages.
func Replace(t testing.TB, name, text string, pairs ...string) string {
	t.Helper()
	if len(pairs)%2 != 0 {
		t.Fatalf("Replace %s: odd number of strings", name)
	}
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(text, pairs[i]) {
			t.Fatalf("%s no longer contains %q: update the test with the file", name, pairs[i])
		}
		text = strings.ReplaceAll(text, pairs[i], pairs[i+1])
	}
	return text
}

// nginxIncludes are copied next to a test's nginx.conf, so that a shipped
// file's "include scgi_params;" resolves as it does in /etc/nginx.
var nginxIncludes = []string{"scgi_params", "uwsgi_params", "fastcgi_params", "mime.types"}

// NginxPrefix makes a private nginx prefix under dir (logs, temp files and
// copies of Debian's include files) and returns its path.
func NginxPrefix(t testing.TB, dir string) string {
	t.Helper()
	Tool(t, "nginx")
	prefix := filepath.Join(dir, "nginx")
	for _, d := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(prefix, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range nginxIncludes {
		CopyFile(t, filepath.Join("/etc/nginx", name), filepath.Join(prefix, name))
	}
	return prefix
}

// NginxTempPaths are http-level directives that keep nginx's temporary files
// under prefix.
func NginxTempPaths(prefix string) string {
	return fmt.Sprintf(`
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
`, prefix)
}

// NginxConf makes a complete nginx.conf around http-level text, such as a
// shipped site file with its upstream, map and server blocks, for nginx with
// the given number of worker processes and its files under prefix. Workers
// run as www-data, as with Debian's nginx.conf, so socket permissions are
// tested as they are in production. The access log is off ("access_log
// off;", which EnableWireLog replaces).
func NginxConf(prefix string, workers int, httpLevel string) string {
	return fmt.Sprintf(`user www-data;
worker_processes %[2]d;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
%[3]s
%[4]s
}
`, prefix, workers, NginxTempPaths(prefix), httpLevel)
}

// NginxTest runs nginx -t on the configuration file conf and returns its
// output and exit error.
func NginxTest(t testing.TB, prefix, conf string) (string, error) {
	t.Helper()
	out, err := exec.Command(Tool(t, "nginx"), "-t", "-p", prefix, "-c", conf).CombinedOutput()
	return string(out), err
}

// StartNginxConf writes conf as prefix/nginx.conf, checks it with nginx -t
// and runs nginx in the foreground until the test ends. It returns once
// addr (host:port) accepts connections.
func StartNginxConf(t testing.TB, prefix, conf, addr string) *Process {
	t.Helper()
	path := filepath.Join(prefix, "nginx.conf")
	WriteFile(t, path, conf, 0o644)
	if out, err := NginxTest(t, prefix, path); err != nil {
		t.Fatalf("nginx -t rejected the test configuration: %v\n%s\n%s", err, out, conf)
	}
	p := Start(t, "nginx", exec.Command(Tool(t, "nginx"), "-g", "daemon off;", "-p", prefix, "-c", path))
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(prefix, "logs", "error.log")); err == nil {
				t.Logf("--- nginx error.log:\n%s", lastLines(string(b), 40))
			}
		}
	})
	p.WaitDial(t, "tcp", addr, 10*time.Second)
	return p
}

// WWWData returns the uid and gid of www-data, the user nginx's workers run
// as on Debian and the group the socket units give the sockets.
func WWWData(t testing.TB) (uid, gid int) {
	t.Helper()
	u, err := user.Lookup("www-data")
	if err != nil {
		t.Fatalf("user www-data is needed (Debian has it; useradd --system www-data): %v", err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}
