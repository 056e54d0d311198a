package shared

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/regtoken/regtoken/pkg/limits"
)

// Failure policies: what a password login that needs the store gets while
// the store does not answer.
const (
	// FailOpen checks the password with the replica's own throttle only.
	FailOpen = "fail_open"
	// FailClosed refuses the login (503, retry later). Cached and
	// anonymous requests are served all the same.
	FailClosed = "fail_closed"
)

// ErrInvalidOptions is wrapped by the errors Options.Validate returns.
var ErrInvalidOptions = errors.New("store: invalid options")

// Options are the [store] table of regtoken.toml. Zero values take the
// defaults.
type Options struct {
	// URL is the server: redis://[user@]host:port/DB, rediss:// for TLS,
	// and valkey:// and valkeys:// as their synonyms. A Sentinel set is
	// the sentinels' address with ?master_name=NAME (more sentinels with
	// &addr=host:port); a cluster is ?cluster=true (more nodes with
	// &addr=host:port). Other query parameters are go-redis's own.
	URL string
	// SecretFile holds the secret (at least 32 bytes) that keys every hash
	// the store sees; every replica must have the same. PasswordFile, when
	// set, holds the server's password (AUTH). The caller reads both.
	SecretFile   string
	PasswordFile string
	// Policy is FailOpen (default) or FailClosed.
	Policy string
	// Timeout bounds one round trip; default limits.DefaultStoreTimeout.
	Timeout time.Duration
	// TLS, for rediss:// and valkeys:// only (tls.go). CAFile names PEM
	// certificates to trust for the server's certificate instead of the
	// system's roots; CertFile and KeyFile a client certificate and its key
	// (both or neither), for a server that asks for one; ServerName the
	// name to verify when the URL's host is not in the certificate (an IP
	// address).
	CAFile, CertFile, KeyFile, ServerName string
}

// WithDefaults fills the zero fields.
func (o Options) WithDefaults() Options {
	if o.Policy == "" {
		o.Policy = FailOpen
	}
	if o.Timeout == 0 {
		o.Timeout = limits.DefaultStoreTimeout
	}
	return o
}

// Validate reports what New would refuse: a URL it cannot use, TLS files
// it cannot use (it reads them), a missing secret file, an unknown policy,
// a negative timeout. Errors name the keys as the configuration file does,
// and never repeat a password in the URL.
func (o Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...))
	}
	if _, err := o.universal(""); err != nil {
		bad("%v", err)
	}
	if o.SecretFile == "" {
		bad("secret_file: required: every replica keys the store's entries with the same secret (e.g. head -c 32 /dev/urandom | base64 > FILE)")
	}
	if p := o.Policy; p != "" && p != FailOpen && p != FailClosed {
		bad("policy %q: want %q or %q", p, FailOpen, FailClosed)
	}
	if o.Timeout < 0 {
		bad("timeout %s is negative", o.Timeout)
	}
	return errors.Join(errs...)
}

// universal turns the URL and the TLS options into go-redis options, with
// password (from PasswordFile) and the timeouts set. Its errors start with
// the key at fault.
func (o Options) universal(password string) (*redis.UniversalOptions, error) {
	uo, err := o.fromURL()
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if err := o.secure(uo.TLSConfig); err != nil {
		return nil, err
	}
	if password != "" {
		uo.Password = password
	}
	timeout := o.WithDefaults().Timeout
	uo.DialTimeout, uo.ReadTimeout, uo.WriteTimeout = timeout, timeout, timeout
	uo.MaxRetries = -1 // one try: the policy decides, not a retry loop
	uo.DialerRetries = 1
	uo.ContextTimeoutEnabled = true
	return uo, nil
}

// fromURL reads the URL into go-redis options.
func (o Options) fromURL() (*redis.UniversalOptions, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, errors.New("not a URL") // url's error would repeat a password
	}
	switch u.Scheme {
	case "redis", "rediss":
	case "valkey":
		u.Scheme = "redis"
	case "valkeys":
		u.Scheme = "rediss"
	default:
		return nil, fmt.Errorf("scheme %q: want redis://, rediss://, valkey:// or valkeys://", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("no host: want e.g. redis://127.0.0.1:6379/0")
	}
	q := u.Query()
	cluster := q.Get("cluster") == "true"
	q.Del("cluster")
	u.RawQuery = q.Encode()
	uo, err := parse(u, cluster, q.Get("master_name") != "")
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), u.String(), u.Redacted()))
	}
	return uo, nil
}

// parse reads u with go-redis's parser for its kind (one server, a
// Sentinel set, a cluster).
func parse(u *url.URL, cluster, sentinel bool) (*redis.UniversalOptions, error) {
	switch {
	case sentinel:
		f, err := redis.ParseFailoverURL(u.String())
		if err != nil {
			return nil, err
		}
		return &redis.UniversalOptions{Addrs: f.SentinelAddrs, MasterName: f.MasterName, DB: f.DB,
			Username: f.Username, Password: f.Password, SentinelUsername: f.SentinelUsername,
			SentinelPassword: f.SentinelPassword, TLSConfig: f.TLSConfig}, nil
	case cluster:
		c, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, err
		}
		return &redis.UniversalOptions{Addrs: c.Addrs, Username: c.Username, Password: c.Password,
			TLSConfig: c.TLSConfig, IsClusterMode: true}, nil
	}
	s, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, err
	}
	return &redis.UniversalOptions{Addrs: []string{s.Addr}, DB: s.DB, Username: s.Username,
		Password: s.Password, TLSConfig: s.TLSConfig}, nil
}
