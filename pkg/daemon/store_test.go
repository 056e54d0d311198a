package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/regtoken/regtoken/pkg/listen"
	"github.com/regtoken/regtoken/pkg/shared"
)

// The store's /healthz object and metrics follow its health: unknown,
// up, unreachable with the error, up again (miniredis here; the e2e
// replica tests kill a real redis-server).
func TestStoreHealthAndMetrics(t *testing.T) {
	mr := miniredis.RunT(t)
	s, err := shared.New(shared.Options{URL: "redis://" + mr.Addr(), SecretFile: "unused", Policy: shared.FailClosed},
		shared.Secrets{Key: []byte("0123456789abcdef0123456789abcdef")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := &metrics{registry: prometheus.NewRegistry()}
	m.addStore(s, func(name, help string, f func() uint64, labels prometheus.Labels) {
		m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(f()) }))
	})
	if h := storeHealth(s); h["status"] != "unknown" || h["policy"] != shared.FailClosed {
		t.Errorf("before any round trip: %v", h)
	}
	s.Poll()
	if h := storeHealth(s); h["status"] != "up" || h["since"] == nil {
		t.Errorf("after a poll: %v", h)
	}
	mr.Close()
	s.Poll()
	if h := storeHealth(s); h["status"] != "unreachable" || h["error"] == "" {
		t.Errorf("store down: %v", h)
	}
	if got := sample(t, m, "regtoken_store_up"); got != 0 {
		t.Errorf("regtoken_store_up = %v while down", got)
	}
	if got := sample(t, m, "regtoken_store_errors_total"); got < 1 {
		t.Errorf("regtoken_store_errors_total = %v after a failed poll", got)
	}
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	s.Poll()
	if h := storeHealth(s); h["status"] != "up" || sample(t, m, "regtoken_store_up") != 1 {
		t.Errorf("store back: %v", h)
	}
}

// sample is the value of the first sample of a metric m registers.
func sample(t *testing.T, m *metrics, name string) float64 {
	t.Helper()
	mfs, err := m.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		if g := mf.GetMetric()[0].GetGauge(); g != nil {
			return g.GetValue()
		}
		return mf.GetMetric()[0].GetCounter().GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// check and serve read the store's secret (unreadable: fatal) and say
// when the store does not answer (a warning: serve starts anyway).
func TestPreflightStore(t *testing.T) {
	mr := miniredis.RunT(t)
	path := fixture(t, 0o600)
	dir := filepath.Dir(path)
	text, _ := os.ReadFile(path)
	os.WriteFile(path, append(text, []byte("[store]\nurl = 'redis://:hunter2@"+mr.Addr()+"/0'\nsecret_file = 'store.secret'\n")...), 0o644)
	specs := []listen.Spec{{Protocol: listen.HTTP, Address: "tcp:127.0.0.1:0"}}
	r := Preflight(load(t, path), specs, NotActivated, time.Now())
	if r.Count(Fatal) != 1 || !strings.Contains(r.Findings[len(r.Findings)-1].Message, "store.secret_file") {
		t.Fatalf("no secret file: %+v", r.Findings)
	}
	os.WriteFile(filepath.Join(dir, "store.secret"), []byte("0123456789abcdef0123456789abcdef\n"), 0o600)
	mr.RequireAuth("hunter2")
	if r := Preflight(load(t, path), specs, NotActivated, time.Now()); len(r.Findings) != 0 {
		t.Errorf("store answers: %+v", r.Findings)
	}
	mr.Close()
	r = Preflight(load(t, path), specs, NotActivated, time.Now())
	if r.Count(Warning) != 1 || r.startError() != nil {
		t.Fatalf("store down: %+v", r.Findings)
	}
	if msg := r.Findings[0].Message; !strings.Contains(msg, "does not answer") || strings.Contains(msg, "hunter2") {
		t.Errorf("warning %q", msg)
	}
}
