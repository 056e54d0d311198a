package oidc

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
)

// Defaults, used for zero fields of an Issuer.
const (
	// DefaultClockSkew is how far the issuer's clock and ours may disagree
	// on exp, nbf and iat. Registries allow the same for our tokens.
	DefaultClockSkew = time.Minute
	// DefaultRefresh is how often an issuer's keys are fetched again when
	// nothing asks sooner. Issuers publish a new key well before they sign
	// with it, so an hourly look keeps up with planned rotations.
	DefaultRefresh = time.Hour
	// maxClockSkew bounds ClockSkew: more would keep expired tokens alive.
	maxClockSkew = 5 * time.Minute
	// minRefresh bounds Refresh from below, to stay a polite client.
	minRefresh = time.Minute
)

// DefaultAlgorithms are the signature algorithms accepted when an issuer
// names none: every asymmetric JWS algorithm. GitHub, GitLab and
// Kubernetes sign with RS256.
var DefaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// ErrInvalid is wrapped by every error Validate returns.
var ErrInvalid = errors.New("oidc: invalid issuer")

// Issuer is one [[oidc]] table: a platform whose ID tokens may log in.
type Issuer struct {
	// Name names the issuer in token subjects ("github:repo:acme/app:…"),
	// rule references and logs.
	Name string
	// URL is the issuer identifier: tokens must carry it as "iss", and
	// discovery reads URL/.well-known/openid-configuration.
	URL string
	// Audiences are the "aud" values accepted; a token must carry one.
	Audiences []string
	// JWKSURL, when set, is where the keys are, instead of discovery.
	JWKSURL string
	// JWKSFile, when set, names a file holding the keys (a cluster whose
	// issuer regtoken cannot reach); JWKS is its content, read by the
	// daemon.
	JWKSFile string
	JWKS     []byte
	// CAFile names PEM certificates to trust for the issuer's HTTPS
	// instead of the system's (a cluster's own CA); CA is its content.
	CAFile string
	CA     []byte
	// Algorithms are the accepted signature algorithms; empty:
	// DefaultAlgorithms.
	Algorithms []string
	// ClockSkew is the allowance on exp, nbf and iat; 0: DefaultClockSkew.
	ClockSkew time.Duration
	// Refresh is how often keys are fetched again; 0: DefaultRefresh.
	Refresh time.Duration
	// Rules turn a token's claims into grants; a token no rule matches
	// is refused.
	Rules []Rule
}

// Rule grants repositories to the tokens whose claims match.
type Rule struct {
	// Claims map a claim path ("repository_owner", "kubernetes.io.namespace")
	// to the values accepted, any one of them; "*" in a value matches any
	// run of characters. Every listed claim must match.
	Claims map[string][]string
	// Repositories map a pattern, in which ${claim} is replaced by the
	// claim's value, to the actions granted ([]: deny), as in users.json.
	Repositories map[string][]string
	// Groups are groups of the groups file the caller joins.
	Groups []string
	// Catalog grants listing the catalog.
	Catalog bool
}

// WithDefaults returns i with every zero field set to its default.
func (i Issuer) WithDefaults() Issuer {
	if len(i.Algorithms) == 0 {
		i.Algorithms = DefaultAlgorithms
	}
	if i.ClockSkew == 0 {
		i.ClockSkew = DefaultClockSkew
	}
	if i.Refresh == 0 {
		i.Refresh = DefaultRefresh
	}
	return i
}

// Validate reports every mistake in i, one error each, naming the field as
// the configuration file does.
func (i Issuer) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	if !validName(i.Name) {
		bad("name %q: want lower-case letters, digits, '-' or '_' (it prefixes token subjects)", i.Name)
	}
	if err := checkURL(i.URL); err != nil {
		bad("issuer: %v", err)
	}
	if len(i.Audiences) == 0 || slices.Contains(i.Audiences, "") {
		bad("audiences: name the audience(s) tokens for this registry carry (no empty one)")
	}
	if i.JWKSURL != "" && i.JWKSFile != "" {
		bad("jwks_url and jwks_file: set one of them, not both")
	}
	if i.JWKSURL != "" {
		if err := checkURL(i.JWKSURL); err != nil {
			bad("jwks_url: %v", err)
		}
	}
	for _, a := range i.Algorithms {
		if !slices.Contains(DefaultAlgorithms, a) {
			bad("algorithms: %q is not an asymmetric JWS algorithm (%s)", a, strings.Join(DefaultAlgorithms, ", "))
		}
	}
	if i.ClockSkew < 0 || i.ClockSkew > maxClockSkew {
		bad("clock_skew %s: want 0s to %s", i.ClockSkew, maxClockSkew)
	}
	if i.Refresh != 0 && i.Refresh < minRefresh {
		bad("refresh %s: want at least %s", i.Refresh, minRefresh)
	}
	if len(i.Rules) == 0 {
		bad("no rules: without [[oidc.rules]] no token of this issuer can log in")
	}
	for n, r := range i.Rules {
		for _, err := range r.validate() {
			bad("rules[%d]: %v", n, err)
		}
	}
	return errors.Join(errs...)
}

func (r Rule) validate() []error {
	var errs []error
	if len(r.Claims) == 0 {
		// Every token the issuer signs would match: for a public CI
		// service, every job of every customer.
		errs = append(errs, errors.New("claims: name at least one claim to match (a rule without claims matches every token the issuer signs, anyone's)"))
	}
	for path, values := range r.Claims {
		if path == "" || len(values) == 0 || slices.Contains(values, "") {
			errs = append(errs, fmt.Errorf("claims: %q: want a non-empty value or list of values", path))
		}
	}
	if len(r.Repositories) == 0 && len(r.Groups) == 0 && !r.Catalog {
		errs = append(errs, errors.New("grants nothing: set repositories, groups or catalog"))
	}
	for _, pattern := range slices.Sorted(maps.Keys(r.Repositories)) {
		if err := checkTemplate(pattern, r.Repositories[pattern]); err != nil {
			errs = append(errs, fmt.Errorf("repositories: %w", err))
		}
	}
	return errs
}

// checkTemplate checks a pattern with ${claim} variables and its actions:
// the variables must be well-formed, and the pattern, with every variable
// standing for a plain name, must be a key acl accepts.
func checkTemplate(pattern string, actions []string) error {
	t, err := parseTemplate(pattern)
	if err != nil {
		return err
	}
	probe := t.fill(func(variable) string { return "a" })
	return acl.CheckGrant(acl.Grant{Pattern: probe, Actions: actions})
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkURL accepts https URLs, and plain http only to a loopback address
// (a local test issuer): keys fetched over plain HTTP from elsewhere could
// be anyone's.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return errors.New("required")
	case err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q is not an absolute URL without query or fragment", raw)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%q: want https (plain http only to a loopback address)", raw)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
