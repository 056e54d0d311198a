package ldapauth

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/authn"
)

// goodOptions is the example: a search with a service account and
// a group search.
func goodOptions() Options {
	return Options{
		URLs:             []string{"ldap://127.0.0.1:389"},
		BindDN:           "cn=regtoken,dc=example,dc=org",
		BindPasswordFile: "ldap.pw",
		UserBase:         "ou=people,dc=example,dc=org",
		UserFilter:       "(&(objectClass=inetOrgPerson)(uid=%s))",
		GroupBase:        "ou=groups,dc=example,dc=org",
		GroupFilter:      "(&(objectClass=groupOfNames)(member=%s))",
	}
}

func TestValidateGood(t *testing.T) {
	for name, change := range map[string]func(*Options){
		"example":          func(*Options) {},
		"ldaps":            func(o *Options) { o.URLs = []string{"ldaps://ldap.example.org", "ldaps://ldap2.example.org:1636"} },
		"start_tls":        func(o *Options) { o.URLs, o.StartTLS = []string{"ldap://ldap.example.org"}, true },
		"plaintext":        func(o *Options) { o.URLs, o.AllowPlaintext = []string{"ldap://ldap.example.org"}, true },
		"memberOf":         func(o *Options) { o.GroupBase, o.GroupFilter = "", "" },
		"user_dn":          func(o *Options) { o.UserBase, o.UserFilter, o.UserDN = "", "", "uid=%s,ou=people,dc=example,dc=org" },
		"anonymous search": func(o *Options) { o.BindDN, o.BindPasswordFile = "", "" },
		"AD bind by UPN":   func(o *Options) { o.BindDN = "regtoken@example.com" },
		"nested":           func(o *Options) { o.NestedGroups = true },
		"posix groups":     func(o *Options) { o.GroupFilter = "(&(objectClass=posixGroup)(memberUid=%u))" },
		"map by DN": func(o *Options) {
			o.GroupMap = map[string]string{"cn=Devs,ou=groups,dc=example,dc=org": "dev", "ops": "admins"}
		},
		"everything set": func(o *Options) {
			o.Precedence, o.CacheLifetime, o.Timeout, o.PoolSize, o.UnmappedGroups = "directory", time.Hour, time.Second, 8, "drop"
			o.GroupNameAttribute, o.UserNameAttribute = "dn", "sAMAccountName"
		},
	} {
		o := goodOptions()
		change(&o)
		if err := o.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidateBad(t *testing.T) {
	cases := []struct {
		change func(*Options)
		key    string
		says   string
	}{
		{func(o *Options) { o.URLs = nil }, "url", "required"},
		{func(o *Options) { o.URLs = []string{"ldap.example.org"} }, "url", "not an URL"},
		{func(o *Options) { o.URLs = []string{"http://ldap.example.org"} }, "url", "ldap or ldaps"},
		{func(o *Options) { o.URLs = []string{"ldap://ldap.example.org"} }, "url", "unencrypted"},
		{func(o *Options) { o.URLs = []string{"ldap://ldap.example.org/dc=example"}; o.StartTLS = true }, "url", "server only"},
		{func(o *Options) { o.URLs, o.StartTLS = []string{"ldaps://ldap.example.org"}, true }, "start_tls", "ldap:// only"},
		{func(o *Options) { o.BindPasswordFile = "" }, "bind_password_file", "required"},
		{func(o *Options) { o.BindDN = "" }, "bind_dn", "required"},
		{func(o *Options) { o.BindDN = "not a dn" }, "bind_dn", "not a DN"},
		{func(o *Options) { o.UserBase = "" }, "user_base", "required"},
		{func(o *Options) { o.UserFilter = "(uid=alice)" }, "user_filter", "no %s"},
		{func(o *Options) { o.UserFilter = "(uid=%s" }, "user_filter", "not an LDAP filter"},
		{func(o *Options) { o.UserDN = "uid=%s,dc=example" }, "user_dn", "not both"},
		{func(o *Options) { o.UserBase, o.UserFilter, o.UserDN = "", "", "uid=x,dc=example" }, "user_dn", "one %s"},
		{func(o *Options) { o.UserNameAttribute = "u id" }, "user_name_attribute", "not an attribute"},
		{func(o *Options) { o.GroupBase = "" }, "group_base", "required with group_filter"},
		{func(o *Options) { o.GroupFilter = "" }, "group_filter", "required with group_base"},
		{func(o *Options) { o.GroupFilter = "(objectClass=groupOfNames)" }, "group_filter", "no %s or %u"},
		{func(o *Options) { o.MemberOfAttribute = "memberOf" }, "member_of_attribute", "not both"},
		{func(o *Options) { o.GroupFilter, o.NestedGroups = "(memberUid=%u)", true }, "nested_groups", "needs %s"},
		{func(o *Options) { o.GroupMap = map[string]string{"dev": ""} }, "group_map", "empty"},
		{func(o *Options) { o.GroupMap = map[string]string{"cn=dev,,": "dev"} }, "group_map", "not a DN"},
		{func(o *Options) { o.UnmappedGroups = "ignore" }, "unmapped_groups", "keep"},
		{func(o *Options) { o.Precedence = "users.json" }, "precedence", "is not"},
		{func(o *Options) {
			o.UserBase, o.UserFilter, o.UserDN, o.BindDN, o.BindPasswordFile = "", "", "uid=%s,dc=example", "", ""
			o.Precedence = "directory"
		}, "precedence", "needs bind_dn"},
		{func(o *Options) { o.CacheLifetime = 48 * time.Hour }, "cache_lifetime", "outside"},
		{func(o *Options) { o.Timeout = time.Millisecond }, "timeout", "outside"},
		{func(o *Options) { o.PoolSize = 1000 }, "pool_size", "outside"},
	}
	for _, c := range cases {
		o := goodOptions()
		c.change(&o)
		err := o.Validate()
		var oe *OptionError
		if !errors.As(err, &oe) || !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("want an OptionError for %s, got %v", c.key, err)
			continue
		}
		if oe.Key != c.key || !strings.Contains(oe.Message, c.says) {
			t.Errorf("got %v; want ldap.%s saying %q", err, c.key, c.says)
		}
	}
}

func TestWithDefaults(t *testing.T) {
	o := Options{URLs: []string{"ldaps://x"}, UserBase: "dc=x"}.WithDefaults()
	if o.UserFilter != DefaultUserFilter || o.MemberOfAttribute != DefaultMemberOfAttribute ||
		o.GroupNameAttribute != "cn" || o.UserNameAttribute != "uid" || o.UnmappedGroups != "keep" ||
		o.CacheLifetime != authn.DefaultCacheTTL || o.Timeout != DefaultTimeout || o.PoolSize != DefaultPoolSize {
		t.Errorf("defaults: %+v", o)
	}
	if o := (Options{GroupFilter: "(member=%s)"}).WithDefaults(); o.MemberOfAttribute != "" {
		t.Errorf("a group search got member_of_attribute %q", o.MemberOfAttribute)
	}
}

// unreachable is a Directory whose one server refuses connections.
func unreachable(t *testing.T) *Directory {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	o := goodOptions()
	o.URLs = []string{"ldap://" + addr}
	d, err := New(o, Env{BindPassword: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// An empty password is refused before anything is sent: a bind with one
// is an anonymous bind, which a directory accepts whatever the name.
func TestEmptyPasswordNeverBinds(t *testing.T) {
	d := unreachable(t)
	_, err := d.CheckPassword(context.Background(), "alice", "")
	if !errors.Is(err, authn.ErrWrongPassword) {
		t.Errorf("empty password: %v, want ErrWrongPassword", err)
	}
	if d.stats.DialFailures.Load() != 0 || d.Health().Known {
		t.Errorf("an empty password reached for the directory")
	}
}

// A directory that cannot be reached is no refusal: the caller must answer
// 503, and Health says why.
func TestUnreachableIsNoRefusal(t *testing.T) {
	d := unreachable(t)
	_, err := d.CheckPassword(context.Background(), "alice", "secret")
	if err == nil || refusal(err) {
		t.Fatalf("unreachable directory: %v, want an error that is no refusal", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error shows a password: %v", err)
	}
	h := d.Health()
	if !h.Known || h.Reachable || !strings.Contains(h.Error, "refused") {
		t.Errorf("health %+v", h)
	}
	if d.stats.Unavailable.Load() != 1 || d.stats.DialFailures.Load() != 1 {
		t.Errorf("stats: unavailable %d, dial failures %d", d.stats.Unavailable.Load(), d.stats.DialFailures.Load())
	}
}

func TestGroupNamesAndMapping(t *testing.T) {
	o := goodOptions()
	o.GroupMap = map[string]string{"CN=Developers, OU=Groups,DC=example,DC=org": "dev", "ops": "admins"}
	d, err := New(o, Env{BindPassword: "x"})
	if err != nil {
		t.Fatal(err)
	}
	groups := []Group{
		d.group("cn=developers,ou=groups,dc=example,dc=org", "developers"),
		d.group("cn=ops,ou=groups,dc=example,dc=org", "ops"),
		d.group("cn=qa,ou=groups,dc=example,dc=org", "qa"),
		d.group("cn=nameless,ou=groups,dc=example,dc=org", ""),
	}
	want := []string{"dev", "admins", "qa", "cn=nameless,ou=groups,dc=example,dc=org"}
	for i, g := range groups {
		if g.Rule != want[i] {
			t.Errorf("%s maps to %q, want %q", g.DN, g.Rule, want[i])
		}
	}
	if got := (Entry{Groups: append(groups, groups[0])}).RuleGroups(); !slices.Equal(got, []string{"admins", "cn=nameless,ou=groups,dc=example,dc=org", "dev", "qa"}) {
		t.Errorf("RuleGroups %v", got)
	}
	d.opts.UnmappedGroups = "drop"
	if g := d.group("cn=qa,ou=groups,dc=example,dc=org", "qa"); g.Rule != "" {
		t.Errorf("dropped group maps to %q", g.Rule)
	}
	d.opts.GroupNameAttribute = groupNameDN
	if g := d.group("cn=QA,dc=example", "QA"); g.Name != "cn=QA,dc=example" {
		t.Errorf("a group named by DN is %q", g.Name)
	}
}

func TestFirstRDNValue(t *testing.T) {
	for dn, want := range map[string]string{
		"cn=dev,ou=groups,dc=x": "dev", "CN=Dev Team,dc=x": "Dev Team", "ou=dev,dc=x": "", "cn=a+sn=b,dc=x": "", "nonsense": "",
	} {
		got, ok := firstRDNValue(dn, "cn")
		if !ok {
			got = ""
		}
		if got != want {
			t.Errorf("firstRDNValue(%q) = %q, want %q", dn, got, want)
		}
	}
}

func TestSameAndTag(t *testing.T) {
	d, err := New(goodOptions(), Env{BindPassword: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Same(goodOptions(), Env{BindPassword: "a"}) {
		t.Error("the same options and password are not Same")
	}
	if d.Same(goodOptions(), Env{BindPassword: "b"}) {
		t.Error("a new bind password is Same")
	}
	o := goodOptions()
	o.GroupMap = map[string]string{"a": "b"}
	if d.Same(o, Env{BindPassword: "a"}) || d.Authn().Tag == o.WithDefaults().tag() {
		t.Error("a new group map keeps the directory and its remembered logins")
	}
	if a := d.Authn(); a.First || a.CacheLifetime != authn.DefaultCacheTTL || a.Source != d {
		t.Errorf("Authn() = %+v", a)
	}
}

// A service account with an empty password would bind anonymously.
func TestNewRefusesEmptyBindPassword(t *testing.T) {
	if _, err := New(goodOptions(), Env{}); err == nil || !strings.Contains(err.Error(), "ldap.bind_password_file") {
		t.Errorf("an empty service password: %v", err)
	}
}
