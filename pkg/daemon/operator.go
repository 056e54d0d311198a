package daemon

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/regtoken/regtoken/pkg/endpoint"
	"github.com/regtoken/regtoken/pkg/gateway"
	"github.com/regtoken/regtoken/pkg/ldapauth"
)

// metrics holds the collectors regtoken exports on the operator listener.
type metrics struct {
	registry *prometheus.Registry
	latency  *prometheus.HistogramVec
}

// newMetrics registers regtoken's metrics. Counters that the endpoint and the
// verifier already keep are read at scrape time rather than updated twice.
func newMetrics(h *endpoint.Handler, r *reloader, dirs *directories) *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &metrics{
		registry: reg,
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "regtoken_request_duration_seconds",
			Help:    "Time to answer a token request, by status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"status"}),
	}
	reg.MustRegister(m.latency)
	counter := func(name, help string, f func() uint64, labels prometheus.Labels) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(f()) }))
	}
	outcome := func(o string) prometheus.Labels { return prometheus.Labels{"outcome": o} }
	counter("regtoken_requests_total", "Token requests by outcome.", h.Stats.Issued.Load, outcome("issued"))
	counter("regtoken_requests_total", "Token requests by outcome.", h.Stats.Unauthorized.Load, outcome("unauthorized"))
	counter("regtoken_requests_total", "Token requests by outcome.", h.Stats.BadRequest.Load, outcome("bad_request"))
	counter("regtoken_requests_total", "Token requests by outcome.", h.Stats.Throttled.Load, outcome("throttled"))
	counter("regtoken_requests_total", "Token requests by outcome.", h.Stats.Failed.Load, outcome("failed"))
	v := h.Verifier()
	counter("regtoken_bcrypt_checks_total", "bcrypt comparisons run (cache misses and unknown users).", v.Stats.BcryptChecks.Load, nil)
	counter("regtoken_credential_cache_hits_total", "Passwords verified from the cache without bcrypt.", v.Stats.CacheHits.Load, nil)
	counter("regtoken_wrong_password_repeats_total", "Wrong passwords refused again from memory, without bcrypt and not counted as new failures.", v.Stats.Repeats.Load, nil)
	counter("regtoken_bcrypt_rejected_total", "Password checks refused because too many were waiting.", v.Stats.Rejected.Load, nil)
	if l := h.Throttle(); l != nil {
		counter("regtoken_throttle_blocked_total", "Password attempts refused with 429 after repeated failures.", l.Stats.Blocked.Load, nil)
		counter("regtoken_throttle_busy_total", "Password attempts refused with 429 because other checks of the same user and address, or of the address, were in flight.",
			l.Stats.Busy.Load, nil)
		counter("regtoken_throttle_failures_total", "Failed logins counted by the throttle.", l.Stats.Failures.Load, nil)
		counter("regtoken_throttle_evicted_total", "Throttle entries dropped because a table was full (address rotation?).", l.Stats.Evicted.Load, nil)
		tarpit := "Refused attempts by whether the tarpit held them back (held) or every slot was taken (full)."
		counter("regtoken_throttle_tarpit_total", tarpit, l.Stats.TarpitHeld.Load, prometheus.Labels{"result": "held"})
		counter("regtoken_throttle_tarpit_total", tarpit, l.Stats.TarpitFull.Load, prometheus.Labels{"result": "full"})
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "regtoken_throttle_entries", Help: "(user, address) pairs and addresses the throttle tracks.",
		}, func() float64 { return float64(l.Stats.Entries()) }))
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "regtoken_throttle_pending_checks", Help: "Password checks admitted by the throttle and not yet done (running or waiting for bcrypt).",
		}, func() float64 { return float64(l.Stats.Pending()) }))
	}
	reg.MustRegister(&machineCollector{h: h})
	if dirs.current.Load() != nil {
		m.addDirectory(dirs, counter)
	}
	if s := h.Shared(); s != nil {
		m.addStore(s, counter)
	}
	counter("regtoken_reloads_total", "Reloads by result.", r.successes.Load, prometheus.Labels{"result": "success"})
	counter("regtoken_reloads_total", "Reloads by result.", r.failures.Load, prometheus.Labels{"result": "failure"})
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "regtoken_config_age_seconds", Help: "Seconds since the configuration in use was loaded.",
	}, func() float64 { return time.Since(r.Status().LoadedAt).Seconds() }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "regtoken_config_reload_error", Help: "1 while the latest reload failed (the last good configuration is in use).",
	}, func() float64 {
		if r.Status().Error != "" {
			return 1
		}
		return 0
	}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "regtoken_certificate_expiry_seconds", Help: "Seconds until the first signing certificate to expire (of every service's key) expires (negative: expired; 0: no certificate).",
	}, func() float64 {
		cert := firstToExpire(h.State())
		if cert == nil {
			return 0
		}
		return time.Until(cert.NotAfter).Seconds()
	}))
	return m
}

// addDirectory exports what the LDAP directory did: logins it checked, by
// result (unavailable ones were answered 503), failed connections, and
// whether it answers.
func (m *metrics) addDirectory(dirs *directories, counter func(string, string, func() uint64, prometheus.Labels)) {
	st := &dirs.stats
	logins := "Passwords the LDAP directory checked (memory misses), by result; unavailable: answered 503."
	counter("regtoken_ldap_logins_total", logins, st.Logins.Load, prometheus.Labels{"result": "success"})
	counter("regtoken_ldap_logins_total", logins, st.Refused.Load, prometheus.Labels{"result": "refused"})
	counter("regtoken_ldap_logins_total", logins, st.Unavailable.Load, prometheus.Labels{"result": "unavailable"})
	counter("regtoken_ldap_dial_failures_total", "Connections to an LDAP server that failed (each server tried counts).", st.DialFailures.Load, nil)
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "regtoken_ldap_up", Help: "1 while the LDAP directory answers (probed every 30 s and at each login), 0 while it does not.",
	}, func() float64 {
		if d := dirs.current.Load(); d != nil {
			if h := d.Health(); h.Known && !h.Reachable {
				return 0
			}
		}
		return 1
	}))
}

// addTransports exports the requests the transports refused, by reason.
func (m *metrics) addTransports(st *gateway.Stats) {
	for reason, c := range map[string]*atomic.Uint64{
		"malformed": &st.Malformed, "body_too_large": &st.BodyTooLarge, "timed_out": &st.TimedOut,
		"handler_panic": &st.Panics, "connection_limit_wait": &st.ConnsWaited,
		"connection_evicted_idle": &st.EvictedIdle, "connection_evicted_slow": &st.EvictedSlow,
	} {
		m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "regtoken_transport_rejected_total", Help: "Requests the transports refused or delayed before the token endpoint, and connections a full listener closed, by reason.",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 { return float64(c.Load()) }))
	}
}

// Observe records one request's latency; it is the endpoint's Observe hook.
func (m *metrics) Observe(status int, d time.Duration) {
	m.latency.WithLabelValues(statusLabel(status)).Observe(d.Seconds())
}

func statusLabel(status int) string {
	switch status {
	case 200:
		return "200"
	case 400:
		return "400"
	case 401:
		return "401"
	case 404:
		return "404"
	case 429:
		return "429"
	case 503:
		return "503"
	}
	return "other"
}

// operatorHandler serves /metrics, /healthz and the published keys
// (addKeyHandlers). /healthz answers 200 while the
// service serves tokens, with "status":"degraded" and the error while the
// latest reload failed: restarting then would not help, since the broken file
// would stop the new process from starting at all.
func operatorHandler(m *metrics, r *reloader, h *endpoint.Handler, dirs *directories) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	addKeyHandlers(mux, h)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		st := r.Status()
		body := map[string]any{
			"status":             "ok",
			"config_loaded_at":   st.LoadedAt.UTC().Format(time.RFC3339),
			"config_age_seconds": int(time.Since(st.LoadedAt).Seconds()),
		}
		if st.Error != "" {
			body["status"] = "degraded"
			body["reload_error"] = st.Error
			body["reload_error_at"] = st.ErrorTime.UTC().Format(time.RFC3339)
		}
		if cert := firstToExpire(h.State()); cert != nil {
			left := time.Until(cert.NotAfter)
			body["certificate_expires_in_days"] = int(left.Hours() / 24)
			if left < CertificateWarnBefore {
				body["status"] = "degraded"
				body["certificate_warning"] = "the signing certificate expires within 30 days"
			}
		}
		healthOfMachines(h.State(), body, time.Now())
		if d := dirs.current.Load(); d != nil {
			ldap := directoryHealth(d.Health())
			body["ldap"] = ldap
			if ldap["status"] == "unreachable" {
				body["status"] = "degraded"
			}
		}
		if s := h.Shared(); s != nil {
			store := storeHealth(s)
			body["store"] = store
			if store["status"] == "unreachable" {
				body["status"] = "degraded"
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(body)
	})
	return mux
}

// directoryHealth is the "ldap" object of /healthz. While the directory is
// unreachable, logins it vouched for within ldap.cache_lifetime still work
// and others get 503: the service is degraded, not down.
func directoryHealth(h ldapauth.Health) map[string]any {
	out := reachability(h.Known, h.Reachable, h.Error, h.Since)
	if h.Known {
		out["checked_at"] = h.Checked.UTC().Format(time.RFC3339)
	}
	return out
}

// reachability is the common part of a dependency's /healthz object:
// "status" unknown (nothing asked yet), up or unreachable (with "error"),
// and "since" when that last changed.
func reachability(known, reachable bool, err string, since time.Time) map[string]any {
	out := map[string]any{"status": "unknown"}
	if !known {
		return out
	}
	out["status"] = "up"
	if !reachable {
		out["status"] = "unreachable"
		out["error"] = err
	}
	out["since"] = since.UTC().Format(time.RFC3339)
	return out
}
