package testenv

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// installHints says how .ci/test.sh installs each tool.
var installHints = map[string]string{
	"nginx":                   "apt-get install nginx-light",
	"docker-registry":         "apt-get install docker-registry (distribution 2.8)",
	"registry":                "go install github.com/distribution/distribution/v3/cmd/registry@v3.1.2",
	"crane":                   "go install github.com/google/go-containerregistry/cmd/crane@v0.22.1",
	"skopeo":                  "apt-get install skopeo",
	"systemd-socket-activate": "apt-get install systemd",
	"wrk":                     "apt-get install wrk",
	"docker":                  "a Docker engine (docker info must succeed)",
	"containerd":              "apt-get install containerd",
	"ctr":                     "apt-get install containerd",
	"oras":                    "go install oras.land/oras/cmd/oras@v1.3.6",
	"apache2":                 "apt-get install apache2",
	"caddy":                   "apt-get install caddy",
}

// Tool returns the path of a required program, failing the test with an
// install hint when it is missing. It also looks in $(go env GOPATH)/bin,
// where go install puts the Go tools.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range goBinDirs() {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	for _, p := range []string{"/usr/sbin/" + name, "/usr/bin/" + name} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("%s is required for this end-to-end test but was not found; install it with: %s (bash .ci/test.sh does this)", name, installHints[name])
	return ""
}

func goBinDirs() []string {
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if d := os.Getenv("GOPATH"); d != "" {
		dirs = append(dirs, filepath.Join(d, "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	return dirs
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ShortDir returns a fresh directory with a short path: unix socket paths are
// limited to 107 bytes, and t.TempDir() paths can be longer.
func ShortDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("/tmp", "rt")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(d, 0o755)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}
