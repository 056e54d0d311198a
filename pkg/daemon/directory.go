package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/ldapauth"
	"github.com/regtoken/regtoken/pkg/secretfile"
)

// LoadDirectory reads the files the [ldap] table names (the service
// account's password, the CA certificates) and returns its Directory; nil
// when there is no [ldap] table. stats and log may be nil.
func LoadDirectory(o *ldapauth.Options, stats *ldapauth.Stats, log *slog.Logger) (*ldapauth.Directory, error) {
	if o == nil {
		return nil, nil
	}
	env, err := directoryEnv(o, stats, log)
	if err != nil {
		return nil, err
	}
	return ldapauth.New(*o, env)
}

func directoryEnv(o *ldapauth.Options, stats *ldapauth.Stats, log *slog.Logger) (ldapauth.Env, error) {
	env := ldapauth.Env{Stats: stats, Log: log}
	if o.BindPasswordFile != "" {
		pw, err := secretfile.Text("ldap.bind_password_file", o.BindPasswordFile)
		if err != nil {
			return env, err
		}
		env.BindPassword = pw
	}
	if o.CAFile != "" {
		ca, err := os.ReadFile(o.CAFile)
		if err != nil {
			return env, fmt.Errorf("ldap.ca_file: %w", err)
		}
		env.CA = ca
	}
	return env, nil
}

// directories keeps the Directory of the configuration in use. A reload
// that changes neither the [ldap] table nor the files it names keeps the
// Directory, and its open connections; one that does closes the old one
// once the new one serves. Stats outlive them all.
type directories struct {
	stats   ldapauth.Stats
	log     *slog.Logger
	current atomic.Pointer[ldapauth.Directory]
}

// load returns the Directory cfg asks for, without making it current. A
// nil ds (check's) loads one of its own, without stats or log.
func (ds *directories) load(cfg *config.Config) (*ldapauth.Directory, error) {
	switch {
	case cfg.LDAP == nil:
		return nil, nil
	case ds == nil:
		return LoadDirectory(cfg.LDAP, nil, nil)
	}
	env, err := directoryEnv(cfg.LDAP, &ds.stats, ds.log)
	if err != nil {
		return nil, err
	}
	if cur := ds.current.Load(); cur != nil && cur.Same(*cfg.LDAP, env) {
		return cur, nil
	}
	return ldapauth.New(*cfg.LDAP, env)
}

// discard closes d, which load returned but which will not serve, unless
// it is the current one.
func (ds *directories) discard(d *ldapauth.Directory) {
	if d != nil && (ds == nil || d != ds.current.Load()) {
		d.Close()
	}
}

// use makes d current (nil: none), closing the Directory it replaces. A new
// one is probed at once, so /healthz tells about it before the next tick.
func (ds *directories) use(d *ldapauth.Directory) {
	old := ds.current.Swap(d)
	if old == d {
		return
	}
	if old != nil {
		old.Close()
	}
	if d != nil {
		go d.Probe(context.Background()) // bounded by the directory's timeout
	}
}

// probeInterval is how often the directory is asked whether it answers,
// so /healthz tells while no one logs in.
const probeInterval = 30 * time.Second

// probe asks the current directory at once and then every probeInterval.
func (ds *directories) probe(ctx context.Context) {
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		if d := ds.current.Load(); d != nil {
			d.Probe(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
