package endpoint

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/throttle"
)

// Error is an error answer. Its JSON body is the distribution errcode form
// {"errors":[{"code":..,"message":..}]} that docker, containerd, crane and
// skopeo all print; OAuth2 requests get the OAuth2 form instead.
type Error struct {
	Status     int
	Code       string // UNAUTHORIZED, DENIED, TOOMANYREQUESTS, ...
	Message    string
	RetryAfter int    // seconds; 0 for none
	OAuth      string // OAuth2 error code (invalid_grant, ...) for POST answers
}

func (e *Error) Error() string { return e.Message }

// errLoginWithoutCredentials answers a login that carries no credentials
// (see Handler.authenticate).
var errLoginWithoutCredentials = &Error{Status: http.StatusUnauthorized, Code: "UNAUTHORIZED", OAuth: "invalid_request",
	Message: "a login needs credentials and none arrived; if the client sent them, the proxy in front of regtoken dropped the Authorization header (Apache: CGIPassAuth On)"}

// authnError answers credentials that authn refused: 401 for wrong or
// expired ones (invalid_grant: the client's stored credentials are no
// good), 429 for a client that must wait after failed logins (the
// TOOMANYREQUESTS code and Retry-After are what docker and containerd show),
// 503 when they could not be checked now.
func authnError(e *authn.Error) *Error {
	switch e.Reason {
	case authn.Throttled:
		return &Error{Status: http.StatusTooManyRequests, Code: "TOOMANYREQUESTS", OAuth: "slow_down",
			Message: e.Message, RetryAfter: throttle.RetryAfter(e.Wait)}
	case authn.Unavailable:
		return &Error{Status: http.StatusServiceUnavailable, Code: "UNAVAILABLE",
			Message: e.Message, RetryAfter: throttle.RetryAfter(e.Wait)}
	}
	return &Error{Status: http.StatusUnauthorized, Code: "UNAUTHORIZED", Message: e.Message, OAuth: "invalid_grant"}
}

func badRequest(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "UNSUPPORTED", Message: msg, OAuth: "invalid_request"}
}

type errorsBody struct {
	Errors []errorEntry `json:"errors"`
	// OAuth2 clients read these two; others ignore them.
	OAuthError       string `json:"error,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail"`
}

func (e *Error) write(w http.ResponseWriter) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	body := errorsBody{Errors: []errorEntry{{Code: e.Code, Message: e.Message}}}
	if e.OAuth != "" {
		body.OAuthError, body.ErrorDescription = e.OAuth, e.Message
	}
	writeJSON(w, e.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"errors":[{"code":"UNKNOWN","message":"internal error","detail":null}]}`)
	}
	writeBody(w, status, append(b, '\n'))
}

// writeBody writes a JSON body, newline included, with its headers.
func writeBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}
