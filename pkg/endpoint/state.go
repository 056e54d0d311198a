package endpoint

import (
	"slices"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/token"
)

// State is everything a request needs that a reload may change. A State is
// never modified after it is handed to the Handler.
type State struct {
	Rules    *acl.Rules
	Signer   *token.Signer
	Issuer   string
	Services []string
	Lifetime time.Duration
	// Realm names the realm in WWW-Authenticate: Basic realm="...".
	Realm string
	// MaxScopes bounds the resources one request may name.
	MaxScopes int
	// Refresh enables refresh tokens (offline_token=true, the OAuth2 POST).
	Refresh         bool
	RefreshLifetime time.Duration
}

// checkService refuses a service this State does not issue tokens for.
func (s *State) checkService(service string) error {
	if !slices.Contains(s.Services, service) {
		return badRequest("unknown service " + quote(service))
	}
	return nil
}

// authnSource is the part of st that authentication reads: the users, and
// the key and issuer of refresh tokens.
func (s *State) authnSource() authn.Source {
	return authn.Source{Users: s.Rules, Signer: s.Signer, Issuer: s.Issuer,
		Refresh: s.Refresh, RefreshLifetime: s.RefreshLifetime}
}
