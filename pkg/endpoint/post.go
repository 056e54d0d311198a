package endpoint

import (
	"mime"
	"net/http"
	"net/url"

	"github.com/regtoken/regtoken/pkg/authn"
)

// Grant types of the OAuth2 POST (distribution's oauth.md), also the
// grant_type of the audit line.
const (
	grantPassword     = "password"
	grantRefreshToken = "refresh_token"
)

// maxFormBytes bounds a POST body. A form with the longest refresh token
// and many scopes stays far below it; the transports may enforce less.
const maxFormBytes = 64 << 10

var (
	errOAuthDisabled = &Error{Status: http.StatusNotFound, Code: "NOT_FOUND",
		Message: "OAuth2 token requests are not enabled; use GET"}
	errUnsupportedGrant = &Error{Status: http.StatusBadRequest, Code: "UNSUPPORTED",
		Message: "grant_type must be password, refresh_token or " + grantTokenExchange, OAuth: "unsupported_grant_type"}
)

// parsePost reads the OAuth2 POST form: grant_type=password (username,
// password) or grant_type=refresh_token (refresh_token), with service,
// client_id, scope (one space-separated field or several fields) and
// access_type=offline to get a refresh token along.
//
// With refresh tokens off it answers a JSON 404: the one answer after which
// containerd, BuildKit and crane fall back to GET (403 or 405 breaks them).
// OIDC issuers add the token exchange grant (exchange.go), served whatever
// the refresh setting.
// Errors are never 403 or 405 either, for the same reason.
func parsePost(w http.ResponseWriter, r *http.Request, st *State) (tokenRequest, error) {
	if !st.Refresh && st.Issuers == nil {
		return tokenRequest{}, errOAuthDisabled
	}
	form, err := readForm(w, r)
	if err != nil {
		return tokenRequest{}, err
	}
	grantType := form.Get("grant_type")
	switch grantType {
	case grantTokenExchange:
		return parseExchange(r, st, form)
	case grantPassword, grantRefreshToken:
		if !st.Refresh {
			return tokenRequest{}, errOAuthDisabled
		}
	case "":
		return tokenRequest{}, badRequest("grant_type is required")
	default:
		return tokenRequest{grantType: "unsupported"}, errUnsupportedGrant
	}
	if form.Get("client_id") == "" {
		return tokenRequest{grantType: grantType}, badRequest("client_id is required")
	}
	req, err := parseTokenRequest(st, form.Get("service"), form["scope"])
	req.grantType = grantType
	if err != nil {
		return req, err
	}
	req.offline = form.Get("access_type") == "offline"
	req.credentials, err = grantCredentials(form, grantType)
	req.credentials.Client, req.credentials.Service = r.RemoteAddr, req.service
	return req, err
}

// grantCredentials reads the credentials of a password or refresh_token
// grant. The password grant is checked exactly as Basic auth on GET; the
// refresh_token grant runs no bcrypt.
func grantCredentials(form url.Values, grantType string) (authn.Credentials, error) {
	if grantType == grantRefreshToken {
		jwt := form.Get("refresh_token")
		if jwt == "" {
			return authn.Credentials{}, badRequest("refresh_token is required for grant_type=refresh_token")
		}
		return authn.Credentials{Method: authn.RefreshToken, Secret: jwt}, nil
	}
	user, password := form.Get("username"), form.Get("password")
	if user == "" || password == "" {
		return authn.Credentials{}, badRequest("username and password are required for grant_type=password")
	}
	return authn.Credentials{Method: authn.Password, User: user, Secret: password}, nil
}

// readForm parses the URL query and the form body together: containers/image
// copies the realm's query parameters into the body, and other clients may
// leave them in the URL.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, badRequest("the body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, badRequest("malformed form body")
	}
	return r.Form, nil
}
