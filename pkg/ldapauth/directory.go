package ldapauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/regtoken/regtoken/pkg/authn"
)

// Directory checks passwords against an LDAP directory and reads the
// groups of the users it knows. It is safe for concurrent use.
type Directory struct {
	opts         Options
	bindPassword string
	roots        *x509.CertPool // nil: the system's
	groupMap     map[string]string
	service      *pool // searches, bound as the service account
	binds        *pool // binds as users, and nothing else
	stats        *Stats
	log          *slog.Logger
	health       health
	lastFailover atomic.Int64 // unix nanoseconds of the last failover warning
	// dummyDN is an entry nobody has: an unknown user's login binds to it,
	// so it costs a bind as a known user's does.
	dummyDN       string
	dummyPassword string
	identity      string // options and secrets, to tell whether a reload changed them
}

// Env is what a Directory needs besides its Options: what the files named
// by the options hold (the caller reads them), and where it reports.
type Env struct {
	BindPassword string
	CA           []byte       // PEM certificates to trust; nil: the system's roots
	Stats        *Stats       // nil: a Directory of its own
	Log          *slog.Logger // connection trouble, never a password; nil: none
}

// Stats count what Directories did, for metrics. One Stats may outlive
// the Directories a reload replaces.
type Stats struct {
	Logins       atomic.Uint64 // passwords the directory verified
	Refused      atomic.Uint64 // wrong passwords and unknown users
	Unavailable  atomic.Uint64 // checks the directory could not answer (503)
	DialFailures atomic.Uint64 // connections to a server that failed
}

// unavailableError is a check the directory could not answer: it was
// unreachable, busy, or refused the service account.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return "directory unavailable: " + e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

// New returns a Directory for o, which must Validate. It connects to
// nothing until it is used.
func New(o Options, e Env) (*Directory, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.WithDefaults()
	if o.BindDN != "" && e.BindPassword == "" {
		// A bind with an empty password is an anonymous one, which would
		// search with other rights than the operator gave the account.
		return nil, &OptionError{Key: "bind_password_file", Message: fmt.Sprintf("%s is empty", o.BindPasswordFile)}
	}
	d := &Directory{opts: o, bindPassword: e.BindPassword, stats: e.Stats, log: e.Log}
	if d.stats == nil {
		d.stats = &Stats{}
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if e.CA != nil {
		d.roots = x509.NewCertPool()
		if !d.roots.AppendCertsFromPEM(e.CA) {
			return nil, &OptionError{Key: "ca_file", Message: fmt.Sprintf("%s holds no PEM certificate", o.CAFile)}
		}
	}
	d.groupMap = normalizeMap(o.GroupMap)
	d.service = newPool(o.PoolSize, o.Timeout, d.dialService)
	d.binds = newPool(o.PoolSize, o.Timeout, d.dial)
	d.dummyDN, d.dummyPassword = dummyEntry(o)
	d.identity = identity(o, e)
	return d, nil
}

// dummyEntry is a DN under the user base that no one has, and a password
// no one knows. Binding to it is refused like a wrong password; the
// password is random so that nothing a client sent goes to it.
func dummyEntry(o Options) (dn, password string) {
	var b [16]byte
	rand.Read(b[:])
	base := o.UserBase
	if o.UserDN != "" {
		base = o.UserDN[strings.Index(o.UserDN, ",")+1:]
	}
	return "cn=regtoken-no-such-user-" + hex.EncodeToString(b[:8]) + "," + base, hex.EncodeToString(b[8:])
}

func identity(o Options, e Env) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", o.tag(), e.BindPassword)
	h.Write(e.CA)
	return hex.EncodeToString(h.Sum(nil))
}

// Same reports whether New(o, e) would make a Directory like d, so that a
// reload that changes neither keeps d and its open connections.
func (d *Directory) Same(o Options, e Env) bool {
	return d.identity == identity(o.WithDefaults(), e)
}

// Authn is d as authentication uses it.
func (d *Directory) Authn() *authn.Directory {
	return &authn.Directory{Source: d, First: d.opts.Precedence == PrecedenceDirectory,
		CacheLifetime: d.opts.CacheLifetime, Tag: d.opts.tag()}
}

// Close closes d's connections, the busy ones when they are done.
func (d *Directory) Close() {
	d.service.close()
	d.binds.close()
}

// CheckPassword implements authn.PasswordSource: it finds user, binds as
// it with password, and returns its groups as the rules name them.
func (d *Directory) CheckPassword(ctx context.Context, user, password string) ([]string, error) {
	u, err := d.login(ctx, user, password)
	switch {
	case err == nil:
		d.stats.Logins.Add(1)
		return u.RuleGroups(), nil
	case errors.Is(err, authn.ErrUnknownUser) || errors.Is(err, authn.ErrWrongPassword):
		d.stats.Refused.Add(1)
	default:
		d.stats.Unavailable.Add(1)
	}
	return nil, err
}

// login checks password and returns the user's entry. An empty password is
// refused before anything is sent: a simple bind with one is an
// unauthenticated bind, which directories accept for any name (RFC 4513
// 5.1.2).
func (d *Directory) login(ctx context.Context, user, password string) (Entry, error) {
	switch {
	case password == "":
		return Entry{}, authn.ErrWrongPassword
	case !plausibleName(user):
		return Entry{}, authn.ErrUnknownUser
	case d.opts.UserDN != "":
		return d.loginByDN(ctx, user, password)
	}
	u, err := d.find(ctx, user)
	if errors.Is(err, authn.ErrUnknownUser) {
		d.bindDummy(ctx)
		return Entry{}, err
	}
	if err != nil {
		return Entry{}, err
	}
	if err := d.bindAs(ctx, u.DN, password, nil); err != nil {
		return Entry{}, err
	}
	return d.withGroups(ctx, u, user)
}

// loginByDN binds as the DN user_dn makes of user. Without a service
// account, the user's own connection reads the entry and the groups.
func (d *Directory) loginByDN(ctx context.Context, user, password string) (Entry, error) {
	dn := userDN(d.opts.UserDN, user)
	if d.opts.BindDN != "" {
		err := d.bindAs(ctx, dn, password, nil)
		if errors.Is(err, authn.ErrWrongPassword) && d.opts.Precedence == PrecedenceDirectory {
			// The files decide the names the directory does not know,
			// and a refused bind does not tell which this is.
			if _, lookupErr := d.Lookup(ctx, user); errors.Is(lookupErr, authn.ErrUnknownUser) {
				return Entry{}, lookupErr
			}
		}
		if err != nil {
			return Entry{}, err
		}
		return d.Lookup(ctx, user)
	}
	var u Entry
	err := d.bindAs(ctx, dn, password, func(c *ldap.Conn) (err error) {
		u, err = d.readEntry(c, dn, user)
		if errors.Is(err, errNoEntry) {
			// The bind proved the entry exists: the directory does not let
			// its users read their own entries.
			// No refusal then (the password was right) but a directory
			// regtoken cannot use as configured.
			return fmt.Errorf("a user cannot read its own entry after binding; let users read theirs "+
				"(%s, %s) or set bind_dn", d.opts.UserNameAttribute, d.opts.MemberOfAttribute)
		}
		if err == nil {
			u, err = d.resolveGroups(c, u, user)
		}
		return err
	})
	return u, err
}

// bindAs binds as dn with password on a connection of the bind pool, then
// runs then (when not nil) on it, as that user.
func (d *Directory) bindAs(ctx context.Context, dn, password string, then func(*ldap.Conn) error) error {
	var refused error
	err := d.binds.run(ctx, func(c *ldap.Conn) error {
		err := c.Bind(dn, password)
		if err != nil && !transient(err) {
			refused = fmt.Errorf("bind: %w (%w)", authn.ErrWrongPassword, err)
			return nil
		}
		if err != nil || then == nil {
			return err
		}
		return then(c)
	})
	d.observe(err)
	if err != nil && !refusal(err) {
		return unavailable(err)
	}
	if err != nil {
		return err
	}
	return refused
}

// refusal reports whether err is the directory saying no, not failing.
func refusal(err error) bool {
	return errors.Is(err, authn.ErrUnknownUser) || errors.Is(err, authn.ErrWrongPassword)
}

// bindDummy binds as nobody, so that a user the search did not find costs
// what a known user with a wrong password does.
func (d *Directory) bindDummy(ctx context.Context) {
	d.bindAs(ctx, d.dummyDN, d.dummyPassword, nil)
}

// find searches for user with the service account.
func (d *Directory) find(ctx context.Context, user string) (Entry, error) {
	var u Entry
	err := d.service.run(ctx, func(c *ldap.Conn) (err error) {
		u, err = d.search(c, user)
		return err
	})
	d.observe(err)
	if err != nil && !refusal(err) {
		return Entry{}, unavailable(err)
	}
	return u, err
}

// search finds the one entry of user. No entry, several, or one whose
// name attribute is not the name as typed, is an unknown user.
func (d *Directory) search(c *ldap.Conn, user string) (Entry, error) {
	req := ldap.NewSearchRequest(d.opts.UserBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2,
		int(d.opts.Timeout/time.Second), false, userFilter(d.opts.UserFilter, user), d.entryAttributes(), nil)
	res, err := c.Search(req)
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) || err == nil && len(res.Entries) > 1:
		d.log.Warn("ldap: user_filter matches several entries for one name; refused", "user", user)
		return Entry{}, authn.ErrUnknownUser
	case err != nil:
		return Entry{}, fmt.Errorf("user search: %w", err)
	case len(res.Entries) == 0:
		return Entry{}, authn.ErrUnknownUser
	}
	return d.entry(res.Entries[0], user)
}

// errNoEntry means the entry at a DN was not found, or is not readable by
// whoever is bound, which a directory does not tell apart.
var errNoEntry = fmt.Errorf("%w: no entry", authn.ErrUnknownUser)

// readEntry reads the entry at dn, which must be user's.
func (d *Directory) readEntry(c *ldap.Conn, dn, user string) (Entry, error) {
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1,
		int(d.opts.Timeout/time.Second), false, "(objectClass=*)", d.entryAttributes(), nil)
	res, err := c.Search(req)
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) || err == nil && len(res.Entries) != 1:
		return Entry{}, errNoEntry
	case err != nil:
		return Entry{}, fmt.Errorf("reading %s: %w", dn, err)
	}
	return d.entry(res.Entries[0], user)
}

func (d *Directory) entryAttributes() []string {
	attrs := []string{d.opts.UserNameAttribute}
	if d.opts.GroupFilter == "" {
		attrs = append(attrs, d.opts.MemberOfAttribute)
	}
	return attrs
}

// entry turns a search result into an Entry, if its name attribute holds
// the name as typed: directories match names without regard to case, and
// "ALICE" must not become a second name for alice, whose users.json rules
// (a deny, say) would not apply to it.
func (d *Directory) entry(e *ldap.Entry, user string) (Entry, error) {
	for _, name := range e.GetAttributeValues(d.opts.UserNameAttribute) {
		if name == user {
			return Entry{DN: e.DN, memberOf: e.GetAttributeValues(d.opts.MemberOfAttribute)}, nil
		}
	}
	return Entry{}, authn.ErrUnknownUser
}

// withGroups reads u's groups with the service account.
func (d *Directory) withGroups(ctx context.Context, u Entry, user string) (Entry, error) {
	err := d.service.run(ctx, func(c *ldap.Conn) (err error) {
		u, err = d.resolveGroups(c, u, user)
		return err
	})
	d.observe(err)
	if err != nil {
		return Entry{}, unavailable(err)
	}
	return u, nil
}

// Lookup finds user with the service account, no password needed, and
// reads its groups: what explain and check show. It returns an error
// wrapping authn.ErrUnknownUser when the directory has no such user.
func (d *Directory) Lookup(ctx context.Context, user string) (Entry, error) {
	if !plausibleName(user) {
		return Entry{}, authn.ErrUnknownUser
	}
	var u Entry
	err := d.service.run(ctx, func(c *ldap.Conn) (err error) {
		if d.opts.UserDN != "" {
			u, err = d.readEntry(c, userDN(d.opts.UserDN, user), user)
		} else {
			u, err = d.search(c, user)
		}
		if err == nil {
			u, err = d.resolveGroups(c, u, user)
		}
		return err
	})
	d.observe(err)
	if err != nil && !refusal(err) {
		return Entry{}, unavailable(err)
	}
	return u, err
}

// Probe connects with the service account and reads the root DSE: whether
// the directory can serve logins now. The result shows in Health.
func (d *Directory) Probe(ctx context.Context) error {
	err := d.service.run(ctx, func(c *ldap.Conn) error {
		req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1,
			int(d.opts.Timeout/time.Second), false, "(objectClass=*)", []string{"1.1"}, nil)
		_, err := c.Search(req)
		return err
	})
	d.observe(err)
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// transient reports whether err says the directory could not answer, as
// opposed to answering no.
func transient(err error) bool {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return true // dialing, TLS, a context that ended
	}
	switch le.ResultCode {
	case ldap.ErrorNetwork, ldap.ErrorUnexpectedMessage, ldap.ErrorUnexpectedResponse,
		ldap.LDAPResultBusy, ldap.LDAPResultUnavailable, ldap.LDAPResultServerDown,
		ldap.LDAPResultTimeout, ldap.LDAPResultTimeLimitExceeded, ldap.LDAPResultAdminLimitExceeded,
		ldap.LDAPResultConnectError, ldap.LDAPResultOther, ldap.LDAPResultLocalError:
		return true
	}
	return false
}

// unavailable marks err as the directory's failure to answer, unless it
// already is, or is a context's end, which is the caller's.
func unavailable(err error) error {
	var u *unavailableError
	if errors.As(err, &u) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &unavailableError{err}
}

// noteFailover warns, at most once a minute, that the first server did not
// answer and a later one did.
func (d *Directory) noteFailover(used string, err error) {
	now := time.Now().UnixNano()
	last := d.lastFailover.Load()
	if now-last < int64(time.Minute) || !d.lastFailover.CompareAndSwap(last, now) {
		return
	}
	d.log.Warn("ldap: a server did not answer; using a later one in ldap.url", "using", used, "err", err)
}
