package daemon

import (
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/endpoint"
	"github.com/regtoken/regtoken/pkg/oidc"
)

// reloader re-reads the configuration and every file it names, and swaps the
// endpoint's State only when all of them are good. A broken edit keeps the
// last good State, is logged once, and is visible in /healthz and /metrics
// until it is fixed.
type reloader struct {
	path    string
	handler *endpoint.Handler
	keys    *oidc.Keys // the issuers' keys, kept across reloads
	dirs    *directories
	log     *slog.Logger

	mu      sync.Mutex // one reload at a time
	current atomic.Pointer[config.Config]
	status  atomic.Pointer[reloadStatus]
	// stamps describe the watched files as they were just before the
	// latest reload read them, so an edit made while they were being read
	// still counts as a change for the watcher.
	stamps atomic.Pointer[stamps]

	successes atomic.Uint64
	failures  atomic.Uint64
}

// reloadStatus is the outcome of the latest reload.
type reloadStatus struct {
	LoadedAt  time.Time // when the State in use was loaded
	Error     string    // the latest reload's error; empty when it succeeded
	ErrorTime time.Time
}

// newReloader starts with cfg, whose State the handler already serves.
// before describes the files as they were before that State was read (see
// stampFiles); a later change to any of them triggers a reload.
func newReloader(path string, cfg *config.Config, before stamps, h *endpoint.Handler, keys *oidc.Keys, dirs *directories, log *slog.Logger) *reloader {
	r := &reloader{path: path, handler: h, keys: keys, dirs: dirs, log: log}
	r.current.Store(cfg)
	r.stamps.Store(&before)
	r.status.Store(&reloadStatus{LoadedAt: time.Now()})
	return r
}

// Config is the configuration in use.
func (r *reloader) Config() *config.Config { return r.current.Load() }

// Stamps describe the watched files as they were before the latest load
// read them.
func (r *reloader) Stamps() stamps { return *r.stamps.Load() }

// Status is the outcome of the latest reload.
func (r *reloader) Status() reloadStatus { return *r.status.Load() }

// Reload loads everything again. why says what triggered it, for the log.
// A reload that would remove too many users at once, the sign of a file
// caught half-written (see acl.Rules.CheckShrink), is refused unless
// force is set: the operator's SIGHUP, which says the change is meant.
func (r *reloader) Reload(why string, force bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	before := stampFiles(r.path, r.Config())
	r.stamps.Store(&before)
	cfg, err := config.Load(r.path)
	if err == nil {
		// The new configuration may name other files; none of them has
		// been read yet, so stamping them now is still "before".
		now := stampFiles(r.path, cfg)
		now[r.path] = before[r.path]
		r.stamps.Store(&now)
		if err = r.load(cfg, why, force); err == nil {
			return nil
		}
	}
	r.failures.Add(1)
	prev := r.status.Load()
	if prev.Error != err.Error() { // log a broken file once, not on every event
		r.log.Error("reload failed; still serving the last good configuration", "trigger", why, "err", err)
	}
	r.status.Store(&reloadStatus{LoadedAt: prev.LoadedAt, Error: err.Error(), ErrorTime: time.Now()})
	return err
}

// load reads what cfg names and serves it, or changes nothing. Unless
// force, it refuses users files that lost too many users at once (see guard).
func (r *reloader) load(cfg *config.Config, why string, force bool) error {
	dir, err := r.dirs.load(cfg)
	if err != nil {
		return err
	}
	st, err := loadState(cfg, r.keys, dir)
	if err == nil {
		err = r.guard(st, force, why)
	}
	if err != nil {
		r.dirs.discard(dir)
		return err
	}
	r.apply(cfg, st, why)
	r.dirs.use(dir)
	return nil
}

// guard refuses st when it removes too many users from a file at once,
// unless force; a forced one is logged.
func (r *reloader) guard(st *endpoint.State, force bool, why string) error {
	err := r.handler.State().Rules.CheckShrink(st.Rules)
	switch {
	case err == nil:
		return nil
	case force:
		r.log.Warn("loading the users files although many users are gone", "trigger", why, "shrink", err)
		return nil
	}
	return fmt.Errorf("%w; if that is meant, send SIGHUP to load it anyway", err)
}

func (r *reloader) apply(cfg *config.Config, st *endpoint.State, why string) {
	old := r.current.Load()
	if !slices.Equal(old.Listen, cfg.Listen) || old.Operator != cfg.Operator {
		r.log.Warn("listener changes take effect at the next restart", "trigger", why)
	}
	if !reflect.DeepEqual(old.Store, cfg.Store) {
		r.log.Warn("[store] changes take effect at the next restart", "trigger", why)
	}
	var found Report // as at the start: users who cannot log in, certificates and robots that expire...
	found.checkState(cfg, st, time.Now())
	found.Log(r.log.With("trigger", why))
	r.handler.Swap(st)
	if r.keys != nil {
		r.keys.Keep(st.Issuers) // stop fetching for issuers no longer configured
	}
	r.handler.Verifier().SetDummyCost(typicalCost(st.Rules))
	r.current.Store(cfg)
	r.status.Store(&reloadStatus{LoadedAt: time.Now()})
	r.successes.Add(1)
	r.log.Info("configuration reloaded", "trigger", why, "users", len(st.Rules.Users()))
	// The old rules are garbage now, and loading made as much again: with
	// 300,000 users the process would otherwise keep about 900 MB instead
	// of 400 MB until the runtime returns the memory, minutes later.
	debug.FreeOSMemory()
}

// watchedFiles are the files whose change triggers a reload.
func watchedFiles(path string, cfg *config.Config) []string {
	files := []string{path, cfg.ACL.Users, cfg.ACL.Repositories, cfg.ACL.Groups, cfg.ACL.Htpasswd, cfg.Robots.File, cfg.Refresh.Key}
	files = append(files, keyFiles(cfg.Token)...)
	for _, i := range cfg.OIDC {
		files = append(files, i.JWKSFile, i.CAFile)
	}
	if cfg.LDAP != nil {
		files = append(files, cfg.LDAP.BindPasswordFile, cfg.LDAP.CAFile)
	}
	out := files[:0]
	for _, f := range files {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}
