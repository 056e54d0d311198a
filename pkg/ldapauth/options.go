package ldapauth

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/regtoken/regtoken/pkg/authn"
)

// Options are the [ldap] table of regtoken.toml. Zero values take the
// defaults below; Validate reports what New would refuse.
type Options struct {
	// URLs are the directory's servers, tried in order for each new
	// connection: ldap://host[:port] or ldaps://host[:port].
	URLs []string
	// StartTLS upgrades ldap:// connections before anything is sent.
	StartTLS bool
	// CAFile holds the PEM certificates that ldaps:// and StartTLS trust
	// instead of the system's; the caller reads it.
	CAFile string
	// AllowPlaintext lets passwords cross the network unencrypted: ldap://
	// without StartTLS to a host that is not this machine.
	AllowPlaintext bool

	// BindDN is the service account that searches (a DN, or a name Active
	// Directory binds by, like regtoken@example.com); empty: anonymous
	// searches. BindPasswordFile holds its password; the caller reads it.
	BindDN           string
	BindPasswordFile string

	// UserBase and UserFilter find a user's entry: %s in the filter is the
	// user name, escaped for a filter (RFC 4515).
	UserBase   string
	UserFilter string
	// UserDN, instead of a search, is the user's DN with %s standing for
	// the user name, escaped for a DN (RFC 4514).
	UserDN string
	// UserNameAttribute holds the name users log in with. A login counts
	// only when its value is the name as typed, byte for byte, so no
	// spelling the directory matches loosely ("ALICE") becomes a second
	// name for the rules.
	UserNameAttribute string

	// GroupBase and GroupFilter find a user's groups by a search: %s in the
	// filter is the user's DN, %u the user name, both escaped for a filter.
	// Without them the groups are the DNs in the user's MemberOfAttribute.
	GroupBase         string
	GroupFilter       string
	MemberOfAttribute string
	// GroupNameAttribute names a group for the rules; "dn" means its DN.
	GroupNameAttribute string
	// NestedGroups adds the groups that the user's groups are members of,
	// and theirs, up to maxNesting levels.
	NestedGroups bool
	// GroupMap renames directory groups (by name or DN) to groups of the
	// rules. UnmappedGroups says what happens to the others: "keep" their
	// own name, or "drop" them.
	GroupMap       map[string]string
	UnmappedGroups string

	// Precedence decides a name that has a password in the files and in
	// the directory: "file", "directory", or "" (check reports each such
	// name, and the files decide).
	Precedence string
	// CacheLifetime is how long a directory's answer about a password is
	// remembered, and so how long an old password keeps working after a
	// change in the directory.
	CacheLifetime time.Duration
	// Timeout bounds connecting (TLS included), each operation, and the
	// wait for a pooled connection.
	Timeout time.Duration
	// PoolSize caps the connections of each pool: one pool searches with
	// the service bind, the other binds as users.
	PoolSize int
}

// Defaults, used for zero fields.
const (
	DefaultUserFilter         = "(uid=%s)"
	DefaultUserNameAttribute  = "uid"
	DefaultMemberOfAttribute  = "memberOf"
	DefaultGroupNameAttribute = "cn"
	DefaultCacheLifetime      = authn.DefaultCacheTTL
	DefaultTimeout            = 5 * time.Second
	DefaultPoolSize           = 4
)

// Precedences.
const (
	PrecedenceFile      = "file"
	PrecedenceDirectory = "directory"
)

// groupNameDN is the GroupNameAttribute that names groups by their DN.
const groupNameDN = "dn"

// Bounds of the options that have them.
const (
	minTimeout, maxTimeout             = 100 * time.Millisecond, time.Minute
	minCacheLifetime, maxCacheLifetime = time.Second, 24 * time.Hour
	maxPoolSize                        = 64
)

// ErrInvalidOptions is wrapped by the errors Validate returns.
var ErrInvalidOptions = errors.New("ldapauth: invalid options")

// OptionError is one invalid option, named by its key in the [ldap] table.
type OptionError struct {
	Key, Message string
}

func (e *OptionError) Error() string { return "ldap." + e.Key + ": " + e.Message }
func (e *OptionError) Unwrap() error { return ErrInvalidOptions }

// WithDefaults returns o with every zero field that has a default filled in.
func (o Options) WithDefaults() Options {
	if o.UserDN == "" && o.UserFilter == "" {
		o.UserFilter = DefaultUserFilter
	}
	if o.UserNameAttribute == "" {
		o.UserNameAttribute = DefaultUserNameAttribute
	}
	if o.GroupFilter == "" && o.MemberOfAttribute == "" {
		o.MemberOfAttribute = DefaultMemberOfAttribute
	}
	if o.GroupNameAttribute == "" {
		o.GroupNameAttribute = DefaultGroupNameAttribute
	}
	if o.UnmappedGroups == "" {
		o.UnmappedGroups = "keep"
	}
	if o.CacheLifetime == 0 {
		o.CacheLifetime = DefaultCacheLifetime
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.PoolSize == 0 {
		o.PoolSize = DefaultPoolSize
	}
	return o
}

// Validate reports every option New would refuse, each as an *OptionError.
func (o Options) Validate() error {
	o = o.WithDefaults()
	v := &optionChecker{}
	v.servers(o)
	v.account(o)
	v.users(o)
	v.groups(o)
	v.policy(o)
	return errors.Join(v.errs...)
}

type optionChecker struct{ errs []error }

func (v *optionChecker) bad(key, format string, args ...any) {
	v.errs = append(v.errs, &OptionError{Key: key, Message: fmt.Sprintf(format, args...)})
}

func (v *optionChecker) servers(o Options) {
	if len(o.URLs) == 0 {
		v.bad("url", "required: the directory's servers, e.g. [\"ldaps://ldap.example.org\"]")
	}
	for _, raw := range o.URLs {
		u, err := url.Parse(raw)
		switch {
		case err != nil || u.Host == "":
			v.bad("url", "%q is not an URL like ldaps://ldap.example.org or ldap://127.0.0.1:389", raw)
		case u.Scheme == "ldaps" && o.StartTLS:
			v.bad("start_tls", "%q: StartTLS applies to ldap:// only (ldaps:// is TLS from the start)", raw)
		case u.Scheme == "ldap" && !o.StartTLS && !o.AllowPlaintext && !loopback(u.Hostname()):
			v.bad("url", "%q would send passwords unencrypted: use ldaps://, set start_tls = true, "+
				"or allow_plaintext = true on a network you trust", raw)
		case u.Scheme != "ldap" && u.Scheme != "ldaps":
			v.bad("url", "%q: the scheme must be ldap or ldaps", raw)
		case u.Path != "" && u.Path != "/" || u.RawQuery != "":
			v.bad("url", "%q: name the server only (the bases are user_base and group_base)", raw)
		}
	}
}

// loopback reports whether host is this machine, where a password may
// travel without TLS.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (v *optionChecker) account(o Options) {
	switch {
	case o.BindDN != "" && o.BindPasswordFile == "":
		v.bad("bind_password_file", "required with bind_dn: the file holding the service account's password")
	case o.BindDN == "" && o.BindPasswordFile != "":
		v.bad("bind_dn", "required with bind_password_file: the service account's DN")
	}
	if !strings.Contains(o.BindDN, "@") || strings.Contains(o.BindDN, "=") {
		v.dn("bind_dn", o.BindDN)
	}
}

func (v *optionChecker) users(o Options) {
	switch {
	case o.UserDN != "" && o.UserBase != "":
		v.bad("user_dn", "set user_dn (bind with a DN made from the name) or user_base and user_filter (search), not both")
	case o.UserDN != "":
		if strings.Count(o.UserDN, "%s") != 1 {
			v.bad("user_dn", "%q: want one %%s where the user name goes, e.g. uid=%%s,ou=people,dc=example,dc=org", o.UserDN)
		} else {
			v.dn("user_dn", strings.Replace(o.UserDN, "%s", "name", 1))
		}
	case o.UserBase == "":
		v.bad("user_base", "required (or user_dn): where users are searched, e.g. ou=people,dc=example,dc=org")
	default:
		v.dn("user_base", o.UserBase)
		v.filter("user_filter", o.UserFilter, "%s")
	}
	v.attribute("user_name_attribute", o.UserNameAttribute)
}

func (v *optionChecker) groups(o Options) {
	switch {
	case o.GroupFilter != "" && o.GroupBase == "":
		v.bad("group_base", "required with group_filter: where groups are searched")
	case o.GroupFilter == "" && o.GroupBase != "":
		v.bad("group_filter", "required with group_base, e.g. (&(objectClass=groupOfNames)(member=%%s))")
	case o.GroupFilter != "":
		v.dn("group_base", o.GroupBase)
		v.filter("group_filter", o.GroupFilter, "%s", "%u")
		if o.NestedGroups && !strings.Contains(o.GroupFilter, "%s") {
			v.bad("nested_groups", "needs %%s (a member's DN) in group_filter, to find the groups a group is in")
		}
	}
	switch {
	case o.MemberOfAttribute != "" && o.GroupFilter != "":
		v.bad("member_of_attribute", "set member_of_attribute (groups listed in the user's entry) or group_filter (a group search), not both")
	case o.MemberOfAttribute != "":
		v.attribute("member_of_attribute", o.MemberOfAttribute)
	}
	if o.GroupNameAttribute != groupNameDN {
		v.attribute("group_name_attribute", o.GroupNameAttribute)
	}
	for from, to := range o.GroupMap {
		if from == "" || to == "" {
			v.bad("group_map", "%q = %q: neither side may be empty", from, to)
		} else if strings.Contains(from, "=") {
			v.dn("group_map", from)
		}
	}
	if o.UnmappedGroups != "keep" && o.UnmappedGroups != "drop" {
		v.bad("unmapped_groups", "%q is not \"keep\" or \"drop\"", o.UnmappedGroups)
	}
}

func (v *optionChecker) policy(o Options) {
	switch {
	case o.Precedence != "" && o.Precedence != PrecedenceFile && o.Precedence != PrecedenceDirectory:
		v.bad("precedence", "%q is not %q or %q", o.Precedence, PrecedenceFile, PrecedenceDirectory)
	case o.Precedence == PrecedenceDirectory && o.UserDN != "" && o.BindDN == "":
		v.bad("precedence", "\"directory\" needs bind_dn with user_dn: only a search tells a name the directory lacks "+
			"(the files decide those) from a wrong password")
	}
	if o.CacheLifetime < minCacheLifetime || o.CacheLifetime > maxCacheLifetime {
		v.bad("cache_lifetime", "%s is outside %s..%s", o.CacheLifetime, minCacheLifetime, maxCacheLifetime)
	}
	if o.Timeout < minTimeout || o.Timeout > maxTimeout {
		v.bad("timeout", "%s is outside %s..%s", o.Timeout, minTimeout, maxTimeout)
	}
	if o.PoolSize < 1 || o.PoolSize > maxPoolSize {
		v.bad("pool_size", "%d is outside 1..%d", o.PoolSize, maxPoolSize)
	}
}

func (v *optionChecker) dn(key, dn string) {
	if dn == "" {
		return
	}
	if _, err := ldap.ParseDN(dn); err != nil {
		v.bad(key, "%q is not a DN: %v", dn, err)
	}
}

// filter checks that f compiles once each placeholder is filled in, and
// that it has at least one of them.
func (v *optionChecker) filter(key, f string, placeholders ...string) {
	probe, found := f, false
	for _, p := range placeholders {
		found = found || strings.Contains(f, p)
		probe = strings.ReplaceAll(probe, p, "x")
	}
	if !found {
		v.bad(key, "%q has no %s: the filter would match the same entries whoever logs in", f, strings.Join(placeholders, " or "))
		return
	}
	if _, err := ldap.CompileFilter(probe); err != nil {
		v.bad(key, "%q is not an LDAP filter: %v", f, err)
	}
}

// attributeName is an attribute description: a name or an OID.
var attributeName = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)$`)

func (v *optionChecker) attribute(key, name string) {
	if !attributeName.MatchString(name) {
		v.bad(key, "%q is not an attribute name", name)
	}
}

// tag identifies what a directory answers, for the keys of remembered
// answers: any change of the options forgets them.
func (o Options) tag() string {
	b, _ := json.Marshal(o)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
