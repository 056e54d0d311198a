package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/endpoint"
	"github.com/regtoken/regtoken/pkg/oidc"
	"github.com/regtoken/regtoken/pkg/robot"
)

// LoadRobots reads the robots file (nil for none configured). A robot may
// not share its name with a user of the rule files: a login under that
// name would be ambiguous. With users nil, names are not checked.
func LoadRobots(path string, users *acl.Rules) (*robot.Set, error) {
	if path == "" {
		return nil, nil
	}
	robots, err := robot.Load(path)
	if err != nil || users == nil {
		return robots, err
	}
	for _, r := range robots.Robots() {
		if _, clash := users.User(r.Name); clash {
			return nil, fmt.Errorf("%s: robot %q has the name of a user of the rule files; rename one of them", path, r.Name)
		}
	}
	return robots, nil
}

// loadIssuers reads the issuers' key and CA files, checks them, and makes
// their Verifier (nil without issuers), reusing the keys keys already
// holds. Without keys (check) it only checks the files: it fetches nothing
// and returns no Verifier.
func loadIssuers(cfg *config.Config, keys *oidc.Keys) (*oidc.Verifier, error) {
	if len(cfg.OIDC) == 0 {
		return nil, nil
	}
	issuers, err := ReadIssuerFiles(cfg.OIDC)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, i := range issuers {
		if _, err := i.CheckFiles(); err != nil {
			errs = append(errs, fmt.Errorf("issuer %s: %w", i.Name, err))
		}
	}
	if len(errs) > 0 || keys == nil {
		return nil, errors.Join(errs...)
	}
	return keys.Verifier(issuers, cfg.File, nil)
}

// ReadIssuerFiles returns issuers with the JWKS and CA files they name read.
func ReadIssuerFiles(issuers []oidc.Issuer) ([]oidc.Issuer, error) {
	out := make([]oidc.Issuer, len(issuers))
	for n, i := range issuers {
		var err error
		if i.JWKSFile != "" {
			if i.JWKS, err = os.ReadFile(i.JWKSFile); err != nil {
				return nil, fmt.Errorf("issuer %s: %w", i.Name, err)
			}
		}
		if i.CAFile != "" {
			if i.CA, err = os.ReadFile(i.CAFile); err != nil {
				return nil, fmt.Errorf("issuer %s: %w", i.Name, err)
			}
		}
		out[n] = i
	}
	return out, nil
}

// robotUseInterval is how often the robots' last logins are written out.
const robotUseInterval = time.Minute

// robotUseWriter writes the robots' last logins to the configured
// last-used file once a minute when there is news, and once more when
// regtoken stops (Save, called after the drain).
type robotUseWriter struct {
	r   *reloader
	h   *endpoint.Handler
	log *slog.Logger

	mu      sync.Mutex
	written map[string]time.Time
	failed  string // the latest error, logged once rather than every minute
}

// Run saves every robotUseInterval until ctx ends.
func (w *robotUseWriter) Run(ctx context.Context) {
	t := time.NewTicker(robotUseInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.Save()
		}
	}
}

// Save writes the last logins if a file is configured and they changed.
func (w *robotUseWriter) Save() {
	w.mu.Lock()
	defer w.mu.Unlock()
	path := w.r.Config().Robots.LastUsed
	logins := w.h.RobotLogins()
	if path == "" || maps.Equal(logins, w.written) {
		return
	}
	if err := robot.SaveLastUsed(path, logins); err != nil {
		if err.Error() != w.failed {
			w.log.Warn("cannot record the robots' last logins", "file", path, "err", err)
		}
		w.failed = err.Error()
		return
	}
	w.written, w.failed = logins, ""
}

// machineCollector exports what the robots and the OIDC issuers of the
// State in use look like, read at scrape time.
type machineCollector struct{ h *endpoint.Handler }

var (
	robotExpiresDesc = prometheus.NewDesc("regtoken_robot_expires_in_seconds",
		"Seconds until a robot expires (negative: expired); robots without an expiry are not listed.", []string{"robot"}, nil)
	robotsExpiringDesc = prometheus.NewDesc("regtoken_robots_expiring",
		"Robots expired or expiring within 14 days: alert when above 0.", nil, nil)
	robotLoginDesc = prometheus.NewDesc("regtoken_robot_last_login_timestamp_seconds",
		"When a robot last logged in (since this process started).", []string{"robot"}, nil)
	keyFetchDesc = prometheus.NewDesc("regtoken_oidc_key_fetches_total",
		"Fetches of an OIDC issuer's keys, by result.", []string{"issuer", "result"}, nil)
	keyAgeDesc = prometheus.NewDesc("regtoken_oidc_keys_last_success_timestamp_seconds",
		"When an OIDC issuer's keys were last fetched (0: never; the issuer's tokens are refused).", []string{"issuer"}, nil)
)

func (c *machineCollector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c *machineCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.h.State()
	now := time.Now()
	if st.Robots != nil {
		expiring := 0
		for _, r := range st.Robots.Robots() {
			if r.Expires.IsZero() {
				continue
			}
			left := r.Expires.Sub(now)
			if left < robot.WarnBefore {
				expiring++
			}
			ch <- prometheus.MustNewConstMetric(robotExpiresDesc, prometheus.GaugeValue, left.Seconds(), r.Name)
		}
		ch <- prometheus.MustNewConstMetric(robotsExpiringDesc, prometheus.GaugeValue, float64(expiring))
		for name, at := range c.h.RobotLogins() {
			ch <- prometheus.MustNewConstMetric(robotLoginDesc, prometheus.GaugeValue, float64(at.Unix()), name)
		}
	}
	if st.Issuers != nil {
		for _, name := range st.Issuers.Names() {
			s := st.Issuers.KeyStats(name)
			fails := s.Failures.Load()
			ch <- prometheus.MustNewConstMetric(keyFetchDesc, prometheus.CounterValue, float64(s.Fetches.Load()-fails), name, "success")
			ch <- prometheus.MustNewConstMetric(keyFetchDesc, prometheus.CounterValue, float64(fails), name, "failure")
			ch <- prometheus.MustNewConstMetric(keyAgeDesc, prometheus.GaugeValue, float64(s.LastSuccess.Load()), name)
		}
	}
}

// healthOfMachines adds to /healthz the OIDC issuers whose keys could not be
// fetched yet (their tokens are refused: degraded) and how many robots
// expired or expire within 14 days (a warning; the service itself is fine).
func healthOfMachines(st *endpoint.State, body map[string]any, now time.Time) {
	if st.Issuers != nil {
		var noKeys []string
		for _, name := range st.Issuers.Names() {
			if st.Issuers.KeyStats(name).LastSuccess.Load() == 0 {
				noKeys = append(noKeys, name)
			}
		}
		if len(noKeys) > 0 {
			body["status"] = "degraded"
			body["oidc_issuers_without_keys"] = noKeys
		}
	}
	if st.Robots != nil {
		expiring := 0
		for _, r := range st.Robots.Robots() {
			if !r.Expires.IsZero() && r.Expires.Sub(now) < robot.WarnBefore {
				expiring++
			}
		}
		if expiring > 0 {
			body["robots_expiring"] = expiring
		}
	}
}
