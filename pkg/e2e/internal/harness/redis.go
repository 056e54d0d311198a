//go:build e2e

package harness

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Redis is a redis-server or valkey-server on loopback with its files in a
// temporary directory, which a test may stop and start again on the same port.
type Redis struct {
	Addr    string // 127.0.0.1:PORT
	URL     string // redis://127.0.0.1:PORT/0, or valkey://, rediss://, valkeys://
	Program string // redis-server or valkey-server
	dir     string
	port    int
	proc    *Process
	tls     []string    // the server's TLS options, for StartStoreTLS
	dial    *tls.Config // how Do reaches a TLS server
}

// A StoreServer is a server program regtoken's [store] speaks to, and the
// URL scheme a configuration names it by.
type StoreServer struct {
	Program string // redis-server or valkey-server
	Scheme  string // redis or valkey (TLS adds an s)
}

var (
	// RedisServer is Debian's redis-server package (Redis 7.0 in Debian 12).
	RedisServer = StoreServer{Program: "redis-server", Scheme: "redis"}
	// ValkeyServer is Debian's valkey-server package (Valkey 8.0, in
	// bookworm-backports for Debian 12).
	ValkeyServer = StoreServer{Program: "valkey-server", Scheme: "valkey"}
)

// StartStore runs server on a free loopback port, without persistence,
// until the test ends. A missing program fails the test with how to
// install it.
func StartStore(t testing.TB, server StoreServer) *Redis {
	t.Helper()
	r := newStore(t, server, server.Scheme)
	r.Start(t)
	return r
}

// StartRedis runs redis-server as StartStore does.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	return StartStore(t, RedisServer)
}

// StartStoreTLS runs server as StartStore does, but speaking TLS only (URL
// rediss:// or valkeys://), with a certificate from ca for the name
// serverName alone (so a client must be told that name), and requiring
// client certificates from ca when authClients is set.
func StartStoreTLS(t testing.TB, server StoreServer, ca *TestCA, serverName string, authClients bool) *Redis {
	t.Helper()
	r := newStore(t, server, server.Scheme+"s")
	cert, key := ca.Issue(t, server.Program, serverName)
	auth := map[bool]string{true: "yes", false: "no"}[authClients]
	r.tls = []string{"--port", "0", "--tls-port", fmt.Sprint(r.port), "--tls-cert-file", cert, "--tls-key-file", key,
		"--tls-ca-cert-file", ca.Path, "--tls-auth-clients", auth}
	r.dial = ca.ClientConfig(t, serverName)
	r.Start(t)
	return r
}

// newStore is server's Redis on a free port, not started, with its URL.
func newStore(t testing.TB, server StoreServer, scheme string) *Redis {
	r := &Redis{Program: server.Program, dir: ShortDir(t), port: FreePort(t)}
	r.Addr = fmt.Sprintf("127.0.0.1:%d", r.port)
	r.URL = scheme + "://" + r.Addr + "/0"
	return r
}

// Start starts the server (again), and returns once it answers PING.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	args := append([]string{"--bind", "127.0.0.1", "--port", fmt.Sprint(r.port),
		"--dir", r.dir, "--save", "", "--appendonly", "no", "--protected-mode", "yes"}, r.tls...)
	cmd := exec.Command(Tool(t, r.Program), args...)
	r.proc = Start(t, r.Program, cmd)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if r.Do("PING") == "PONG" {
			return
		}
		if r.proc.Exited() {
			if r.tls != nil {
				t.Fatalf("%s refused its TLS options (a build without TLS? Debian's redis-server 7 and valkey-server 8 have it): %v\n%s",
					r.Program, args, lastLines(r.proc.Output(), 30))
			}
			t.Fatalf("%s exited at start:\n%s", r.Program, lastLines(r.proc.Output(), 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer PING on %s within 10 s:\n%s", r.Program, r.Addr, lastLines(r.proc.Output(), 30))
}

// Kill ends the server at once (SIGKILL), as a crash would.
func (r *Redis) Kill() {
	r.proc.Cmd.Process.Kill()
	r.proc.Wait(5 * time.Second)
}

// Do sends one inline command and returns the first line of the answer
// without its type byte ("" when the server does not answer).
func (r *Redis) Do(cmd string) string {
	var c net.Conn
	var err error
	if r.dial != nil {
		c, err = tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", r.Addr, r.dial)
	} else {
		c, err = net.DialTimeout("tcp", r.Addr, time.Second)
	}
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "%s\r\n", cmd)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || len(line) < 3 {
		return ""
	}
	return strings.TrimRight(line[1:], "\r\n")
}

// Monitor records every command the server runs (MONITOR) until the test
// ends.
type Monitor struct {
	mu    sync.Mutex
	lines []string
}

// Monitor starts recording.
func (r *Redis) Monitor(t testing.TB) *Monitor {
	t.Helper()
	c, err := net.Dial("tcp", r.Addr)
	if err != nil {
		t.Fatalf("MONITOR: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprint(c, "MONITOR\r\n")
	br := bufio.NewReader(c)
	if ok, _ := br.ReadString('\n'); !strings.HasPrefix(ok, "+OK") {
		t.Fatalf("MONITOR answered %q", ok)
	}
	m := &Monitor{}
	go func() {
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			m.mu.Lock()
			m.lines = append(m.lines, strings.TrimSpace(line))
			m.mu.Unlock()
		}
	}()
	return m
}

// Mark is the number of commands seen so far.
func (m *Monitor) Mark() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.lines)
}

// Since returns the commands seen after mark, without those whose line
// contains any of skip.
func (m *Monitor) Since(mark int, skip ...string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
next:
	for _, l := range m.lines[mark:] {
		for _, s := range skip {
			if strings.Contains(l, s) {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}
