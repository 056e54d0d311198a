//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// honestRequests sends n anonymous token requests through nginx and returns
// how many did not get a 200.
func honestRequests(t *testing.T, s *harness.Stack, n int) int {
	t.Helper()
	var failed atomic.Int32
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(fmt.Sprintf("%s?service=Authentication&scope=repository:some-image:pull&i=%d", s.Realm, i))
			if err != nil {
				failed.Add(1)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(failed.Load())
}

// Hundreds of connections that trickle bytes straight into regtoken's socket
// neither stop honest requests through nginx nor outlive their deadline.
func TestSlowClientsAreCutAndDoNotStarveOthers(t *testing.T) {
	t.Parallel()
	s := harness.StartStack(t, harness.StackOptions{ExtraConfig: "[limits]\nrequest_timeout = \"3s\"\n"})
	const slow = 300
	conns := make([]net.Conn, 0, slow)
	for range slow {
		c, err := net.Dial("unix", s.Socket)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		c.Write([]byte("70:CONTENT_LENGTH\x000\x00")) // a netstring that never ends
		conns = append(conns, c)
	}
	start := time.Now()
	if failed := honestRequests(t, s, 200); failed > 0 {
		t.Fatalf("%d of 200 honest requests failed while %d slow connections were open", failed, slow)
	}
	t.Logf("200 honest requests served in %s beside %d slow connections", time.Since(start), slow)

	// Every slow connection is closed by regtoken at its deadline (3 s), give or take.
	var cut atomic.Int32
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(8 * time.Second))
			for {
				if _, err := c.Write([]byte("X")); err != nil {
					cut.Add(1)
					return
				}
				buf := make([]byte, 512)
				c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
				if _, err := c.Read(buf); err == io.EOF {
					cut.Add(1)
					return
				}
				if time.Since(start) > 8*time.Second {
					return
				}
			}
		}()
	}
	wg.Wait()
	if cut.Load() != slow {
		t.Errorf("%d of %d trickling connections were cut within 8 s (deadline 3 s)", cut.Load(), slow)
	}
}

// Garbage on the SCGI socket gets an error and a closed connection; the
// service keeps answering everyone else.
func TestHostileStreamsKeepServing(t *testing.T) {
	t.Parallel()
	s := harness.StartStack(t, harness.StackOptions{})
	streams := []string{
		"garbage\r\n\r\n",
		"99999999:CONTENT_LENGTH\x000\x00",
		"0:,",
		"12:CONTENT_LENGTH,",
		"24:CONTENT_LENGTH\x00abc\x00SCGI\x001\x00,",
		"30:CONTENT_LENGTH\x0099999999\x00SCGI\x001\x00,body",
		"GET /v2/token HTTP/1.1\r\nHost: x\r\n\r\n",
		string(make([]byte, 70000)),
	}
	for _, raw := range streams {
		c, err := net.Dial("unix", s.Socket)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(raw))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		reply, _ := io.ReadAll(c)
		c.Close()
		if len(reply) > 0 && !(len(reply) > 12 && string(reply[:8]) == "Status: ") {
			t.Errorf("stream %q: reply is not an SCGI error reply: %q", clip(raw), clip(string(reply)))
		}
		if s.Regtoken.Exited() {
			t.Fatalf("regtoken exited after stream %q", clip(raw))
		}
	}
	if failed := honestRequests(t, s, 20); failed > 0 {
		t.Fatalf("%d honest requests failed after hostile streams", failed)
	}
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// A guesser that got throttled gets its 429s only after the tarpit's hold
// (1 s by default), so a guessing tool that waits for answers slows down,
// while requests of others are answered meanwhile as usual.
func TestTarpitHoldsThrottledGuesses(t *testing.T) {
	t.Parallel()
	d := startDirect(t, usersJSON(`{"some-image": ["pull"]}`))
	for i := range 5 { // the default pair threshold, each a new guess
		if _, err := d.grant(t, "foo", fmt.Sprint("guess-", i), "repository:some-image:pull"); err == nil || !strings.Contains(err.Error(), "status 401") {
			t.Fatalf("guess %d: %v, want 401", i, err)
		}
	}
	held := make(chan error, 1)
	start := time.Now()
	go func() { _, err := d.grant(t, "foo", "guess", "repository:some-image:pull"); held <- err }()
	time.Sleep(200 * time.Millisecond)
	if _, err := d.grant(t, "", "", "repository:some-image:pull"); err != nil {
		t.Fatalf("an anonymous request while a guess is held: %v", err)
	}
	if err := <-held; err == nil || !strings.Contains(err.Error(), "status 429") || !strings.Contains(err.Error(), "TOOMANYREQUESTS") {
		t.Fatalf("the sixth guess: %v, want 429 TOOMANYREQUESTS", err)
	}
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Errorf("the throttled guess was answered after %s; the tarpit holds it for 1 s", took)
	}
	if m := d.get(t, "/metrics"); !strings.Contains(m, `regtoken_throttle_tarpit_total{result="held"} 1`) {
		t.Errorf("/metrics does not count the held guess:\n%s", grepLines(m, "tarpit"))
	}
}

// grepLines returns the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
