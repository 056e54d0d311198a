package endpoint

import (
	"mime"
	"net/http"
	"net/url"
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
		Message: "grant_type must be password or refresh_token", OAuth: "unsupported_grant_type"}
)

// servePost answers the OAuth2 POST form: grant_type=password (username,
// password) or grant_type=refresh_token (refresh_token), with service,
// client_id, scope (one space-separated field or several fields) and
// access_type=offline to get a refresh token along.
//
// With refresh tokens off it answers a JSON 404: the one answer after which
// containerd, BuildKit and crane fall back to GET (403 or 405 breaks them).
// Errors are never 403 or 405 either, for the same reason.
func (h *Handler) servePost(w http.ResponseWriter, r *http.Request, st *State, rec *record) error {
	if !st.Refresh {
		return errOAuthDisabled
	}
	form, err := readForm(w, r)
	if err != nil {
		return err
	}
	grantType := form.Get("grant_type")
	switch grantType {
	case grantPassword, grantRefreshToken:
		rec.grantType = grantType
	case "":
		return badRequest("grant_type is required")
	default:
		rec.grantType = "unsupported"
		return errUnsupportedGrant
	}
	if form.Get("client_id") == "" {
		return badRequest("client_id is required")
	}
	req, err := parseTokenRequest(st, form.Get("service"), form["scope"])
	if err != nil {
		return err
	}
	req.offline = form.Get("access_type") == "offline"
	rec.service, rec.scopes = req.service, req.scopes
	var c caller
	if grantType == grantPassword {
		c, err = h.passwordGrant(r, st, form, rec)
	} else {
		c, err = h.refreshGrant(st, form, req.service, rec)
	}
	if err != nil {
		return err
	}
	return h.issue(w, st, rec, c, req)
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

// passwordGrant checks username and password, exactly as Basic auth on GET.
func (h *Handler) passwordGrant(r *http.Request, st *State, form url.Values, rec *record) (caller, error) {
	user, password := form.Get("username"), form.Get("password")
	if user == "" || password == "" {
		return caller{}, badRequest("username and password are required for grant_type=password")
	}
	rec.user = user
	return h.checkPassword(r.Context(), st, user, password, r.RemoteAddr)
}

// refreshGrant authenticates by the refresh_token field; no bcrypt runs.
func (h *Handler) refreshGrant(st *State, form url.Values, service string, rec *record) (caller, error) {
	jwt := form.Get("refresh_token")
	if jwt == "" {
		return caller{}, badRequest("refresh_token is required for grant_type=refresh_token")
	}
	return h.refreshCaller(st, jwt, service, rec)
}
