// Package config loads regtoken's TOML configuration file into plain values.
//
// It is the only place that reads the configuration file: everything else receives
// a *Config. Relative paths in the file are resolved against the file's own
// directory. Load collects every problem it finds, so an operator fixes a broken
// file in one pass; each problem names the file, the key and, where the decoder
// knows it, the line. Config does not read the key, certificate or rule files;
// it only records where they are.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/ldapauth"
	"github.com/regtoken/regtoken/pkg/limits"
	"github.com/regtoken/regtoken/pkg/listen"
	"github.com/regtoken/regtoken/pkg/oidc"
	"github.com/regtoken/regtoken/pkg/shared"
	"github.com/regtoken/regtoken/pkg/throttle"
	"github.com/regtoken/regtoken/pkg/token"
)

// Config is a validated configuration. Paths are absolute. Where a package
// has an options type of its own, Config holds that type, checked by that
// package's Validate, so the daemon passes it on as it is.
type Config struct {
	File    string
	Token   Token
	ACL     acl.Files
	Refresh Refresh
	Listen  []listen.Spec
	// Limits have every default filled in.
	Limits limits.Limits
	// Throttle slows down password guessing.
	Throttle Throttle
	Log      Log
	// Operator is the address of the HTTP listener for /metrics and /healthz
	// ("tcp:127.0.0.1:9090" or "unix:PATH"); empty means off.
	Operator string
	// OIDC are the issuers whose ID tokens log in ([[oidc]]), each
	// checked by package oidc. Their JWKS and CA files are only named
	// here; the daemon reads them.
	OIDC []oidc.Issuer
	// Robots says where the robot accounts are.
	Robots Robots
	// LDAP is the directory users may log in from; nil for none. Its
	// defaults are filled in.
	LDAP *ldapauth.Options
	// Store is the Valkey or Redis server replicas share; nil for none.
	// Its defaults are filled in; the daemon reads its secret files.
	Store *shared.Options
}

// Robots names the robots file ([robots]).
type Robots struct {
	File string // robots.json, written by regtoken robot; "" for none
	// LastUsed, when set, is a file regtoken serve keeps the robots' last
	// logins in (once a minute), for regtoken robot list.
	LastUsed string
}

// Token says how access tokens are signed.
type Token struct {
	Issuer      string
	Services    []string
	Key         string
	Certificate string // optional
	// Lifetimes are the tokens' lifetimes by action; Default is that of
	// tokens that grant no action with a lifetime of its own.
	Lifetimes token.Lifetimes
	KeyID     string // "libtrust", "thumbprint" or "rfc7638": the kid format used without a certificate
	// Rotation is the main key's next and previous keys ([token.next],
	// token.previous, token.promoted_at).
	Rotation Rotation
	// ClockSkew backdates nbf and iat (token.NewClaims); default
	// token.DefaultClockSkew.
	ClockSkew time.Duration
	// ServiceKeys are the services signed with a key of their own
	// ([token.service.NAME]); the others are signed with Key.
	ServiceKeys map[string]KeyFiles
	// AllowReadableKey accepts a key file that group or others can read. Only
	// for demos from a git checkout, where file modes other than 0644 are lost.
	AllowReadableKey bool
}

// KeyFiles are a signing key and its optional certificate chain.
type KeyFiles struct {
	Key         string
	Certificate string
	// Rotation is this key's next and previous keys.
	Rotation Rotation
}

// Refresh configures the refresh tokens handed out to `docker login`.
type Refresh struct {
	Enabled  bool
	Lifetime time.Duration
	// AcceptLegacy accepts, until they expire, refresh tokens of earlier
	// versions, which were signed with the access tokens' key (default on).
	AcceptLegacy bool
	// Key, when set, is the PEM private key the refresh tokens' MAC key is
	// derived from, instead of the signing key: it keeps refresh tokens
	// valid when the signing key rotates (regtoken key promote sets it to
	// the key it retires from signing).
	Key string
}

// Throttle is the failed-login policy, applied unless Enabled is false.
// Zero policy fields take package throttle's defaults.
type Throttle struct {
	Enabled bool
	throttle.Policy
}

// Log configures the process log and the audit log.
type Log struct {
	Level  string // debug, info, warn, error
	Format string // text or json, for every line on a stream
	Audit  bool   // one line per token request
	// AuditFile, when set, receives the audit lines instead of standard
	// error (absolute path); SIGHUP and SIGUSR1 reopen it.
	AuditFile string
}

// Defaults used when the file leaves a key out; those of [limits] are
// package limits' own, and those of [throttle] package throttle's.
const (
	DefaultLifetime        = 5 * time.Minute
	DefaultRefreshLifetime = 90 * 24 * time.Hour
)

// Problems is every problem found in one configuration file.
type Problems []string

func (p Problems) Error() string { return strings.Join(p, "\n") }

// ErrInvalid is wrapped by every error Load returns for a file it could read.
var ErrInvalid = errors.New("invalid configuration")

// Load reads and validates the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return Parse(abs, data)
}

// Parse validates configuration text as if it were read from the file at path.
// It checks the document's keys and types first (see shape.go), so a wrong
// type or a misspelt key is reported with its line in TOML's terms.
func Parse(path string, data []byte) (*Config, error) {
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, decodeProblem(path, err))
	}
	lines := scanKeyLines(string(data))
	v := validator{file: path, dir: filepath.Dir(path), lines: lines}
	v.shape("", doc, reflect.TypeFor[file](), lines)
	if len(v.problems) > 0 {
		return nil, fmt.Errorf("%w:\n%w", ErrInvalid, v.problems)
	}
	var raw file
	md, err := toml.Decode(string(data), &raw)
	if err != nil { // shape let through what the decoder refuses: say what it says
		return nil, fmt.Errorf("%w: %s", ErrInvalid, decodeProblem(path, err))
	}
	for _, key := range md.Undecoded() { // what shape missed, if anything
		// Claim conditions are read as any values, whose nested tables
		// (kubernetes.io.namespace = ...) the decoder lists as undecoded.
		if !strings.HasPrefix(key.String(), "oidc.rules.claims.") {
			v.problemAt(lines.of(key.String()), key.String(), "unknown key")
		}
	}
	cfg := v.build(&raw)
	if len(v.problems) > 0 {
		return nil, fmt.Errorf("%w:\n%w", ErrInvalid, v.problems)
	}
	return cfg, nil
}

// decodeProblem turns a TOML decoding error into one line naming file and line.
func decodeProblem(path string, err error) string {
	var perr toml.ParseError
	if errors.As(err, &perr) {
		if perr.LastKey != "" {
			return fmt.Sprintf("%s:%d: %s: %s", path, perr.Position.Line, perr.LastKey, perr.Message)
		}
		return fmt.Sprintf("%s:%d: %s", path, perr.Position.Line, perr.Message)
	}
	return fmt.Sprintf("%s: %v", path, err)
}
