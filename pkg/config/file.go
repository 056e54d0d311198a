package config

import (
	"fmt"
	"time"
)

// file mirrors the TOML layout. Pointers and zero values tell "left out" from "set".
type file struct {
	Token    tokenSection    `toml:"token"`
	ACL      aclSection      `toml:"acl"`
	Refresh  refreshSection  `toml:"refresh"`
	Listen   []listenSection `toml:"listen"`
	Limits   limitsSection   `toml:"limits"`
	Throttle throttleSection `toml:"throttle"`
	Log      logSection      `toml:"log"`
	Operator operatorSection `toml:"operator"`
	OIDC     []oidcSection   `toml:"oidc"`
	Robots   robotsSection   `toml:"robots"`
	LDAP     *ldapSection    `toml:"ldap"`  // nil: no directory
	Store    *storeSection   `toml:"store"` // nil: nothing shared
}

type oidcSection struct {
	Name       string            `toml:"name"`
	Issuer     string            `toml:"issuer"`
	Audience   string            `toml:"audience"`
	Audiences  []string          `toml:"audiences"`
	JWKSURL    string            `toml:"jwks_url"`
	JWKSFile   string            `toml:"jwks_file"`
	CAFile     string            `toml:"ca_file"`
	Algorithms []string          `toml:"algorithms"`
	ClockSkew  duration          `toml:"clock_skew"`
	Refresh    duration          `toml:"refresh"`
	Rules      []oidcRuleSection `toml:"rules"`
}

type oidcRuleSection struct {
	// Claims map a claim path to a value or a list of values. TOML reads
	// a bare dotted key (kubernetes.io.namespace = "ci") as nested tables;
	// both spellings mean the same claim path.
	Claims       map[string]any      `toml:"claims"`
	Repositories map[string][]string `toml:"repositories"`
	Groups       []string            `toml:"groups"`
	Catalog      bool                `toml:"catalog"`
}

type robotsSection struct {
	File     string `toml:"file"`
	LastUsed string `toml:"last_used"`
}

type tokenSection struct {
	Issuer      string          `toml:"issuer"`
	Services    []string        `toml:"services"`
	Key         string          `toml:"key"`
	Certificate string          `toml:"certificate"`
	Lifetime    lifetimeSection `toml:"lifetime"`
	KID         string          `toml:"kid"`
	ClockSkew   duration        `toml:"clock_skew"`
	// Service holds the [token.service.NAME] tables: a key of its own for
	// one service.
	Service map[string]serviceKeySection `toml:"service"`
	// AllowReadableKey: see Token.AllowReadableKey.
	AllowReadableKey bool `toml:"allow_readable_key"`
	// Next, Previous and PromotedAt: see rotationSection.
	Next       *keyPairSection `toml:"next"`
	Previous   []string        `toml:"previous"`
	PromotedAt string          `toml:"promoted_at"`
}

type aclSection struct {
	Users            string `toml:"users"`
	Repositories     string `toml:"repositories"`
	Groups           string `toml:"groups"`
	Htpasswd         string `toml:"htpasswd"`
	AnonymousCatalog bool   `toml:"anonymous_catalog"`
	// MaxShrink: see acl.Files.MaxShrink; a pointer, because 0 written
	// out is a mistake rather than "the default".
	MaxShrink *float64 `toml:"max_shrink"`
}

type refreshSection struct {
	Enabled      *bool    `toml:"enabled"`
	Lifetime     duration `toml:"lifetime"`
	AcceptLegacy *bool    `toml:"accept_legacy"`
	Key          string   `toml:"key"`
}

type serviceKeySection struct {
	Key         string `toml:"key"`
	Certificate string `toml:"certificate"`
	// Next, Previous and PromotedAt: see rotationSection.
	Next       *keyPairSection `toml:"next"`
	Previous   []string        `toml:"previous"`
	PromotedAt string          `toml:"promoted_at"`
}

type listenSection struct {
	Protocol          string `toml:"protocol"`
	Address           string `toml:"address"`
	Mode              string `toml:"mode"`
	Owner             string `toml:"owner"`
	Group             string `toml:"group"`
	TrustProxyHeaders bool   `toml:"trust_proxy_headers"`
}

type limitsSection struct {
	MaxScopes         int      `toml:"max_scopes"`
	MaxHeaderBytes    int      `toml:"max_header_bytes"`
	MaxBodyBytes      int64    `toml:"max_body_bytes"`
	RequestTimeout    duration `toml:"request_timeout"`
	IdleTimeout       duration `toml:"idle_timeout"`
	HeadTimeout       duration `toml:"head_timeout"`
	MaxConnections    int      `toml:"max_connections"`
	ShutdownTimeout   duration `toml:"shutdown_timeout"`
	BcryptConcurrency int      `toml:"bcrypt_concurrency"`
}

type throttleSection struct {
	Enabled          *bool    `toml:"enabled"`
	PairThreshold    int      `toml:"pair_threshold"`
	AddressThreshold int      `toml:"address_threshold"`
	AddressInFlight  int      `toml:"address_in_flight"`
	BaseDelay        duration `toml:"base_delay"`
	MaxDelay         duration `toml:"max_delay"`
	Decay            duration `toml:"decay"`
	MaxEntries       int      `toml:"max_entries"`
	Tarpit           duration `toml:"tarpit"`
	TarpitSlots      int      `toml:"tarpit_slots"`
}

type logSection struct {
	Level     string `toml:"level"`
	Format    string `toml:"format"`
	Audit     *bool  `toml:"audit"`
	AuditFile string `toml:"audit_file"`
}

type ldapSection struct {
	URL               stringList        `toml:"url"`
	StartTLS          bool              `toml:"start_tls"`
	CAFile            string            `toml:"ca_file"`
	AllowPlaintext    bool              `toml:"allow_plaintext"`
	BindDN            string            `toml:"bind_dn"`
	BindPasswordFile  string            `toml:"bind_password_file"`
	UserBase          string            `toml:"user_base"`
	UserFilter        string            `toml:"user_filter"`
	UserDN            string            `toml:"user_dn"`
	UserNameAttribute string            `toml:"user_name_attribute"`
	GroupBase         string            `toml:"group_base"`
	GroupFilter       string            `toml:"group_filter"`
	MemberOfAttribute string            `toml:"member_of_attribute"`
	GroupNameAttr     string            `toml:"group_name_attribute"`
	NestedGroups      bool              `toml:"nested_groups"`
	GroupMap          map[string]string `toml:"group_map"`
	UnmappedGroups    string            `toml:"unmapped_groups"`
	Precedence        string            `toml:"precedence"`
	CacheLifetime     duration          `toml:"cache_lifetime"`
	Timeout           duration          `toml:"timeout"`
	PoolSize          int               `toml:"pool_size"`
}

type operatorSection struct {
	Listen string `toml:"listen"`
}

// duration is a Go duration written as a string ("30m", "90s", "2160h").
type duration struct {
	time.Duration
	set bool
}

func (d *duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("not a duration like \"30m\" or \"90s\": %q", text)
	}
	d.Duration, d.set = v, true
	return nil
}

// stringList is a list of strings that may be written as one string
// (url = "ldaps://ldap.example.org" for a single server).
type stringList []string

func (l *stringList) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		*l = stringList{v}
		return nil
	case []any:
		out := make(stringList, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("want strings, got %v", e)
			}
			out = append(out, s)
		}
		*l = out
		return nil
	}
	return fmt.Errorf("want a string or a list of strings, got %v", v)
}
