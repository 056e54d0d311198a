// Package robot holds robot accounts: named credentials for machines that
// cannot present an ID token of their own, each with rules that are its
// whole ceiling, an optional expiry, and a random secret of which only a
// hash is kept.
//
// The robots live in their own JSON file (robots.json), which
// `regtoken robot` writes and `regtoken serve` reads and reloads like the
// rule files:
//
//	{"robots": {"ci-pusher": {
//	    "secret_hash": "sha256$<salt>$<digest>",
//	    "repositories": {"team/app/**": ["pull", "push"]},
//	    "catalog": false,
//	    "description": "GitLab runner of team/app",
//	    "created": "2026-12-04T17:00:00Z",
//	    "expires": "2027-03-04T17:00:00Z"}}}
//
// A secret is 238 random bits, so the hash need not be slow: a salted
// SHA-256 costs well under a microsecond, where bcrypt would cost a quarter
// of a second per login for no gain (nobody can guess 238 bits, slowly or
// fast). A robot login therefore costs what a cached password costs.
//
// What this package must not do: decide access (package acl decides the
// grants made here), log, or keep a secret: it sees one only to hash it.
package robot

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
)

// Robot is one robot account.
type Robot struct {
	Name string
	// Rules are the robot's keys, as in users.json: pattern to actions,
	// an empty list a deny. They are all it ever gets.
	Rules       map[string][]string
	Catalog     bool
	Description string
	Created     time.Time
	Expires     time.Time // zero: never
	SecretHash  string    // hashFormat

	salt, digest []byte // SecretHash decoded
}

// Expired reports whether the robot is past its expiry at now.
func (r *Robot) Expired(now time.Time) bool { return !r.Expires.IsZero() && !now.Before(r.Expires) }

// Grants are the robot's rules as acl sees them; file names the robots
// file in their references.
func (r *Robot) Grants(file string) []acl.Grant {
	owner := "robot " + r.Name
	grants := make([]acl.Grant, 0, len(r.Rules)+1)
	for _, pattern := range slices.Sorted(maps.Keys(r.Rules)) {
		grants = append(grants, acl.Grant{Pattern: pattern, Actions: r.Rules[pattern],
			Ref: acl.RuleRef{File: file, Owner: owner, Key: pattern}})
	}
	if r.Catalog {
		grants = append(grants, acl.Grant{Catalog: true, Ref: acl.RuleRef{File: file, Owner: owner, Key: "catalog"}})
	}
	return grants
}

// Set is a loaded robots file. It is immutable and safe for concurrent use.
type Set struct {
	file   string
	robots map[string]*Robot
	grants map[string][]acl.Grant // by name, made once at load
}

// Errors of Verify.
var (
	// ErrWrongSecret: the secret is not the robot's.
	ErrWrongSecret = errors.New("robot: wrong secret")
	// ErrNoRobot: no robot has that name.
	ErrNoRobot = errors.New("robot: no such robot")
)

// ExpiredError refuses the right secret of a robot past its expiry.
type ExpiredError struct {
	Name string
	At   time.Time
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("robot %s expired at %s; an administrator can renew it with regtoken robot rotate %s -expires ...",
		e.Name, e.At.UTC().Format(time.RFC3339), e.Name)
}

// File is the name the set was loaded from.
func (s *Set) File() string { return s.file }

// Has reports whether a robot is called name.
func (s *Set) Has(name string) bool {
	if s == nil {
		return false
	}
	_, ok := s.robots[name]
	return ok
}

// Robots returns every robot, by name.
func (s *Set) Robots() []Robot {
	out := make([]Robot, 0, len(s.robots))
	for _, name := range slices.Sorted(maps.Keys(s.robots)) {
		out = append(out, *s.robots[name])
	}
	return out
}

// Verify returns the named robot's grants when secret is its secret and it
// has not expired at now. The secret is checked first, so only its holder
// learns that a robot expired.
func (s *Set) Verify(name, secret string, now time.Time) ([]acl.Grant, error) {
	r, ok := s.robots[name]
	if !ok {
		return nil, ErrNoRobot
	}
	if !r.matches(secret) {
		return nil, ErrWrongSecret
	}
	if r.Expired(now) {
		return nil, &ExpiredError{Name: name, At: r.Expires}
	}
	return s.grants[name], nil
}

// matches hashes secret with the robot's salt and compares in constant
// time. It does not allocate: it runs on every robot login.
func (r *Robot) matches(secret string) bool {
	var buf [saltBytes + maxSecretBytes]byte
	if len(secret) > maxSecretBytes || len(r.salt) != saltBytes {
		return false
	}
	n := copy(buf[:], r.salt)
	n += copy(buf[n:], secret)
	sum := sha256.Sum256(buf[:n])
	return subtle.ConstantTimeCompare(sum[:], r.digest) == 1
}

// Load reads a robots file. A file that does not exist is an empty set:
// the first `regtoken robot create` makes it.
func Load(path string) (*Set, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &Set{file: path, robots: map[string]*Robot{}, grants: map[string][]acl.Grant{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("robot: %w", err)
	}
	return Parse(data, path)
}

// Parse checks a robots file's content; file names it in errors.
func Parse(data []byte, file string) (*Set, error) {
	robots, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	s := &Set{file: file, robots: map[string]*Robot{}, grants: map[string][]acl.Grant{}}
	for i := range robots {
		r := &robots[i]
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("%s: robot %q: %w", file, r.Name, err)
		}
		s.robots[r.Name] = r
		s.grants[r.Name] = r.Grants(file)
	}
	return s, nil
}

// check validates a robot as read, and decodes its hash.
func (r *Robot) check() error {
	if err := CheckName(r.Name); err != nil {
		return err
	}
	salt, digest, err := parseHash(r.SecretHash)
	if err != nil {
		return err
	}
	r.salt, r.digest = salt, digest
	if !r.Expires.IsZero() && !r.Created.IsZero() && !r.Expires.After(r.Created) {
		return errors.New("expires before it was created")
	}
	for _, pattern := range slices.Sorted(maps.Keys(r.Rules)) {
		if err := CheckRule(pattern, r.Rules[pattern]); err != nil {
			return err
		}
	}
	return nil
}

// CheckName accepts robot names: lower-case letters and digits joined by
// '.', '_' or '-', up to 64 bytes, so that a name reads the same in a
// docker login, a token subject and a metric label.
func CheckName(name string) error {
	ok := name != "" && len(name) <= 64
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
		sep := c == '.' || c == '_' || c == '-'
		ok = alnum || sep && i > 0 && i < len(name)-1
	}
	if !ok {
		return fmt.Errorf("robot: name %q: want lower-case letters and digits, joined by '.', '_' or '-' (at most 64)", name)
	}
	return nil
}

// CheckRule accepts a robot's key as users.json would, without ${user}: a
// robot's rules name the repositories themselves.
func CheckRule(pattern string, actions []string) error {
	if strings.Contains(pattern, "${") {
		return fmt.Errorf("robot: %q: a robot's patterns take no variables", pattern)
	}
	if err := acl.CheckGrant(acl.Grant{Pattern: pattern, Actions: actions}); err != nil {
		return fmt.Errorf("robot: %w", err)
	}
	return nil
}

// Secrets and their hashes.
const (
	// SecretPrefix starts every secret, so that secret scanners (and
	// people) recognise one: regtoken_ and 46 letters and digits, the
	// last six a checksum of the rest.
	SecretPrefix   = "regtoken_"
	saltBytes      = 16
	maxSecretBytes = 128
	hashScheme     = "sha256"
)

// HashSecret returns the SecretHash of secret, with a fresh salt:
// "sha256$" + base64 salt + "$" + base64 SHA-256(salt || secret).
func HashSecret(secret string) string {
	salt := randomBytes(saltBytes)
	sum := sha256.Sum256(append(slices.Clone(salt), secret...))
	enc := base64.RawStdEncoding
	return hashScheme + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(sum[:])
}

func parseHash(h string) (salt, digest []byte, err error) {
	parts := strings.Split(h, "$")
	if len(parts) != 3 || parts[0] != hashScheme {
		return nil, nil, errors.New(`secret_hash: want "sha256$SALT$DIGEST" as regtoken robot writes it`)
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[1])
	digest, err2 := enc.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(salt) != saltBytes || len(digest) != sha256.Size {
		return nil, nil, errors.New("secret_hash: damaged salt or digest")
	}
	return salt, digest, nil
}
