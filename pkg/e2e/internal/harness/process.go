//go:build e2e

package harness

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a program started for a test, stopped at cleanup.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	out  output
	done chan struct{}
}

// output is where a process's stdout and stderr go: kept whole by default
// (syncBuffer), or only its tail for a process that prints without end
// (auditTail).
type output interface {
	io.Writer
	String() string
}

// syncBuffer collects a process's whole output for failure messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Start runs cmd, logging its output if the test fails, and stops it with
// SIGTERM (then SIGKILL) at cleanup.
func Start(t testing.TB, name string, cmd *exec.Cmd) *Process {
	t.Helper()
	return start(t, name, cmd, &syncBuffer{})
}

func start(t testing.TB, name string, cmd *exec.Cmd, out output) *Process {
	t.Helper()
	p := &Process{Name: name, Cmd: cmd, out: out, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop(5 * time.Second)
		if t.Failed() {
			t.Logf("--- output of %s:\n%s", name, lastLines(p.Output(), 60))
		}
	})
	return p
}

// Output is everything the process printed so far.
func (p *Process) Output() string { return p.out.String() }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits up to grace before killing.
func (p *Process) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Cmd.Process.Kill()
		<-p.done
	}
}

// Wait waits for the process to end by itself.
func (p *Process) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s still running after %s", p.Name, timeout)
	}
}

// WaitDial waits until network/address accepts connections, failing the test
// with the process's output if it exits or the time runs out first.
func (p *Process) WaitDial(t testing.TB, network, address string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout(network, address, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		if p.Exited() {
			t.Fatalf("%s exited before listening on %s:\n%s", p.Name, address, lastLines(p.Output(), 40))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not listen on %s within %s:\n%s", p.Name, address, timeout, lastLines(p.Output(), 40))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
