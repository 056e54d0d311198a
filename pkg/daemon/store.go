package daemon

import (
	"log/slog"
	"net/url"

	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/secretfile"
	"github.com/regtoken/regtoken/pkg/shared"
)

// OpenStore returns the shared store of cfg's [store] (nil for none), its
// secret and password read from their files. It does not connect: a store
// that does not answer yet is the failure policy's business, not a reason
// to refuse to start.
func OpenStore(cfg *config.Config, log *slog.Logger) (*shared.Store, error) {
	o := cfg.Store
	if o == nil {
		return nil, nil
	}
	secret, err := secretfile.Text("store.secret_file", o.SecretFile)
	if err != nil {
		return nil, err
	}
	var password string
	if o.PasswordFile != "" {
		if password, err = secretfile.Text("store.password_file", o.PasswordFile); err != nil {
			return nil, err
		}
	}
	return shared.New(*o, shared.Secrets{Key: []byte(secret), Password: password}, log)
}

// checkStore reports a [store] whose secret files serve could not read
// (fatal), and a store that does not answer now (a warning: serve starts,
// and password logins follow the policy until it answers).
func (r *Report) checkStore(cfg *config.Config) {
	if cfg.Store == nil {
		return
	}
	s, err := OpenStore(cfg, nil)
	if err != nil {
		r.add(Fatal, "%v", err)
		return
	}
	defer s.Close()
	s.Poll()
	if h := s.Health(); !h.Up {
		where := cfg.Store.URL
		if u, err := url.Parse(where); err == nil {
			where = u.Redacted()
		}
		r.add(Warning, "store %s does not answer (%s): until it does, password logins that no replica remembers follow policy %s",
			where, h.Error, cfg.Store.Policy)
	}
}
