//go:build e2e

package harness

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// installHints say how to install each tool the suite runs; bash
// .ci/test.sh installs them all.
var installHints = map[string]string{
	"nginx":                   "apt-get install nginx-light",
	"docker-registry":         "apt-get install docker-registry (distribution 2.8)",
	"registry":                "go install github.com/distribution/distribution/v3/cmd/registry@v3.1.2",
	"crane":                   "go install github.com/google/go-containerregistry/cmd/crane@v0.22.1",
	"skopeo":                  "apt-get install skopeo",
	"systemd-socket-activate": "apt-get install systemd",
	"systemd-analyze":         "apt-get install systemd",
	"systemd-sysusers":        "apt-get install systemd",
	"wrk":                     "apt-get install wrk",
	"curl":                    "apt-get install curl",
	"jq":                      "apt-get install jq",
	"docker":                  "a Docker engine (docker info must succeed)",
	"docker-compose":          "apt-get install docker-compose",
	"containerd":              "apt-get install containerd",
	"ctr":                     "apt-get install containerd",
	"oras":                    "go install oras.land/oras/cmd/oras@v1.3.6",
	"apache2":                 "apt-get install apache2 libapache2-mod-proxy-uwsgi",
	"caddy":                   "apt-get install caddy",
	"slapd":                   "apt-get install slapd ldap-utils (OpenLDAP)",
	"slapadd":                 "apt-get install slapd ldap-utils (OpenLDAP)",
	"redis-server":            "apt-get install redis-server",
	"valkey-server":           "apt-get install valkey-server (Debian 12: enable bookworm-backports, then apt-get install -t bookworm-backports valkey-server)",
}

// Tool returns the path of a program the test needs. It also looks in
// $(go env GOPATH)/bin, where go install puts the Go tools, and in /usr/sbin,
// which may not be on a user's PATH. A missing program fails the test with
// how to install it: an end-to-end test that cannot start a part is a
// failure, never a skip.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if p := findTool(name); p != "" {
		return p
	}
	hint, ok := installHints[name]
	if !ok {
		t.Fatalf("%s not found, and the harness has no install hint for it: add one to installHints and to .ci/test.sh", name)
	}
	t.Fatalf("%s not found: %s (bash .ci/test.sh installs it)", name, hint)
	return ""
}

// findTool returns the path of a program on PATH, in a Go bin directory, in
// /usr/sbin or /usr/bin, or "" when it is nowhere.
func findTool(name string) string {
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
	return ""
}

// Containerd2Version is the containerd 2 release that .ci/test.sh builds for
// the conformance suite's second containerd column.
const Containerd2Version = "v2.4.2"

// Containerd2 returns the paths of the containerd 2 daemon and its ctr, which
// .ci/test.sh builds into $(go env GOPATH)/opt/containerd-v2.4.2/bin. They
// have the same names as Debian's containerd 1.6 binaries, which Tool finds
// on PATH, so they are looked for in that directory only. When either is
// missing, the test fails with the two go install commands that build them.
func Containerd2(t testing.TB) (containerd, ctr string) {
	t.Helper()
	var dirs []string
	for _, gopath := range goPaths() {
		dir := filepath.Join(gopath, "opt", "containerd-"+Containerd2Version, "bin")
		containerd, ctr = filepath.Join(dir, "containerd"), filepath.Join(dir, "ctr")
		if isExecutable(containerd) && isExecutable(ctr) {
			return containerd, ctr
		}
		dirs = append(dirs, dir)
	}
	bin := "$(go env GOPATH)/opt/containerd-" + Containerd2Version + "/bin"
	t.Fatalf("containerd %s (containerd and ctr) not found in %s: "+
		"GOBIN=%s go install github.com/containerd/containerd/v2/cmd/ctr@%s && "+
		"GOBIN=%s CGO_ENABLED=0 go install -tags no_btrfs,no_devmapper,no_zfs "+
		"github.com/containerd/containerd/v2/cmd/containerd@%s (bash .ci/test.sh installs it)",
		Containerd2Version, strings.Join(dirs, ", "), bin, Containerd2Version, bin, Containerd2Version)
	return "", ""
}

// goPaths are the GOPATH directories to look in: what go env says (the
// default is $HOME/go when GOPATH is unset), then $GOPATH and $HOME/go in
// case the go command cannot be run.
var goPaths = sync.OnceValue(func() []string {
	var paths []string
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		paths = append(paths, filepath.SplitList(strings.TrimSpace(string(out)))...)
	}
	paths = append(paths, filepath.SplitList(os.Getenv("GOPATH"))...)
	if home, err := os.UserHomeDir(); err == nil {
		paths = append(paths, filepath.Join(home, "go"))
	}
	return slices.Compact(paths)
})

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
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
//
// It picks at random below Linux's ephemeral range (32768 and up by
// default) instead of asking the kernel for port 0: the kernel's choice
// comes from the ephemeral range, where the load tests' thousands of client
// connections may take the port before the server binds it, and the kernel
// once handed the same port to two FreePort calls in a row. A port is never
// returned twice in one test process.
func FreePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		port := firstTestPort + rand.IntN(lastTestPort-firstTestPort+1)
		if portsGiven[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // taken
		}
		l.Close()
		portsGiven[port] = true
		return port
	}
	t.Fatalf("no free port in %d-%d", firstTestPort, lastTestPort)
	return 0
}

// The range FreePort picks from: registered ports few machines use, below the
// ephemeral range.
const firstTestPort, lastTestPort = 20000, 32767

// portsGiven are the ports FreePort returned, never returned twice.
var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

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
