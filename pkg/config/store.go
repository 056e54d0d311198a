package config

import "github.com/regtoken/regtoken/pkg/shared"

// storeSection is the [store] table: a Valkey or Redis server the
// replicas share (package shared).
type storeSection struct {
	URL          string   `toml:"url"`
	SecretFile   string   `toml:"secret_file"`
	PasswordFile string   `toml:"password_file"`
	Policy       string   `toml:"policy"`
	Timeout      duration `toml:"timeout"`
	CAFile       string   `toml:"ca_file"`
	CertFile     string   `toml:"cert_file"`
	KeyFile      string   `toml:"key_file"`
	ServerName   string   `toml:"server_name"`
}

// store checks the [store] table with package shared's Validate and fills
// in its defaults; nil when the file has none (everything stays in each
// process's memory).
func (v *validator) store(s *storeSection) *shared.Options {
	if s == nil {
		return nil
	}
	o := shared.Options{URL: s.URL, SecretFile: v.path(s.SecretFile), PasswordFile: v.path(s.PasswordFile),
		Policy: s.Policy, Timeout: s.Timeout.Duration, CAFile: v.path(s.CAFile), CertFile: v.path(s.CertFile),
		KeyFile: v.path(s.KeyFile), ServerName: s.ServerName}
	v.positive("store.timeout", s.Timeout)
	v.invalid("store", o.Validate())
	o = o.WithDefaults()
	return &o
}
