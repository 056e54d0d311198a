package logstream

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 2s", what)
		}
	}
}

// Writes are batched, flushed by the ticker and at Close.
func TestBuffered(t *testing.T) {
	var out syncBuffer
	s := New(&out, 20*time.Millisecond)
	s.Write([]byte("line 1\n"))
	if out.String() != "" {
		t.Fatal("written through at once; the point is to batch")
	}
	eventually(t, "flushed by the ticker", func() bool { return out.String() == "line 1\n" })
	s.Write([]byte("line 2\n"))
	s.Close()
	if out.String() != "line 1\nline 2\n" {
		t.Fatalf("Close did not flush: %q", out.String())
	}
}

// A line through Now appears at once, after every line buffered before it:
// an audit line can no longer show up after "stopped".
func TestNowKeepsOrder(t *testing.T) {
	var out syncBuffer
	s := New(&out, time.Hour)
	defer s.Close()
	s.Write([]byte("audit 1\n"))
	s.Write([]byte("audit 2\n"))
	fmt.Fprint(s.Now(), "stopped\n")
	if got := out.String(); got != "audit 1\naudit 2\nstopped\n" {
		t.Errorf("got %q", got)
	}
}

// After logrotate moves the file away, Reopen sends new lines to a new file
// at the same path; the moved file keeps every line written before.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	s, err := Open(path, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Write([]byte("before\n"))
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("still before\n"))
	if err := s.Reopen(); err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("after\n"))
	s.Flush()
	if b, _ := os.ReadFile(path + ".1"); string(b) != "before\nstill before\n" {
		t.Errorf("rotated file: %q", b)
	}
	if b, _ := os.ReadFile(path); string(b) != "after\n" {
		t.Errorf("new file: %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != FileMode {
		t.Errorf("new file mode %v, want %v", fi.Mode().Perm(), FileMode)
	}
}

// When the file cannot be opened again, lines keep going to the old one.
func TestReopenFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "logs", "audit.log")
	os.Mkdir(filepath.Dir(path), 0o755)
	s, err := Open(path, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	os.Rename(filepath.Dir(path), filepath.Join(dir, "moved"))
	if err := s.Reopen(); err == nil {
		t.Fatal("Reopen succeeded without the directory")
	}
	s.Write([]byte("kept\n"))
	s.Flush()
	if b, _ := os.ReadFile(filepath.Join(dir, "moved", "audit.log")); string(b) != "kept\n" {
		t.Errorf("old file: %q", b)
	}
	if err := New(&syncBuffer{}, time.Hour).Reopen(); err != ErrNotFile {
		t.Errorf("Reopen on a writer: %v", err)
	}
}

// Lines written concurrently, through the buffer and through Now, and a
// Reopen in the middle, arrive whole.
func TestConcurrentLinesStayWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	s, err := Open(path, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				line := fmt.Sprintf("writer %d line %d %s\n", g, i, strings.Repeat("x", 100))
				if i%10 == 0 {
					s.Now().Write([]byte(line))
				} else {
					s.Write([]byte(line))
				}
			}
		})
	}
	s.Reopen()
	wg.Wait()
	s.Close()
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 1600 {
		t.Fatalf("%d lines, want 1600", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "writer ") || !strings.HasSuffix(l, strings.Repeat("x", 100)) {
			t.Fatalf("broken line %q", l)
		}
	}
}
