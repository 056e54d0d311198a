package daemon

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/regtoken/regtoken/pkg/shared"
)

// addStore exports what the shared store did: round trips, those without
// an answer, their latency, the password logins that went on without it
// (fail_open) or were refused (fail_closed), and whether it answers.
func (m *metrics) addStore(s *shared.Store, counter func(string, string, func() uint64, prometheus.Labels)) {
	latency := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "regtoken_store_latency_seconds",
		Help:    "Round trips to the shared store (only uncached password logins and the twice-a-second revocation poll make them).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
	})
	m.registry.MustRegister(latency)
	s.SetObserver(func(d time.Duration, _ error) { latency.Observe(d.Seconds()) })
	counter("regtoken_store_commands_total", "Round trips to the shared store.", s.Stats.Commands.Load, nil)
	counter("regtoken_store_errors_total", "Round trips to the shared store that got no answer.", s.Stats.Errors.Load, nil)
	policy := "Password logins that needed the shared store while it did not answer, by what they got: the replica's own throttle (fail_open) or 503 (fail_closed)."
	counter("regtoken_store_unavailable_logins_total", policy, s.Stats.Fallbacks.Load, prometheus.Labels{"result": "local_throttle"})
	counter("regtoken_store_unavailable_logins_total", policy, s.Stats.Refused.Load, prometheus.Labels{"result": "refused"})
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "regtoken_store_up", Help: "1 while the shared store answers (polled twice a second), 0 while it does not.",
	}, func() float64 {
		if h := s.Health(); h.Known && !h.Up {
			return 0
		}
		return 1
	}))
}

// storeHealth is the "store" object of /healthz. While the store does not
// answer, anonymous, cached and refresh-token requests are served as
// always and password logins follow the policy: degraded, not down.
func storeHealth(s *shared.Store) map[string]any {
	h := s.Health()
	out := reachability(h.Known, h.Up, h.Error, h.Since)
	out["policy"] = s.Policy()
	return out
}
