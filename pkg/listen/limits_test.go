package listen

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/limits"
)

// The four transports take their limits from one table and enforce them with
// one piece of code: started with no limits at all, each accepts a body of
// exactly the default size and answers one byte more with 413, counted in
// the group's Stats. A transport with a default of its own would fail here.
func TestEveryTransportEnforcesTheDefaultBodyLimit(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n, err)
	})
	g, paths := startAll(t, t.TempDir(), h, limits.Transport{})
	fits := strings.Repeat("x", limits.DefaultMaxBodyBytes)
	for _, p := range allProtocols {
		status, body, err := rawRequest(p, "unix", paths[p], "POST", "/v2/token", fits)
		if want := fmt.Sprint(len(fits), nil); err != nil || status != 200 || body != want {
			t.Errorf("%s: body of exactly the default limit: %d %q %v, want 200 %q", p, status, body, err, want)
		}
		status, _, err = rawRequest(p, "unix", paths[p], "POST", "/v2/token", fits+"x")
		if err != nil || status != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: body one byte over the default limit: %d %v, want 413", p, status, err)
		}
	}
	if n := g.Stats.BodyTooLarge.Load(); n != uint64(len(allProtocols)) {
		t.Errorf("Stats.BodyTooLarge = %d, want one per transport (%d)", n, len(allProtocols))
	}
}

// MaxConnections holds a second connection back on every transport until
// the first one is done, and the wait is counted.
func TestEveryTransportCapsConnections(t *testing.T) {
	gate := make(chan struct{})
	var running, peak atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := running.Add(1); n > 1 {
			peak.Store(n)
		}
		defer running.Add(-1)
		<-gate
		io.WriteString(w, "ok")
	})
	g, paths := startAll(t, t.TempDir(), h, limits.Transport{MaxConnections: 1})
	for _, p := range allProtocols {
		results := make(chan error, 2)
		for range 2 {
			go func() {
				status, body, err := rawGet(p, "unix", paths[p], "/")
				if err == nil && (status != 200 || body != "ok") {
					err = fmt.Errorf("%d %q", status, body)
				}
				results <- err
			}()
		}
		time.Sleep(200 * time.Millisecond) // room for a second handler to start, if the cap failed
		go func() { gate <- struct{}{}; gate <- struct{}{} }()
		for range 2 {
			if err := <-results; err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
		if n := peak.Swap(0); n != 0 {
			t.Errorf("%s: %d requests ran at once with MaxConnections 1", p, n)
		}
	}
	if g.Stats.ConnsWaited.Load() == 0 {
		t.Error("no wait for a connection slot was counted")
	}
}

// A listener full of connections that never finish a request head still
// serves a new request on every transport: the slow ones are cut once they
// have had HeadTimeout, and counted.
func TestEveryTransportMakesRoomWhenFull(t *testing.T) {
	const head = 100 * time.Millisecond
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	g, paths := startAll(t, t.TempDir(), h, limits.Transport{MaxConnections: 3, HeadTimeout: head})
	partial := map[string][]byte{
		SCGI:    scgiRequest("GET", "/", "")[:10],
		UWSGI:   uwsgiRequest("GET", "/", "")[:10],
		FastCGI: fcgiRequest("GET", "/", "")[:20],
		HTTP:    []byte("GET / HTTP/1.1\r\n"),
	}
	for _, p := range allProtocols {
		for range 3 {
			c, err := net.Dial("unix", paths[p])
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write(partial[p])
		}
		began := time.Now()
		status, body, err := rawGet(p, "unix", paths[p], "/")
		if took := time.Since(began); err != nil || status != 200 || body != "ok" || took > time.Second {
			t.Errorf("%s: request at a listener full of slow heads: %d %q %v after %v", p, status, body, err, took)
		}
	}
	if n := g.Stats.EvictedSlow.Load(); n < uint64(len(allProtocols)) {
		t.Errorf("Stats.EvictedSlow = %d, want at least one per transport", n)
	}
}
