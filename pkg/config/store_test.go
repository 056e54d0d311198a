package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/regtoken/regtoken/pkg/limits"
	"github.com/regtoken/regtoken/pkg/shared"
)

const storeBase = "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\n"

func TestStoreSection(t *testing.T) {
	cfg, err := Parse("/etc/regtoken/regtoken.toml", []byte(storeBase+
		"[store]\nurl = 'valkey://10.0.0.5:6379/0'\nsecret_file = 'store.secret'\npassword_file = '/run/secrets/valkey'\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Store
	switch {
	case s == nil:
		t.Fatal("no store options")
	case s.URL != "valkey://10.0.0.5:6379/0" || s.SecretFile != "/etc/regtoken/store.secret" || s.PasswordFile != "/run/secrets/valkey":
		t.Errorf("store = %+v", s)
	case s.Policy != shared.FailOpen || s.Timeout != limits.DefaultStoreTimeout:
		t.Errorf("defaults not filled in: %+v", s)
	}
	cfg, err = Parse("/x/r.toml", []byte(storeBase+"[store]\nurl = 'rediss://10.0.0.5'\nsecret_file = 's'\nserver_name = 'valkey.internal'\n"))
	if err != nil || cfg.Store.ServerName != "valkey.internal" {
		t.Errorf("server_name: %+v %v", cfg.Store, err)
	}
	cfg, err = Parse("/x/r.toml", []byte(storeBase))
	if err != nil || cfg.Store != nil {
		t.Errorf("no [store] table: %+v %v", cfg.Store, err)
	}
}

func TestStoreProblems(t *testing.T) {
	for text, want := range map[string][]string{
		"url = 'memcached://x'\nsecret_file = 's'\n":                   {"store:", `scheme "memcached"`},
		"url = 'redis://x'\n":                                          {"secret_file: required"},
		"url = 'redis://x'\nsecret_file = 's'\npolicy = 'fail_soft'\n": {`policy "fail_soft"`},
		"url = 'redis://x'\nsecret_file = 's'\ntimeout = '0s'\n":       {"store.timeout: must be positive"},
		"url = 'redis://:hunter2@x/q'\nsecret_file = 's'\n":            {"invalid database"},
		"url = 'redis://x'\nsecret_file = 's'\npasword_file = 'p'\n":   {"store.pasword_file: unknown key"},
		// The TLS keys: files relative to the configuration's directory,
		// read at load; TLS URLs only.
		"url = 'redis://x'\nsecret_file = 's'\nserver_name = 'x'\n":                        {"store:", "need TLS"},
		"url = 'rediss://x'\nsecret_file = 's'\nca_file = 'ca.pem'\n":                      {"ca_file: open /etc/regtoken/ca.pem"},
		"url = 'rediss://x'\nsecret_file = 's'\ncert_file = 'c.pem'\nkey_file = 'c.key'\n": {"cert_file: open /etc/regtoken/c.pem"},
		"url = 'valkeys://x'\nsecret_file = 's'\nkey_file = 'c.key'\n":                     {"cert_file and key_file: set both"},
	} {
		_, err := Parse("/etc/regtoken/regtoken.toml", []byte(storeBase+"[store]\n"+text))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v", text, err)
			continue
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", text, err, w)
			}
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: the error repeats the password: %v", text, err)
		}
	}
}
