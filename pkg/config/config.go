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
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is a validated configuration. Paths are absolute.
type Config struct {
	File    string
	Token   Token
	ACL     ACL
	Refresh Refresh
	Listen  []Listener
	Limits  Limits
	// Throttle slows down password guessing (see package throttle).
	Throttle Throttle
	Log      Log
	// Operator is the address of the HTTP listener for /metrics and /healthz
	// ("tcp:127.0.0.1:9090" or "unix:PATH"); empty means off.
	Operator string
}

// Token says how access tokens are signed.
type Token struct {
	Issuer      string
	Services    []string
	Key         string
	Certificate string // optional
	Lifetime    time.Duration
	KeyID       string // "libtrust" or "thumbprint": the kid format used without a certificate
	// AllowReadableKey accepts a key file that group or others can read. Only
	// for demos from a git checkout, where file modes other than 0644 are lost.
	AllowReadableKey bool
}

// ACL names the rule files (see package acl).
type ACL struct {
	Users            string
	Repositories     string
	Groups           string
	Htpasswd         string
	AnonymousCatalog bool
}

// Refresh configures the refresh tokens handed out to `docker login`.
type Refresh struct {
	Enabled  bool
	Lifetime time.Duration
}

// Listener is one socket regtoken serves on.
type Listener struct {
	Protocol          string // scgi, uwsgi, fastcgi, http
	Address           string // unix:PATH, tcp:HOST:PORT, systemd:NAME
	Mode              os.FileMode
	Owner             string
	Group             string
	TrustProxyHeaders bool
}

// Limits bound what one request may cost.
type Limits struct {
	MaxScopes         int
	MaxHeaderBytes    int
	MaxBodyBytes      int64
	RequestTimeout    time.Duration
	MaxConnections    int
	ShutdownTimeout   time.Duration
	BcryptConcurrency int
}

// Throttle is the failed-login policy. Zero values take package throttle's
// defaults; a negative threshold turns that kind of key off.
type Throttle struct {
	Enabled          bool
	PairThreshold    int
	AddressThreshold int
	BaseDelay        time.Duration
	MaxDelay         time.Duration
	Decay            time.Duration
	MaxEntries       int
	Tarpit           time.Duration
	TarpitSlots      int
}

// Log configures the process log.
type Log struct {
	Level  string // debug, info, warn, error
	Format string // text or json
	Audit  bool   // one JSON line per token request
}

// Defaults used when the file leaves a key out.
const (
	DefaultLifetime        = 5 * time.Minute
	DefaultRefreshLifetime = 90 * 24 * time.Hour
	DefaultMaxScopes       = 32
	DefaultMaxHeaderBytes  = 64 << 10
	DefaultMaxBodyBytes    = 64 << 10
	DefaultRequestTimeout  = 30 * time.Second
	DefaultMaxConnections  = 1024
	DefaultShutdownTimeout = 25 * time.Second
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
func Parse(path string, data []byte) (*Config, error) {
	var raw file
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, decodeProblem(path, err))
	}
	v := validator{file: path, dir: filepath.Dir(path)}
	for _, key := range md.Undecoded() {
		v.problem(key.String(), "unknown key (misspelt?)")
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
