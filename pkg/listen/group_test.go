package listen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/limits"
)

var allProtocols = []string{SCGI, UWSGI, FastCGI, HTTP}

// startAll opens one unix socket per protocol in dir and starts a Group
// serving h on all of them.
func startAll(t *testing.T, dir string, h http.Handler, lim limits.Transport) (*Group, map[string]string) {
	t.Helper()
	paths := make(map[string]string)
	var specs []Spec
	for _, p := range allProtocols {
		paths[p] = filepath.Join(dir, p+".sock")
		specs = append(specs, Spec{Protocol: p, Address: "unix:" + paths[p], TrustProxyHeaders: p == HTTP})
	}
	ls, err := Open(specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Start(ls, h, slog.New(slog.DiscardHandler), lim)
	if err != nil {
		Close(ls)
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g, paths
}

func TestEveryProtocolReachesHandler(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Method, r.URL.Query().Get("q"))
	})
	g, paths := startAll(t, t.TempDir(), h, limits.Transport{})
	for _, p := range allProtocols {
		status, body, err := rawGet(p, "unix", paths[p], "/v2/token?q="+p)
		if err != nil || status != 200 || body != "GET "+p {
			t.Errorf("%s: %d %q %v", p, status, body, err)
		}
	}
	if err := g.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	for _, p := range allProtocols {
		if _, err := os.Lstat(paths[p]); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: socket file left after Shutdown: %v", p, err)
		}
	}
	if err := g.Wait(); err != nil {
		t.Errorf("Wait after Shutdown: %v", err)
	}
}

func TestDrainOnShutdown(t *testing.T) {
	const perProtocol = 5 // 20 requests in all
	entered := make(chan struct{}, 4*perProtocol)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		time.Sleep(500 * time.Millisecond)
		io.WriteString(w, "drained")
	})
	g, paths := startAll(t, t.TempDir(), h, limits.Transport{})
	var wg sync.WaitGroup
	results := make(chan string, 4*perProtocol)
	for _, p := range allProtocols {
		for range perProtocol {
			wg.Go(func() {
				status, body, err := rawGet(p, "unix", paths[p], "/v2/token")
				results <- fmt.Sprintf("%s %d %s %v", p, status, body, err)
			})
		}
	}
	for range 4 * perProtocol {
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("requests did not reach the handler")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	wg.Wait()
	close(results)
	for r := range results {
		var p string
		fmt.Sscan(r, &p)
		if want := p + " 200 drained <nil>"; r != want {
			t.Errorf("got %q, want %q", r, want)
		}
	}
	for _, p := range allProtocols {
		if _, _, err := rawGet(p, "unix", paths[p], "/"); err == nil {
			t.Errorf("%s: request succeeded after Shutdown", p)
		}
	}
}

func TestServerFailureIsReported(t *testing.T) {
	g, _ := startAll(t, t.TempDir(), http.NotFoundHandler(), limits.Transport{})
	// Closing a listener behind the group's back makes its server stop.
	g.servers[0].Close()
	select {
	case err := <-g.Errors():
		if err == nil {
			t.Error("nil error delivered")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no error for a server that stopped on its own")
	}
}
