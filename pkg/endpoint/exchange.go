package endpoint

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/regtoken/regtoken/pkg/authn"
)

// RFC 8693 token exchange: a CI job or a script trades the ID token its
// platform gave it for a registry token in one POST, without pretending it
// is a password:
//
//	grant_type=urn:ietf:params:oauth:grant-type:token-exchange
//	subject_token=<ID token>
//	subject_token_type=urn:ietf:params:oauth:token-type:id_token (or :jwt)
//	service=<registry service> (or audience=<service>)
//	scope=repository:team/app:pull,push ...
//
// The answer is the usual one plus issued_token_type and token_type. Errors
// are RFC 6749's: 400 with invalid_request for a malformed exchange, 400
// with invalid_grant for a subject token that is refused.
const (
	grantTokenExchange   = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeIDToken     = "urn:ietf:params:oauth:token-type:id_token"
	tokenTypeJWT         = "urn:ietf:params:oauth:token-type:jwt"
	tokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
)

// The audit line's grant_type for machines that did not exchange.
const (
	auditIDToken = "id_token"
	auditRobot   = "robot"
)

// parseExchange reads a token exchange form. client_id is optional here:
// RFC 8693 needs no client authentication, and the subject token is the
// credential.
func parseExchange(r *http.Request, st *State, form url.Values) (tokenRequest, error) {
	req := tokenRequest{grantType: grantTokenExchange, exchange: true}
	if err := checkExchange(st, form); err != nil {
		return req, err
	}
	service := form.Get("service")
	if service == "" {
		service = form.Get("audience")
	}
	parsed, err := parseTokenRequest(st, service, form["scope"])
	if err != nil {
		return req, err
	}
	req.service, req.scopes = parsed.service, parsed.scopes
	req.credentials = authn.Credentials{Method: authn.IDToken, Secret: form.Get("subject_token"),
		Client: r.RemoteAddr, Service: service}
	return req, nil
}

// checkExchange refuses what this server does not exchange: no subject
// token, another token type, delegation (actor_token), or a wish for
// anything but an access token.
func checkExchange(st *State, form url.Values) error {
	switch typ := form.Get("subject_token_type"); {
	case st.Issuers == nil:
		return badRequest("token exchange needs an OIDC issuer in the configuration ([[oidc]])")
	case form.Get("subject_token") == "":
		return badRequest("subject_token is required for token exchange")
	case typ != tokenTypeIDToken && typ != tokenTypeJWT:
		return badRequest("subject_token_type must be " + tokenTypeIDToken + " or " + tokenTypeJWT)
	case form.Get("actor_token") != "":
		return badRequest("actor_token (delegation) is not supported")
	}
	switch want := form.Get("requested_token_type"); want {
	case "", tokenTypeAccessToken, tokenTypeJWT:
		return nil
	}
	return badRequest("requested_token_type must be " + tokenTypeAccessToken)
}

// exchangeRefusal answers a refused subject token as RFC 6749 says: 400
// invalid_grant. Throttled and unavailable stay 429 and 503: they say when
// to come back.
func exchangeRefusal(err error) error {
	var refused *authn.Error
	if !errors.As(err, &refused) || refused.Reason == authn.Throttled || refused.Reason == authn.Unavailable {
		return err
	}
	return &Error{Status: http.StatusBadRequest, Code: "UNAUTHORIZED", Message: refused.Message, OAuth: "invalid_grant"}
}
