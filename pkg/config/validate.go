package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/ldapauth"
	"github.com/regtoken/regtoken/pkg/limits"
	"github.com/regtoken/regtoken/pkg/listen"
	"github.com/regtoken/regtoken/pkg/throttle"
	"github.com/regtoken/regtoken/pkg/token"
)

// validator turns the raw file into a Config, recording one problem per mistake.
type validator struct {
	file     string
	dir      string
	lines    keyLines // where each key is, for the messages
	problems Problems
}

func (v *validator) problem(key, format string, args ...any) {
	v.problemAt(v.lines.of(key), key, format, args...)
}

// problemAt records a problem on a known line (0: unknown) as
// "FILE:LINE: KEY: MESSAGE", the form editors jump to.
func (v *validator) problemAt(line int, key, format string, args ...any) {
	where := v.file
	if line > 0 {
		where = fmt.Sprintf("%s:%d", v.file, line)
	}
	v.problems = append(v.problems, fmt.Sprintf("%s: %s: %s", where, key, fmt.Sprintf(format, args...)))
}

// invalid records what a package's own Validate returned, one problem per
// joined error; key, when not empty, says where in the file. The packages'
// messages already start with their package's name.
func (v *validator) invalid(key string, err error) {
	if err == nil {
		return
	}
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	for _, e := range errs {
		if key == "" {
			v.problems = append(v.problems, fmt.Sprintf("%s: %v", v.file, e))
		} else {
			v.problem(key, "%v", e)
		}
	}
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
		ACL:      v.acl(raw),
		Refresh:  v.refresh(raw.Refresh),
		Listen:   v.listeners(raw.Listen),
		Limits:   v.limits(raw.Limits),
		Throttle: v.throttle(raw.Throttle),
		Log:      v.log(raw.Log),
		Operator: v.operator(raw.Operator),
		OIDC:     v.oidc(raw.OIDC),
		Robots:   Robots{File: v.path(raw.Robots.File), LastUsed: v.path(raw.Robots.LastUsed)},
		LDAP:     v.ldap(raw.LDAP),
		Store:    v.store(raw.Store),
	}
	cfg.ACL.DirectoryUsers = cfg.LDAP != nil
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
		KeyID:       t.KID,
		ClockSkew:   token.DefaultClockSkew,

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
	out.Lifetimes = v.lifetimes(t.Lifetime)
	out.Rotation = v.rotation("token", t.Next, t.Previous, t.PromotedAt)
	if t.ClockSkew.set {
		out.ClockSkew = t.ClockSkew.Duration
		v.invalid("token.clock_skew", token.ValidateClockSkew(out.ClockSkew))
	}
	out.ServiceKeys = v.serviceKeys(t)
	switch t.KID {
	case "":
		out.KeyID = "libtrust"
	case "libtrust", "thumbprint", "rfc7638":
	default:
		v.problem("token.kid", "%q is not \"libtrust\" (registry 2.x), \"thumbprint\" (registry 3.x's rootcertbundle) or \"rfc7638\" (regtoken's JWKS)", t.KID)
	}
	return out
}

// serviceKeys checks the [token.service.NAME] tables: each names one of
// token.services and holds a key.
func (v *validator) serviceKeys(t tokenSection) map[string]KeyFiles {
	if len(t.Service) == 0 {
		return nil
	}
	out := make(map[string]KeyFiles, len(t.Service))
	for name, s := range t.Service {
		key := fmt.Sprintf("token.service.%q", name)
		if !slices.Contains(t.Services, name) {
			v.problem(key, "%q is not among token.services %q", name, t.Services)
		}
		if s.Key == "" {
			v.problem(key+".key", "required: the PEM private key that signs this service's tokens")
		}
		out[name] = KeyFiles{Key: v.path(s.Key), Certificate: v.path(s.Certificate), Rotation: v.rotation(key, s.Next, s.Previous, s.PromotedAt)}
	}
	return out
}

func (v *validator) acl(raw *file) acl.Files {
	a := raw.ACL
	directory := raw.LDAP != nil && a.Groups != ""
	if a.Users == "" && a.Htpasswd == "" && a.Repositories == "" && len(raw.OIDC) == 0 && raw.Robots.File == "" && !directory {
		v.problem("acl", "no rules: set acl.users (users.json) and/or acl.repositories (repositories.json), or add [[oidc]] issuers, [robots] or [ldap] with acl.groups")
	}
	out := acl.Files{
		Users:            v.path(a.Users),
		Repositories:     v.path(a.Repositories),
		Groups:           v.path(a.Groups),
		Htpasswd:         v.path(a.Htpasswd),
		AnonymousCatalog: a.AnonymousCatalog,
	}
	if a.MaxShrink != nil {
		if out.MaxShrink = *a.MaxShrink; out.MaxShrink == 0 {
			v.problem("acl.max_shrink", "0 would refuse every reload that removes a user; leave it out for the default (0.5), or 1 for no guard")
		}
	}
	v.invalid("", out.Validate())
	return out
}

func (v *validator) refresh(r refreshSection) Refresh {
	out := Refresh{Enabled: true, Lifetime: DefaultRefreshLifetime, AcceptLegacy: true, Key: v.path(r.Key)}
	if r.Enabled != nil {
		out.Enabled = *r.Enabled
	}
	if r.AcceptLegacy != nil {
		out.AcceptLegacy = *r.AcceptLegacy
	}
	if r.Lifetime.set {
		out.Lifetime = r.Lifetime.Duration
		if out.Lifetime < time.Hour {
			v.problem("refresh.lifetime", "%s is too short for a login token (at least 1h)", out.Lifetime)
		}
	}
	return out
}

func (v *validator) listeners(ls []listenSection) []listen.Spec {
	var out []listen.Spec
	for i, l := range ls {
		out = append(out, v.listener(fmt.Sprintf("listen[%d]", i), l))
	}
	return out
}

// listener turns one [[listen]] table into a listen.Spec, which checks
// itself. What is left here is the file's own business: the mode written as
// an octal string, and unix socket paths relative to the file.
func (v *validator) listener(key string, l listenSection) listen.Spec {
	out := listen.Spec{
		Protocol:          l.Protocol,
		Address:           l.Address,
		Owner:             l.Owner,
		Group:             l.Group,
		TrustProxyHeaders: l.TrustProxyHeaders,
	}.Canonical()
	if kind, path, _ := strings.Cut(l.Address, ":"); kind == "unix" && path != "" {
		out.Address = "unix:" + v.path(path)
	}
	if l.Mode != "" {
		m, err := listen.ParseMode(l.Mode)
		if err != nil {
			v.problem(key+".mode", "%v", err)
		}
		out.Mode = m
	}
	v.invalid(key, out.Validate())
	return out
}

// limits checks the [limits] table with package limits' Validate and fills
// in its defaults.
func (v *validator) limits(l limitsSection) limits.Limits {
	out := limits.Limits{
		Transport: limits.Transport{
			RequestTimeout: l.RequestTimeout.Duration,
			IdleTimeout:    l.IdleTimeout.Duration,
			HeadTimeout:    l.HeadTimeout.Duration,
			MaxHeaderBytes: l.MaxHeaderBytes,
			MaxBodyBytes:   l.MaxBodyBytes,
			MaxConnections: l.MaxConnections,
		},
		MaxScopes:         l.MaxScopes,
		ShutdownTimeout:   l.ShutdownTimeout.Duration,
		BcryptConcurrency: l.BcryptConcurrency,
	}
	// Zero means "the default" to package limits; a timeout written as
	// zero more likely means "none", which regtoken does not offer.
	v.positive("limits.request_timeout", l.RequestTimeout)
	v.positive("limits.idle_timeout", l.IdleTimeout)
	v.positive("limits.head_timeout", l.HeadTimeout)
	v.positive("limits.shutdown_timeout", l.ShutdownTimeout)
	v.invalid("", out.Validate())
	return out.WithDefaults()
}

// throttle checks the [throttle] table with package throttle's Validate;
// the policy's zero fields keep meaning "the default" until throttle.New.
func (v *validator) throttle(t throttleSection) Throttle {
	out := Throttle{
		Enabled: t.Enabled == nil || *t.Enabled,
		Policy: throttle.Policy{
			PairThreshold:    t.PairThreshold,
			AddressThreshold: t.AddressThreshold,
			AddressInFlight:  t.AddressInFlight,
			BaseDelay:        t.BaseDelay.Duration,
			MaxDelay:         t.MaxDelay.Duration,
			Decay:            t.Decay.Duration,
			MaxEntries:       t.MaxEntries,
			Tarpit:           t.Tarpit.Duration,
			TarpitSlots:      t.TarpitSlots,
		},
	}
	v.invalid("", out.Policy.Validate())
	return out
}

func (v *validator) log(l logSection) Log {
	out := Log{Level: l.Level, Format: l.Format, Audit: true, AuditFile: v.path(l.AuditFile)}
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
	if out.AuditFile != "" && !out.Audit {
		v.problem("log.audit_file", "set, but log.audit = false turns the audit log off")
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

// ldap checks the [ldap] table with package ldapauth's Validate and fills
// in its defaults; nil when the file has none.
func (v *validator) ldap(l *ldapSection) *ldapauth.Options {
	if l == nil {
		return nil
	}
	o := ldapauth.Options{
		URLs:     l.URL,
		StartTLS: l.StartTLS, CAFile: v.path(l.CAFile), AllowPlaintext: l.AllowPlaintext,
		BindDN: l.BindDN, BindPasswordFile: v.path(l.BindPasswordFile),
		UserBase: l.UserBase, UserFilter: l.UserFilter, UserDN: l.UserDN, UserNameAttribute: l.UserNameAttribute,
		GroupBase: l.GroupBase, GroupFilter: l.GroupFilter, MemberOfAttribute: l.MemberOfAttribute,
		GroupNameAttribute: l.GroupNameAttr, NestedGroups: l.NestedGroups,
		GroupMap: l.GroupMap, UnmappedGroups: l.UnmappedGroups,
		Precedence: l.Precedence, CacheLifetime: l.CacheLifetime.Duration, Timeout: l.Timeout.Duration, PoolSize: l.PoolSize,
	}
	v.positive("ldap.cache_lifetime", l.CacheLifetime)
	v.positive("ldap.timeout", l.Timeout)
	v.invalid("", o.Validate())
	o = o.WithDefaults()
	return &o
}

// positive reports a duration written as zero: zero means "the default" to
// the packages, and a timeout or lifetime written as zero more likely means
// "none", which regtoken does not offer.
func (v *validator) positive(key string, d duration) {
	if d.set && d.Duration == 0 {
		v.problem(key, "must be positive; leave it out for the default")
	}
}
