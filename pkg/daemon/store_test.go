package daemon

import (
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"

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
