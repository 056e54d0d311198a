//go:build e2e

package harness

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/regtoken/regtoken/pkg/limits"
	"github.com/regtoken/regtoken/pkg/listen"
)

// Serve serves h on specs through package listen with its default limits,
// as regtoken serves its handler, until the test ends. Tests use it for
// stand-ins behind nginx, such as the load table's trivial responders.
func Serve(t testing.TB, h http.Handler, specs ...listen.Spec) {
	t.Helper()
	ls, err := listen.Open(specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := listen.Start(ls, h, slog.New(slog.DiscardHandler), limits.Transport{})
	if err != nil {
		listen.Close(ls)
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
}
