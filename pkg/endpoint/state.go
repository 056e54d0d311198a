package endpoint

import (
	"slices"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/oidc"
	"github.com/regtoken/regtoken/pkg/robot"
	"github.com/regtoken/regtoken/pkg/token"
)

// State is everything a request needs that a reload may change. A State is
// never modified after it is handed to the Handler.
type State struct {
	Rules *acl.Rules
	// Signer signs the tokens of every service without a key of its own
	// in ServiceSigners.
	Signer         *token.Signer
	ServiceSigners map[string]*token.Signer
	// Keys are the published keys (current, next, previous) of Signer,
	// ServiceKeys those of ServiceSigners; the operator listener serves
	// them. The endpoint itself signs with the signers only.
	Keys        *token.KeySet
	ServiceKeys map[string]*token.KeySet
	Issuer      string
	Services    []string
	// Lifetimes are the tokens' lifetimes by the actions they grant.
	Lifetimes token.Lifetimes
	// ClockSkew backdates nbf and iat of every token (token.NewClaims).
	ClockSkew time.Duration
	// Realm names the realm in WWW-Authenticate: Basic realm="...".
	Realm string
	// MaxScopes bounds the resources one request may name.
	MaxScopes int
	// Refresh enables refresh tokens (offline_token=true, the OAuth2 POST).
	Refresh         bool
	RefreshLifetime time.Duration
	// Issuers verify CI and Kubernetes ID tokens; nil: none configured.
	// With issuers, the POST endpoint also serves RFC 8693 token exchange.
	Issuers *oidc.Verifier
	// Robots are the robot accounts; nil: none.
	Robots *robot.Set
	// RefreshMAC signs refresh tokens (derived from Signer's key), and
	// LegacyRefresh accepts those of earlier versions (see package authn).
	RefreshMAC    *token.MACSigner
	LegacyRefresh bool
	// Directory holds users beside the rule files (LDAP); nil for none.
	Directory *authn.Directory
}

// SignerFor returns the signer of service's tokens: its own, else Signer.
func (s *State) SignerFor(service string) *token.Signer {
	if sg, ok := s.ServiceSigners[service]; ok {
		return sg
	}
	return s.Signer
}

// KeysFor returns the key set of service's tokens: its own, else Keys.
func (s *State) KeysFor(service string) *token.KeySet {
	if set, ok := s.ServiceKeys[service]; ok {
		return set
	}
	return s.Keys
}

// checkService refuses a service this State does not issue tokens for.
func (s *State) checkService(service string) error {
	if !slices.Contains(s.Services, service) {
		return badRequest("unknown service " + quote(service))
	}
	return nil
}

// authnSource is the part of st that authentication reads: the users (of
// the files and the directory), and the key and issuer of refresh tokens.
func (s *State) authnSource() authn.Source {
	return authn.Source{Users: s.Rules, Signer: s.Signer, Issuer: s.Issuer,
		Refresh: s.Refresh, RefreshLifetime: s.RefreshLifetime, RefreshMAC: s.RefreshMAC, LegacyRefresh: s.LegacyRefresh,
		Issuers: s.Issuers, Robots: s.Robots, Directory: s.Directory}
}
