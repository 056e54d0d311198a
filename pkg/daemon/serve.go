package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/endpoint"
	"github.com/regtoken/regtoken/pkg/limits"
	"github.com/regtoken/regtoken/pkg/listen"
	"github.com/regtoken/regtoken/pkg/oidc"
	"github.com/regtoken/regtoken/pkg/throttle"
)

// Options are what `regtoken serve` was told on its command line.
type Options struct {
	ConfigPath string
	// Listen, when non-empty, replaces the configuration's [[listen]] tables.
	Listen []listen.Spec
	Log    *slog.Logger
	Audit  io.Writer // one line per token request; nil for none
	// AuditFormat is the audit lines' form: that of the log they go with.
	AuditFormat endpoint.AuditFormat
	// Reopen, when set, reopens the log files; SIGHUP and SIGUSR1 call it.
	Reopen func() error
}

// Run serves until SIGTERM or SIGINT, then drains in-flight requests and
// returns nil. It returns an error, having changed nothing, when the
// configuration or any file it names is bad.
func Run(ctx context.Context, cfg *config.Config, o Options) error {
	log := o.Log
	before := stampFiles(o.ConfigPath, cfg)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	// Take systemd's sockets (and clear LISTEN_*) before starting any
	// child process, so the bcrypt helper cannot inherit them.
	activated, err := listen.Activated()
	if err != nil {
		return err
	}
	specs := o.Listen
	if len(specs) == 0 {
		specs = cfg.Listen
	}
	keys := oidc.NewKeys(ctx)
	dirs := &directories{log: log}
	report := preflight(cfg, specs, ActivationOf(activated), time.Now(), keys, dirs)
	report.Log(log)
	if err := report.startError(); err != nil {
		return err
	}
	st := report.State
	dirs.use(report.Directory)
	defer dirs.use(nil)
	bcryptOpts := authn.Options{Concurrency: cfg.Limits.BcryptConcurrency}
	if w := startBcryptWorker(log); w != nil {
		defer w.Close()
		bcryptOpts.Compare = w.Compare
	}
	verifier := authn.New(bcryptOpts)
	verifier.SetDummyCost(typicalCost(st.Rules))
	store, err := OpenStore(cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	h := endpoint.New(st, endpoint.Options{Verifier: verifier, Throttle: newThrottle(cfg.Throttle),
		Shared: store, Log: log, Audit: o.Audit, AuditFormat: o.AuditFormat})
	reloads := newReloader(o.ConfigPath, cfg, before, h, keys, dirs, log)
	files := newWatcher(reloads, log)
	m := newMetrics(h, reloads, dirs)
	h.SetObserver(m.Observe)

	group, specs, err := startListeners(specs, activated, h, cfg.Limits.Transport, log)
	if err != nil {
		return err
	}
	m.addTransports(&group.Stats)
	operator, err := startOperator(cfg.Operator, operatorHandler(m, reloads, h, dirs), log)
	if err != nil {
		shutdown(group, nil, cfg.Limits.ShutdownTimeout, log)
		return err
	}

	go files.Run(ctx)
	robotUse := &robotUseWriter{r: reloads, h: h, log: log}
	go robotUse.Run(ctx)
	go sweepThrottle(ctx, h.Throttle())
	go dirs.probe(ctx)
	go store.Run(ctx)
	go watchdog(ctx)
	sd.SdNotify(false, sd.SdNotifyReady) // outside systemd: nothing to tell, no error
	log.Info("serving tokens", "listeners", describe(specs), "issuer", cfg.Token.Issuer, "services", cfg.Token.Services)

	waitForStop(ctx, reloads, o.Reopen, group, log)
	sd.SdNotify(false, sd.SdNotifyStopping)
	err = shutdown(group, operator, cfg.Limits.ShutdownTimeout, log)
	robotUse.Save()
	return err
}

// waitForStop returns on SIGTERM/SIGINT or a failed listener, reloading
// and reopening the log files on SIGHUP, only reopening them on SIGUSR1
// (logrotate's postrotate).
func waitForStop(ctx context.Context, r *reloader, reopen func() error, group *listen.Group, log *slog.Logger) {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(signals)
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-group.Errors():
			log.Error("a listener failed; shutting down", "err", err)
			return
		case sig := <-signals:
			switch sig {
			case syscall.SIGHUP:
				reopenLogs(reopen, "SIGHUP", log)
				// In the background: a large users file takes seconds to
				// load, and SIGTERM must not wait for it. SIGHUP also
				// forces a load the shrink guard refused.
				go r.Reload("SIGHUP", true)
			case syscall.SIGUSR1:
				reopenLogs(reopen, "SIGUSR1", log)
			default:
				log.Info("stopping: draining in-flight requests", "signal", sig.String())
				return
			}
		}
	}
}

func reopenLogs(reopen func() error, why string, log *slog.Logger) {
	if reopen == nil {
		return
	}
	if err := reopen(); err != nil {
		log.Error("cannot reopen the audit file; still writing to the old one", "trigger", why, "err", err)
		return
	}
	log.Info("audit file reopened", "trigger", why)
}

func shutdown(group *listen.Group, operator *http.Server, timeout time.Duration, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if operator != nil {
		operator.Shutdown(ctx)
	}
	if err := group.Shutdown(ctx); err != nil {
		log.Warn("drain did not finish in time; remaining connections closed", "timeout", timeout, "err", err)
	}
	log.Info("stopped")
	return nil
}

// watchdog pings systemd's watchdog at half its interval, as
// sd_watchdog_enabled(3) advises, while the process runs. It returns at once
// when the unit sets no WatchdogSec= (or the variables name another
// process); a ping that fails is retried at the next tick.
func watchdog(ctx context.Context) {
	interval, err := sd.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sd.SdNotify(false, sd.SdNotifyWatchdog)
		}
	}
}

// sweepThrottle lets the throttle's tables shrink promptly after an attack.
func sweepThrottle(ctx context.Context, l *throttle.Limiter) {
	if l == nil {
		return
	}
	t := time.NewTicker(l.Policy().Decay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			l.Sweep(now)
		}
	}
}

// WorkerCommand is the hidden regtoken subcommand that runs the bcrypt helper.
const WorkerCommand = "bcrypt-worker"

// startBcryptWorker starts this binary again as the bcrypt helper: a process
// in the kernel's idle scheduling class, so password checks use only the CPU
// that nginx and the request path leave over (see package authn). Without it
// (the binary cannot be found or started) checks run in-process.
func startBcryptWorker(log *slog.Logger) *authn.Worker {
	exe, err := os.Executable()
	if err == nil {
		cmd := exec.Command(exe, WorkerCommand)
		cmd.Stderr = os.Stderr
		var w *authn.Worker
		if w, err = authn.StartWorker(cmd); err == nil {
			return w
		}
	}
	log.Warn("bcrypt runs in-process: the helper process did not start", "err", err)
	return nil
}

// newThrottle returns the failed-login limiter the configuration asks for
// (nil, which allows everything, when it is turned off).
func newThrottle(t config.Throttle) *throttle.Limiter {
	if !t.Enabled {
		return nil
	}
	return throttle.New(t.Policy)
}

// startListeners opens every listener (taking sockets systemd passed us) and
// serves h on each. With no listeners configured, every socket systemd passed
// is served, its protocol taken from its FileDescriptorName.
func startListeners(specs []listen.Spec, activated map[string][]net.Listener, h http.Handler, lim limits.Transport, log *slog.Logger) (*listen.Group, []listen.Spec, error) {
	var err error
	if len(specs) == 0 && len(activated) > 0 {
		if specs, err = listen.ActivatedSpecs(activated); err != nil {
			return nil, nil, err
		}
	}
	if len(specs) == 0 {
		return nil, nil, errNoListeners
	}
	ls, err := listen.Open(specs, activated)
	if err != nil {
		return nil, nil, err
	}
	group, err := listen.Start(ls, h, log, lim)
	if err != nil {
		listen.Close(ls)
		return nil, nil, err
	}
	return group, specs, nil
}

// startOperator serves /metrics and /healthz on addr ("" = off).
func startOperator(addr string, h http.Handler, log *slog.Logger) (*http.Server, error) {
	if addr == "" {
		return nil, nil
	}
	network, address, _ := strings.Cut(addr, ":")
	l, err := net.Listen(network, address)
	if err != nil {
		return nil, fmt.Errorf("operator listener %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	log.Info("operator endpoint", "address", addr, "paths", "/metrics /healthz /bundle.pem /jwks.json")
	return srv, nil
}

func describe(specs []listen.Spec) string {
	var parts []string
	for _, s := range specs {
		parts = append(parts, s.Protocol+"="+s.Address)
	}
	return strings.Join(parts, " ")
}
