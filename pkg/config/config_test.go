package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/ldapauth"
	"github.com/regtoken/regtoken/pkg/limits"
	"github.com/regtoken/regtoken/pkg/token"
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
	if cfg.Token.Lifetimes.Default != 30*time.Minute || cfg.Token.KeyID != "thumbprint" {
		t.Errorf("lifetime/kid = %v/%q", cfg.Token.Lifetimes.Default, cfg.Token.KeyID)
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
	if cfg.Token.Lifetimes.Default != DefaultLifetime || cfg.Token.KeyID != "libtrust" || cfg.Token.ClockSkew != token.DefaultClockSkew ||
		cfg.Token.ServiceKeys != nil {
		t.Errorf("defaults: %+v", cfg.Token)
	}
	if !cfg.Refresh.AcceptLegacy {
		t.Errorf("refresh tokens of earlier versions refused by default: %+v", cfg.Refresh)
	}
	if !cfg.Log.Audit || cfg.Log.Level != "info" || cfg.Log.Format != "text" || cfg.Log.AuditFile != "" {
		t.Errorf("log defaults: %+v", cfg.Log)
	}
}

func TestAuditFile(t *testing.T) {
	cfg, err := Parse("/etc/regtoken/r.toml", []byte("[token]\nissuer='i'\nservices=['s']\nkey='k.pem'\n[acl]\nusers='u.json'\n"+
		"[log]\nformat = 'json'\naudit_file = '../../var/log/regtoken/audit.log'\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Log.AuditFile != "/var/log/regtoken/audit.log" || cfg.Log.Format != "json" {
		t.Errorf("log: %+v", cfg.Log)
	}
	expectProblems(t, []problemCase{{"audit file without audit", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\n" +
		"[log]\naudit = false\naudit_file = '/var/log/a.log'\n", []string{"log.audit_file: set, but log.audit = false turns the audit log off"}}})
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

// A service may have a key of its own; clock_skew and accept_legacy are read.
func TestServiceKeysAndClockSkew(t *testing.T) {
	cfg, err := Parse("/etc/regtoken/r.toml", []byte(`[token]
issuer = "i"
services = ["registry.example.com", "zot.example.com"]
key = "main.pem"
clock_skew = "3s"

[token.service."zot.example.com"]
key = "zot.pem"
certificate = "/certs/zot.crt"

[refresh]
accept_legacy = false

[acl]
users = "u.json"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]KeyFiles{"zot.example.com": {Key: "/etc/regtoken/zot.pem", Certificate: "/certs/zot.crt"}}
	if fmt.Sprint(cfg.Token.ServiceKeys) != fmt.Sprint(want) || cfg.Token.ClockSkew != 3*time.Second || cfg.Refresh.AcceptLegacy {
		t.Errorf("token %+v refresh %+v", cfg.Token, cfg.Refresh)
	}
}

func TestTransportTimeouts(t *testing.T) {
	cfg, err := Parse("/x/r.toml", []byte("[token]\nissuer='i'\nservices=['s']\nkey='k.pem'\n[acl]\nusers='u.json'\n"+
		"[limits]\nidle_timeout = '4s'\nhead_timeout = '250ms'\n"))
	if err != nil {
		t.Fatal(err)
	}
	if l := cfg.Limits; l.IdleTimeout != 4*time.Second || l.HeadTimeout != 250*time.Millisecond {
		t.Errorf("limits = %+v", l)
	}
}

func TestProblems(t *testing.T) {
	expectProblems(t, []problemCase{
		{"syntax error names the line", "[token]\nissuer = \"x\"\nservices = [\n", []string{"bad.toml:3:"}},
		{"missing required", "[acl]\nusers='u'\n", []string{"token.issuer: required", "token.services: required", "token.key: required"}},
		{"unknown key", "[token]\nissuer='i'\nservices=['s']\nkey='k'\nisuer='typo'\n[acl]\nusers='u'\n", []string{"token.isuer: unknown key"}},
		{"bad lifetime", "[token]\nissuer='i'\nservices=['s']\nkey='k'\nlifetime='5'\n[acl]\nusers='u'\n", []string{"bad.toml:5: token.lifetime", "not a duration"}},
		{"short lifetime", "[token]\nissuer='i'\nservices=['s']\nkey='k'\nlifetime='10s'\n[acl]\nusers='u'\n", []string{"token.lifetime: token: lifetime out of range: 10s is outside"}},
		{"bad kid", "[token]\nissuer='i'\nservices=['s']\nkey='k'\nkid='x'\n[acl]\nusers='u'\n", []string{"token.kid"}},
		{"bad listener", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\n[[listen]]\nprotocol='gopher'\naddress='udp:1'\nmode='999'\n",
			[]string{`listen[0]: listen: unknown protocol "gopher"`, `listen[0]: listen: bad address "udp:1"`, "listen[0].mode"}},
		{"mode on a tcp listener", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\n[[listen]]\nprotocol='scgi'\naddress='tcp:127.0.0.1:1'\nmode='0600'\n",
			[]string{"listen[0]: listen: option does not apply to this listener: mode, owner and group need a unix: address"}},
		{"bad limits", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\n[limits]\nmax_body_bytes=-1\nmax_header_bytes=2000000\nrequest_timeout='0s'\n",
			[]string{"limits: out of range: max_body_bytes must not be negative", "max_header_bytes 2000000 is over", "limits.request_timeout: must be positive"}},
		{"negative clock skew", "[token]\nissuer='i'\nservices=['s']\nkey='k'\nclock_skew='-1s'\n[acl]\nusers='u'\n",
			[]string{"token.clock_skew: token: clock skew out of range: -1s is outside 0s..5m0s"}},
		{"silly clock skew", "[token]\nissuer='i'\nservices=['s']\nkey='k'\nclock_skew='1h'\n[acl]\nusers='u'\n",
			[]string{"token.clock_skew: token: clock skew out of range: 1h0m0s"}},
		{"key for an unknown service", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[token.service.other]\n[acl]\nusers='u'\n",
			[]string{`token.service."other": "other" is not among token.services`, `token.service."other".key: required`}},
		{"bad transport timeouts", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\n[limits]\nrequest_timeout='2s'\nhead_timeout='2s'\nidle_timeout='0s'\n",
			[]string{"head_timeout 2s must be shorter than request_timeout 2s", "limits.idle_timeout: must be positive"}},
		{"no rules", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n", []string{"acl: no rules"}},
		{"tarpit slots take every connection", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\n[limits]\nmax_connections=100\n[throttle]\ntarpit_slots=100\n",
			[]string{"throttle.tarpit_slots: 100 would let held guesses take every connection"}},
		{"negative tarpit", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\n[throttle]\ntarpit='-1s'\n", []string{"throttle: invalid policy: tarpit -1s is negative"}},
		{"max_shrink out of range", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\nmax_shrink=1.5\n", []string{"acl: max_shrink 1.5 is not a share"}},
		{"max_shrink zero", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\nmax_shrink=0.0\n", []string{"acl.max_shrink: 0 would refuse every reload"}},
		{"max delay below base delay", "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\n[throttle]\nbase_delay='1m'\nmax_delay='10s'\n", []string{"throttle: invalid policy: max delay 10s is below the base delay 1m0s"}},
	})
}

// problemCase is a configuration text and what its error must contain.
type problemCase struct {
	name, text string
	want       []string
}

// expectProblems parses each text as /etc/regtoken/bad.toml and wants an
// error that wraps ErrInvalid, contains every wanted string, and speaks
// TOML, not Go.
func expectProblems(t *testing.T, cases []problemCase) {
	t.Helper()
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
					t.Errorf("error\n%s\nlacks\n%s", err, w)
				}
			}
			if strings.Contains(err.Error(), "destination has type") || strings.Contains(err.Error(), "incompatible types") {
				t.Errorf("Go's terms leaked into the message: %v", err)
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

// A value of the wrong type, or a key regtoken does not know, is reported in
// TOML's terms with its line, every one of them at once; a misspelt key
// names the key that was probably meant.
func TestShapeProblems(t *testing.T) {
	const base = "[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\n"
	expectProblems(t, []problemCase{
		{"string for a list", "[token]\nissuer = 'i'\nservices = \"Authentication\"\nkey = 'k'\n[acl]\nusers='u'\n",
			[]string{`bad.toml:3: token.services: want a list of strings, got a string ("Authentication")`}},
		{"list with a number", "[token]\nissuer='i'\nservices=['s', 1]\nkey='k'\n[acl]\nusers='u'\n",
			[]string{"bad.toml:3: token.services: want a list of strings, got a list with an integer (1)"}},
		{"misspelt key", base + "[log]\nformatt = 'json'\n", []string{"bad.toml:8: log.formatt: unknown key; did you mean log.format?"}},
		{"key in the wrong table", "[token]\nservices=['s']\nkey='k'\n[acl]\nusers='u'\nissuer='i'\n",
			[]string{"bad.toml:6: acl.issuer: unknown key; did you mean token.issuer?"}},
		{"misspelt table", base + "\n[limit]\nmax_scopes = 3\n", []string{"bad.toml:8: limit: unknown key; did you mean limits?"}},
		{"nothing near", base + "[log]\nverbosity = 3\n", []string{"bad.toml:8: log.verbosity: unknown key"}},
		{"integer as a string", base + "[limits]\nmax_scopes = \"32\"\n", []string{`bad.toml:8: limits.max_scopes: want an integer, got a string ("32")`}},
		{"boolean as a string", base + "[log]\naudit = \"yes\"\n", []string{`bad.toml:8: log.audit: want true or false, got a string ("yes")`}},
		{"duration as a number", base + "[refresh]\nlifetime = 30\n", []string{`bad.toml:8: refresh.lifetime: want a duration string like "30m" or "90s", got an integer (30)`}},
		{"table as a value", "token = 5\n[acl]\nusers='u'\n", []string{"bad.toml:1: token: want a table, got an integer (5)"}},
		{"listen as a string", "listen = 'scgi'\n" + base, []string{`bad.toml:1: listen: want an array of tables, got a string ("scgi")`}},
		{"second listener", base + "[[listen]]\nprotocol='scgi'\naddress='unix:/a'\n\n[[listen]]  # the other one\nprotocol='http'\nadress='tcp:127.0.0.1:1'\n",
			[]string{"bad.toml:13: listen[1].adress: unknown key; did you mean listen.address?"}},
		{"every problem, in file order", "[token]\nissuer = 1\nservices = 's'\nkey = 'k'\nlifetime = '5'\n[acl]\nuser = 'u'\n",
			[]string{"bad.toml:2: token.issuer: want a string, got an integer (1)\n/etc/regtoken/bad.toml:3: token.services: want a list of strings",
				"bad.toml:5: token.lifetime: not a duration like \"30m\" or \"90s\": \"5\"\n/etc/regtoken/bad.toml:7: acl.user: unknown key; did you mean acl.users?"}},
		{"a service's key", "[token]\nissuer='i'\nservices=['s', 'zot']\nkey='k'\n[token.service.zot]\nkey = 5\n[acl]\nusers='u'\n",
			[]string{"bad.toml:6: token.service.zot.key: want a string, got an integer (5)"}},
		{"a group_map value", base + "[ldap]\nurl = 'ldaps://x'\nuser_base = 'dc=x'\n[ldap.group_map]\nops = ['admins']\n",
			[]string{"bad.toml:11: ldap.group_map.ops: want a string, got a list"}},
		{"an OIDC rule's actions", base + "[[oidc]]\nname = 'k'\nissuer = 'https://k'\naudience = 'r'\n[[oidc.rules]]\nclaims = {sub = 'x'}\nrepositories = {'a/**' = 'pull'}\n",
			[]string{`bad.toml:13: oidc[0].rules[0].repositories.a/**: want a list of strings, got a string ("pull")`}},
		{"a value's line", base + "[[listen]]\nprotocol = 'scgi'\naddress = 'unix:/a'\n[[listen]]\nprotocol = 'gopher'\naddress = 'unix:/b'\n",
			[]string{`bad.toml:10: listen[1]: listen: unknown protocol "gopher"`}},
	})
}

const machines = `
[token]
issuer = "example issuer"
services = ["Authentication"]
key = "k.pem"

[robots]
file = "robots.json"
last_used = "/var/lib/regtoken/robots-last-used.json"

[[oidc]]
name = "github"
issuer = "https://token.actions.githubusercontent.com"
audience = "https://registry.example.com"

  [[oidc.rules]]
  claims = { repository_owner = "acme", ref = ["refs/heads/main", "refs/tags/v*"] }
  repositories = { "${repository:lower:path}/**" = ["pull", "push"] }

[[oidc]]
name = "k8s"
issuer = "https://kubernetes.default.svc.cluster.local"
audiences = ["registry.example.com"]
jwks_file = "k8s-jwks.json"
clock_skew = "30s"

  [[oidc.rules]]
  claims = { kubernetes.io.namespace = ["ci", "build"], "kubernetes.io.serviceaccount.name" = "puller", n = 3, b = true }
  repositories = { "k8s/${kubernetes.io.namespace}/**" = ["pull"] }
  groups = ["readers"]
`

func TestParseMachines(t *testing.T) {
	cfg, err := Parse("/etc/regtoken/regtoken.toml", []byte(machines))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Robots.File != "/etc/regtoken/robots.json" || cfg.Robots.LastUsed != "/var/lib/regtoken/robots-last-used.json" {
		t.Errorf("robots %+v", cfg.Robots)
	}
	if len(cfg.OIDC) != 2 {
		t.Fatalf("oidc %+v", cfg.OIDC)
	}
	gh, k8s := cfg.OIDC[0], cfg.OIDC[1]
	if gh.Audiences[0] != "https://registry.example.com" || len(gh.Rules[0].Claims["ref"]) != 2 {
		t.Errorf("github %+v", gh)
	}
	claims := k8s.Rules[0].Claims
	if k8s.JWKSFile != "/etc/regtoken/k8s-jwks.json" || k8s.ClockSkew != 30*time.Second ||
		len(claims["kubernetes.io.namespace"]) != 2 || claims["kubernetes.io.serviceaccount.name"][0] != "puller" ||
		claims["n"][0] != "3" || claims["b"][0] != "true" {
		t.Errorf("k8s %+v", k8s)
	}
}

func TestMachinesProblems(t *testing.T) {
	bad := strings.NewReplacer(`name = "k8s"`, `name = "github"`, `clock_skew = "30s"`, `clock_skew = "0s"`,
		`n = 3`, `n = {x = [{}]}`, `audience = "https://registry.example.com"`, ``).Replace(machines)
	_, err := Parse("/etc/regtoken/regtoken.toml", []byte(bad))
	for _, words := range []string{`oidc[1].name: "github" names two issuers`, "oidc[1].clock_skew: must be positive",
		"oidc[1].rules[0].claims: n.x: want", "oidc[0]: oidc: invalid issuer: audiences"} {
		if err == nil || !strings.Contains(err.Error(), words) {
			t.Errorf("want %q in %v", words, err)
		}
	}
}

// ldapConfig is the issue's [ldap] example with a group map, cache lifetime
// and one server written as a plain string.
const ldapConfig = `
[token]
issuer = "i"
services = ["s"]
key = "k.pem"

[acl]
groups = "groups.json"

[ldap]
url = "ldaps://ldap.example.org"
ca_file = "ldap-ca.pem"
bind_dn = "cn=regtoken,dc=example,dc=org"
bind_password_file = "ldap.pw"
user_base = "ou=people,dc=example,dc=org"
user_filter = "(&(objectClass=inetOrgPerson)(uid=%s))"
group_base = "ou=groups,dc=example,dc=org"
group_filter = "(&(objectClass=groupOfNames)(member=%s))"
group_name_attribute = "cn"
nested_groups = true
precedence = "file"
cache_lifetime = "2m"

[ldap.group_map]
"cn=Developers,ou=groups,dc=example,dc=org" = "dev"
ops = "admins"
`

func TestLDAPSection(t *testing.T) {
	cfg, err := Parse("/etc/regtoken/regtoken.toml", []byte(ldapConfig))
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.LDAP
	switch {
	case l == nil:
		t.Fatal("no LDAP options")
	case len(l.URLs) != 1 || l.URLs[0] != "ldaps://ldap.example.org":
		t.Errorf("url = %q", l.URLs)
	case l.BindPasswordFile != "/etc/regtoken/ldap.pw" || l.CAFile != "/etc/regtoken/ldap-ca.pem":
		t.Errorf("paths not resolved against the file: %q %q", l.BindPasswordFile, l.CAFile)
	case l.CacheLifetime != 2*time.Minute || !l.NestedGroups || l.Precedence != "file" || l.GroupMap["ops"] != "admins":
		t.Errorf("ldap = %+v", l)
	case l.Timeout != ldapauth.DefaultTimeout || l.PoolSize != ldapauth.DefaultPoolSize || l.UserNameAttribute != "uid":
		t.Errorf("defaults not filled in: %+v", l)
	case !cfg.ACL.DirectoryUsers:
		t.Error("acl does not know that a directory holds users")
	}
	cfg, err = Parse("/x/r.toml", []byte("[token]\nissuer='i'\nservices=['s']\nkey='k.pem'\n[acl]\nusers='u.json'\n"))
	if err != nil || cfg.LDAP != nil || cfg.ACL.DirectoryUsers {
		t.Errorf("no [ldap] table: %+v %v", cfg.LDAP, err)
	}
}

func TestLDAPProblems(t *testing.T) {
	for text, want := range map[string][]string{
		"url = 'ldap://ldap.example.org'\nuser_base = 'dc=x'\n": {"regtoken.toml: ldap.url:", "unencrypted"},
		"url = 1\n": {"ldap.url", "a string or a list of strings"},
		"url = ['ldaps://x']\nuser_base = 'dc=x'\ntimeout = '0s'\ncache_lifetime = '0s'\n": {
			"ldap.timeout: must be positive", "ldap.cache_lifetime: must be positive"},
		"url = ['ldaps://x']\nuser_base = 'dc=x'\nuser_filter = '(uid=bob)'\nbind_dn = 'cn=a'\n": {
			"ldap.user_filter:", "ldap.bind_password_file: required"},
		"url = ['ldaps://x']\nuser_base = 'dc=x'\nbind_pasword_file = 'p'\n": {"ldap.bind_pasword_file: unknown key"},
	} {
		_, err := Parse("/etc/regtoken/regtoken.toml", []byte("[token]\nissuer='i'\nservices=['s']\nkey='k'\n[acl]\nusers='u'\n[ldap]\n"+text))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v", text, err)
			continue
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", text, err, w)
			}
		}
	}
}

// Nested arrays of tables are numbered within their parent table, as the
// decoder numbers them, so a problem in the second issuer's first rule
// names its own line.
func TestKeyLinesOfNestedArrays(t *testing.T) {
	lines := scanKeyLines("[[oidc]]\nname = 'a'\n[[oidc.rules]]\nclaims = {}\n[[oidc.rules]]\ngroups = []\n" +
		"[[oidc]]\nname = 'b'\n[[oidc.rules]]\ngroups = []\n[token.service.\"zot\"]\nkey = 'k'\n")
	for key, want := range map[string]int{
		"oidc[0].name": 2, "oidc[0].rules[0].claims": 4, "oidc[0].rules[1].groups": 6,
		"oidc[1].name": 8, "oidc[1].rules[0].groups": 10, "oidc[1].rules[0]": 9, "token.service.zot.key": 12, `token.service."zot"`: 11,
	} {
		if got := lines.of(key); got != want {
			t.Errorf("%s: line %d, want %d", key, got, want)
		}
	}
}
