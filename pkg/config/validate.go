package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/throttle"
)

// validator turns the raw file into a Config, recording one problem per mistake.
type validator struct {
	file     string
	dir      string
	problems Problems
}

func (v *validator) problem(key, format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf("%s: %s: %s", v.file, key, fmt.Sprintf(format, args...)))
}

// path resolves p against the configuration file's directory.
func (v *validator) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(v.dir, p)
}

func (v *validator) build(raw *file) *Config {
	cfg := &Config{
		File:     v.file,
		Token:    v.token(raw.Token),
		ACL:      v.acl(raw.ACL),
		Refresh:  v.refresh(raw.Refresh),
		Listen:   v.listeners(raw.Listen),
		Limits:   v.limits(raw.Limits),
		Throttle: v.throttle(raw.Throttle),
		Log:      v.log(raw.Log),
		Operator: v.operator(raw.Operator),
	}
	v.fitTarpit(cfg)
	return cfg
}

// fitTarpit keeps the guesses the tarpit holds from taking every connection a
// listener accepts: an explicit tarpit_slots must stay below
// limits.max_connections, and the default (throttle.DefaultTarpitSlots) is
// lowered to a quarter of a small max_connections.
func (v *validator) fitTarpit(c *Config) {
	slots, conns := c.Throttle.TarpitSlots, c.Limits.MaxConnections
	switch {
	case slots > 0 && conns > 0 && slots >= conns:
		v.problem("throttle.tarpit_slots", "%d would let held guesses take every connection (limits.max_connections = %d); keep it well below",
			slots, conns)
	case slots == 0 && conns > 0 && conns/4 < throttle.DefaultTarpitSlots:
		c.Throttle.TarpitSlots = max(1, conns/4)
	}
}

func (v *validator) token(t tokenSection) Token {
	out := Token{
		Issuer:      t.Issuer,
		Services:    t.Services,
		Key:         v.path(t.Key),
		Certificate: v.path(t.Certificate),
		Lifetime:    DefaultLifetime,
		KeyID:       t.KID,

		AllowReadableKey: t.AllowReadableKey,
	}
	if t.Issuer == "" {
		v.problem("token.issuer", "required: the registry's auth.token.issuer")
	}
	if len(t.Services) == 0 {
		v.problem("token.services", "required: the registry's auth.token.service, e.g. [\"Authentication\"]")
	}
	for _, s := range t.Services {
		if strings.TrimSpace(s) == "" {
			v.problem("token.services", "empty service name")
		}
	}
	if t.Key == "" {
		v.problem("token.key", "required: PEM private key that signs tokens")
	}
	if t.Lifetime.set {
		out.Lifetime = t.Lifetime.Duration
		if out.Lifetime < time.Minute || out.Lifetime > 24*time.Hour {
			v.problem("token.lifetime", "%s is outside 1m..24h (clients treat less than 60s as 60s)", out.Lifetime)
		}
	}
	switch t.KID {
	case "":
		out.KeyID = "libtrust"
	case "libtrust", "thumbprint":
	default:
		v.problem("token.kid", "%q is not \"libtrust\" (registry 2.x) or \"thumbprint\" (registry 3.x)", t.KID)
	}
	return out
}

func (v *validator) acl(a aclSection) ACL {
	if a.Users == "" && a.Htpasswd == "" && a.Repositories == "" {
		v.problem("acl", "no rules: set acl.users (users.json) and/or acl.repositories (repositories.json)")
	}
	return ACL{
		Users:            v.path(a.Users),
		Repositories:     v.path(a.Repositories),
		Groups:           v.path(a.Groups),
		Htpasswd:         v.path(a.Htpasswd),
		AnonymousCatalog: a.AnonymousCatalog,
	}
}

func (v *validator) refresh(r refreshSection) Refresh {
	out := Refresh{Enabled: true, Lifetime: DefaultRefreshLifetime}
	if r.Enabled != nil {
		out.Enabled = *r.Enabled
	}
	if r.Lifetime.set {
		out.Lifetime = r.Lifetime.Duration
		if out.Lifetime < time.Hour {
			v.problem("refresh.lifetime", "%s is too short for a login token (at least 1h)", out.Lifetime)
		}
	}
	return out
}

var protocols = []string{"scgi", "uwsgi", "fastcgi", "http"}

func (v *validator) listeners(ls []listenSection) []Listener {
	var out []Listener
	for i, l := range ls {
		key := fmt.Sprintf("listen[%d]", i)
		out = append(out, v.listener(key, l))
	}
	return out
}

func (v *validator) listener(key string, l listenSection) Listener {
	out := Listener{
		Protocol:          l.Protocol,
		Address:           l.Address,
		Owner:             l.Owner,
		Group:             l.Group,
		TrustProxyHeaders: l.TrustProxyHeaders,
	}
	if out.Protocol == "fcgi" {
		out.Protocol = "fastcgi"
	}
	if !slices.Contains(protocols, out.Protocol) {
		v.problem(key+".protocol", "%q is not one of %s", l.Protocol, strings.Join(protocols, ", "))
	}
	kind, rest, _ := strings.Cut(l.Address, ":")
	switch {
	case rest == "":
		v.problem(key+".address", "%q: want unix:PATH, tcp:HOST:PORT or systemd:NAME", l.Address)
	case kind == "unix":
		out.Address = "unix:" + v.path(rest)
		out.Mode = 0o660 // nginx's workers connect through their group
	case kind == "tcp", kind == "systemd":
	default:
		v.problem(key+".address", "%q: want unix:PATH, tcp:HOST:PORT or systemd:NAME", l.Address)
	}
	if l.Mode != "" {
		m, err := strconv.ParseUint(l.Mode, 8, 32)
		if err != nil || m > 0o777 {
			v.problem(key+".mode", "%q is not an octal file mode like \"0660\"", l.Mode)
		}
		out.Mode = os.FileMode(m)
		if kind != "unix" {
			v.problem(key+".mode", "only unix sockets have a mode")
		}
	}
	return out
}

func (v *validator) limits(l limitsSection) Limits {
	out := Limits{
		MaxScopes:         orDefault(l.MaxScopes, DefaultMaxScopes),
		MaxHeaderBytes:    orDefault(l.MaxHeaderBytes, DefaultMaxHeaderBytes),
		MaxBodyBytes:      orDefault(l.MaxBodyBytes, DefaultMaxBodyBytes),
		RequestTimeout:    DefaultRequestTimeout,
		MaxConnections:    orDefault(l.MaxConnections, DefaultMaxConnections),
		ShutdownTimeout:   DefaultShutdownTimeout,
		BcryptConcurrency: l.BcryptConcurrency,
	}
	if l.RequestTimeout.set {
		out.RequestTimeout = l.RequestTimeout.Duration
	}
	if l.ShutdownTimeout.set {
		out.ShutdownTimeout = l.ShutdownTimeout.Duration
	}
	for key, n := range map[string]int64{
		"limits.max_scopes": int64(l.MaxScopes), "limits.max_header_bytes": int64(l.MaxHeaderBytes),
		"limits.max_body_bytes": l.MaxBodyBytes, "limits.max_connections": int64(l.MaxConnections),
		"limits.bcrypt_concurrency": int64(l.BcryptConcurrency),
	} {
		if n < 0 {
			v.problem(key, "must not be negative")
		}
	}
	if out.MaxHeaderBytes > 1<<20 {
		v.problem("limits.max_header_bytes", "%d is over 1 MiB", out.MaxHeaderBytes)
	}
	if out.RequestTimeout <= 0 || out.ShutdownTimeout <= 0 {
		v.problem("limits", "timeouts must be positive")
	}
	return out
}

func orDefault[T int | int64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func (v *validator) throttle(t throttleSection) Throttle {
	out := Throttle{
		Enabled:          t.Enabled == nil || *t.Enabled,
		PairThreshold:    t.PairThreshold,
		AddressThreshold: t.AddressThreshold,
		BaseDelay:        t.BaseDelay.Duration,
		MaxDelay:         t.MaxDelay.Duration,
		Decay:            t.Decay.Duration,
		MaxEntries:       t.MaxEntries,
		Tarpit:           t.Tarpit.Duration,
		TarpitSlots:      t.TarpitSlots,
	}
	if out.BaseDelay < 0 || out.MaxDelay < 0 || out.Decay < 0 || out.Tarpit < 0 {
		v.problem("throttle", "delays must not be negative")
	}
	if out.MaxDelay > 0 && out.BaseDelay > out.MaxDelay {
		v.problem("throttle.max_delay", "%s is below base_delay %s", out.MaxDelay, out.BaseDelay)
	}
	if out.MaxEntries < 0 {
		v.problem("throttle.max_entries", "must not be negative")
	}
	return out
}

func (v *validator) log(l logSection) Log {
	out := Log{Level: l.Level, Format: l.Format, Audit: true}
	if out.Level == "" {
		out.Level = "info"
	}
	if out.Format == "" {
		out.Format = "text"
	}
	if l.Audit != nil {
		out.Audit = *l.Audit
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, out.Level) {
		v.problem("log.level", "%q is not debug, info, warn or error", l.Level)
	}
	if out.Format != "text" && out.Format != "json" {
		v.problem("log.format", "%q is not text or json", l.Format)
	}
	return out
}

func (v *validator) operator(o operatorSection) string {
	if o.Listen == "" {
		return ""
	}
	kind, rest, _ := strings.Cut(o.Listen, ":")
	switch {
	case kind == "tcp" && rest != "":
		return o.Listen
	case kind == "unix" && rest != "":
		return "unix:" + v.path(rest)
	}
	v.problem("operator.listen", "%q: want tcp:HOST:PORT or unix:PATH", o.Listen)
	return ""
}
