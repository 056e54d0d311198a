package daemon

import (
	"log/slog"

	"github.com/regtoken/regtoken/pkg/config"
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
	secret, err := readSecretFile("store.secret_file", o.SecretFile)
	if err != nil {
		return nil, err
	}
	var password string
	if o.PasswordFile != "" {
		if password, err = readSecretFile("store.password_file", o.PasswordFile); err != nil {
			return nil, err
		}
	}
	return shared.New(*o, shared.Secrets{Key: []byte(secret), Password: password}, log)
}
