package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/limits"
)

const full = `
[token]
issuer = "example issuer"
services = ["Authentication"]
key = "certs/RootCA.key"
certificate = "/etc/certs/RootCA.crt"
lifetime = "30m"
kid = "thumbprint"

[acl]
users = "config/users.json"
repositories = "config/repositories.json"
anonymous_catalog = true

[[listen]]
protocol = "scgi"
address = "unix:run/regtoken.sock"
mode = "0660"
group = "www-data"

[[listen]]
protocol = "fcgi"
address = "tcp:127.0.0.1:5011"
`

func TestParseFull(t *testing.T) {
	cfg, err := Parse("/srv/regtoken/regtoken.toml", []byte(full))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Token.Issuer != "example issuer" || cfg.Token.Services[0] != "Authentication" {
		t.Errorf("token = %+v", cfg.Token)
	}
	if cfg.Token.Key != "/srv/regtoken/certs/RootCA.key" {
		t.Errorf("relative key path not resolved against the file: %q", cfg.Token.Key)
	}
	if cfg.Token.Certificate != "/etc/certs/RootCA.crt" {
		t.Errorf("absolute path changed: %q", cfg.Token.Certificate)
	}
	if cfg.Token.Lifetime != 30*time.Minute || cfg.Token.KeyID != "thumbprint" {
		t.Errorf("lifetime/kid = %v/%q", cfg.Token.Lifetime, cfg.Token.KeyID)
	}
	if cfg.ACL.Users != "/srv/regtoken/config/users.json" || !cfg.ACL.AnonymousCatalog {
		t.Errorf("acl = %+v", cfg.ACL)
	}
	if len(cfg.Listen) != 2 {
		t.Fatalf("listen = %+v", cfg.Listen)
	}
	if l := cfg.Listen[0]; l.Address != "unix:/srv/regtoken/run/regtoken.sock" || l.Mode != 0o660 || l.Group != "www-data" {
		t.Errorf("listen[0] = %+v", l)
	}
	if l := cfg.Listen[1]; l.Protocol != "fastcgi" || l.Address != "tcp:127.0.0.1:5011" {
		t.Errorf("listen[1] = %+v", l)
	}
	if !cfg.Refresh.Enabled || cfg.Refresh.Lifetime != DefaultRefreshLifetime {
		t.Errorf("refresh defaults = %+v", cfg.Refresh)
	}
	if cfg.Limits != (limits.Limits{}).WithDefaults() {
		t.Errorf("limits = %+v, want package limits' defaults", cfg.Limits)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Parse("/x/r.toml", []byte("[token]\nissuer='i'\nservices=['s']\nkey='k.pem'\n[acl]\nusers='u.json'\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Token.Lifetime != DefaultLifetime || cfg.Token.KeyID != "libtrust" {
		t.Errorf("defaults: %+v", cfg.Token)
	}
	if !cfg.Log.Audit || cfg.Log.Level != "info" {
		t.Errorf("log defaults: %+v", cfg.Log)
	}
}

// The default tarpit shrinks with a small max_connections; an explicit one
// below it is kept.
func TestTarpitFitsConnections(t *testing.T) {
	base := "[token]\nissuer='i'\nservices=['s']\nkey='k.pem'\n[acl]\nusers='u.json'\n"
	for _, c := range []struct {
		extra string
		want  int
	}{
		{"", 0}, // 1024 connections: throttle's default (256) applies
		{"[limits]\nmax_connections = 100\n", 25},
		{"[limits]\nmax_connections = 100\n[throttle]\ntarpit_slots = 10\n", 10},
	} {
		cfg, err := Parse("/x/r.toml", []byte(base+c.extra))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Throttle.TarpitSlots != c.want {
			t.Errorf("%q: tarpit_slots = %d, want %d", c.extra, cfg.Throttle.TarpitSlots, c.want)
		}
	}
}

func TestACLMaxShrink(t *testing.T) {
	for text, want := range map[string]float64{"": 0, "max_shrink = 0.2\n": 0.2, "max_shrink = 1\n": 1} {
		cfg, err := Parse("/x/r.toml", []byte("[token]\nissuer='i'\nservices=['s']\nkey='k.pem'\n[acl]\nusers='u.json'\n"+text))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.ACL.MaxShrink != want {
			t.Errorf("%q: max_shrink %g, want %g", text, cfg.ACL.MaxShrink, want)
		}
	}
}

func TestThrottleSection(t *testing.T) {
	cfg, err := Parse("/x/r.toml", []byte("[token]\nissuer='i'\nservices=['s']\nkey='k.pem'\n[acl]\nusers='u.json'\n"+
		"[throttle]\npair_threshold = 3\naddress_in_flight = 2\ntarpit = '250ms'\ntarpit_slots = -1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if th := cfg.Throttle; !th.Enabled || th.PairThreshold != 3 || th.AddressInFlight != 2 || th.Tarpit != 250*time.Millisecond || th.TarpitSlots != -1 {
		t.Errorf("throttle = %+v", th)
	}
}

func TestProblems(t *testing.T) {
	cases := []struct {
		name, text string
		want       []string
	}{
		{"syntax error names the line", "[token]\nissuer = \"x\"\nservices = [\n", []string{"bad.toml:3:"}},
		{"missing required", "[acl]\nusers='u'\n", []string{"token.issuer: required", "token.services: required", "token.key: required"}},
		{"unknown key", "[token]\nissuer='i'\nservices=['s']\nkey='k'\nisuer='typo'\n[acl]\nusers='u'\n", []string{"token.isuer: unknown key"}},
		{"bad lifetime", "[token]\nissuer='i'\nservices=['s']\nkey='k'\nlifetime='5'\n[acl]\nusers='u'\n", []string{"bad.toml:5: token.lifetime", "not a duration"}},
		{"short lifetime", "[token]\nissuer='i'\nservices=['s']\nkey='k'\nlifetime='10s'\n[acl]\nusers='u'\n", []string{"token.lifetime: 10s is outside"}},
		{"bad kid", "[token]\nissuer='i'\nservices=['s']\nkey='k'\nkid='x'\n[acl]\nusers='u'\n", []string{"token.kid"}},
		{"bad listener", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\n[[listen]]\nprotocol='gopher'\naddress='udp:1'\nmode='999'\n",
			[]string{`listen[0]: listen: unknown protocol "gopher"`, `listen[0]: listen: bad address "udp:1"`, "listen[0].mode"}},
		{"mode on a tcp listener", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\n[[listen]]\nprotocol='scgi'\naddress='tcp:127.0.0.1:1'\nmode='0600'\n",
			[]string{"listen[0]: listen: option does not apply to this listener: mode, owner and group need a unix: address"}},
		{"bad limits", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\n[limits]\nmax_body_bytes=-1\nmax_header_bytes=2000000\nrequest_timeout='0s'\n",
			[]string{"limits: out of range: max_body_bytes must not be negative", "max_header_bytes 2000000 is over", "limits.request_timeout: must be positive"}},
		{"no rules", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n", []string{"acl: no rules"}},
		{"tarpit slots take every connection", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\n[limits]\nmax_connections=100\n[throttle]\ntarpit_slots=100\n",
			[]string{"throttle.tarpit_slots: 100 would let held guesses take every connection"}},
		{"negative tarpit", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\n[throttle]\ntarpit='-1s'\n", []string{"throttle: invalid policy: tarpit -1s is negative"}},
		{"max_shrink out of range", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\nmax_shrink=1.5\n", []string{"acl: max_shrink 1.5 is not a share"}},
		{"max_shrink zero", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\nmax_shrink=0.0\n", []string{"acl.max_shrink: 0 would refuse every reload"}},
		{"max delay below base delay", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\n[throttle]\nbase_delay='1m'\nmax_delay='10s'\n", []string{"throttle: invalid policy: max delay 10s is below the base delay 1m0s"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("/etc/regtoken/bad.toml", []byte(c.text))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadReadsFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "regtoken.toml")
	if err := os.WriteFile(p, []byte(full), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Token.Key != filepath.Join(dir, "certs/RootCA.key") {
		t.Errorf("key = %q", cfg.Token.Key)
	}
	if _, err := Load(filepath.Join(dir, "missing.toml")); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(full))
	f.Add([]byte("[token]\nissuer='i'\n"))
	f.Add([]byte("[[listen]]\nmode='0'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("/f/r.toml", data)
		if err == nil && (cfg.Token.Issuer == "" || len(cfg.Token.Services) == 0) {
			t.Fatal("accepted a config without issuer or services")
		}
	})
}
