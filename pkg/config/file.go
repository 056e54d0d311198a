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
}

type tokenSection struct {
	Issuer      string   `toml:"issuer"`
	Services    []string `toml:"services"`
	Key         string   `toml:"key"`
	Certificate string   `toml:"certificate"`
	Lifetime    duration `toml:"lifetime"`
	KID         string   `toml:"kid"`
	// AllowReadableKey: see Token.AllowReadableKey.
	AllowReadableKey bool `toml:"allow_readable_key"`
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
	Enabled  *bool    `toml:"enabled"`
	Lifetime duration `toml:"lifetime"`
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
	Level  string `toml:"level"`
	Format string `toml:"format"`
	Audit  *bool  `toml:"audit"`
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
