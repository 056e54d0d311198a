package endpoint

import (
	"net/http"
	"strings"

	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/token"
)

// tokenRequest is what a client asked for, whatever the method.
type tokenRequest struct {
	// grantType is the OAuth2 grant_type of a POST ("unsupported" for one
	// not served); empty for GET.
	grantType   string
	service     string
	scopes      []token.Scope
	credentials authn.Credentials
	offline     bool // also wants a refresh token
	login       bool // offline_token=true on GET: must carry credentials
	exchange    bool // an RFC 8693 token exchange: its errors and answer differ
}

var errMethod = &Error{Status: http.StatusMethodNotAllowed, Code: "UNSUPPORTED", Message: "use GET or POST"}

// parseRequest reads r in the form of its method. When it fails, the
// request it returns holds what was read before the failure, for the audit
// line.
func parseRequest(w http.ResponseWriter, r *http.Request, st *State) (tokenRequest, error) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return parseGet(r, st)
	case http.MethodPost:
		return parsePost(w, r, st)
	}
	w.Header().Set("Allow", "GET, HEAD, POST")
	return tokenRequest{}, errMethod
}

// parseGet reads GET <realm>?service=..&scope=..[&account=..][&offline_token=true]
// with Basic auth or none. offline_token=true (what docker login sends) also
// asks for a refresh token, and is ignored when refresh tokens are off;
// without credentials it is refused, whatever the setting. The account
// parameter is only a hint and is ignored: the identity comes from
// Authorization.
func parseGet(r *http.Request, st *State) (tokenRequest, error) {
	q := r.URL.Query()
	req, err := parseTokenRequest(st, q.Get("service"), q["scope"])
	if err != nil {
		return tokenRequest{}, err
	}
	req.login = q.Get("offline_token") == "true"
	req.offline = st.Refresh && req.login
	req.credentials = authn.BasicCredentials(r, req.service)
	return req, nil
}

// parseTokenRequest checks the service and parses every scope value.
func parseTokenRequest(st *State, service string, scopeValues []string) (tokenRequest, error) {
	if service == "" {
		return tokenRequest{}, badRequest("the service parameter is required")
	}
	if err := st.checkService(service); err != nil {
		return tokenRequest{}, err
	}
	scopes, err := token.ParseScopes(scopeValues)
	if err != nil {
		return tokenRequest{}, badRequest("invalid scope: " + err.Error())
	}
	if st.MaxScopes > 0 && len(scopes) > st.MaxScopes {
		return tokenRequest{}, badRequest("too many scopes in one request")
	}
	return tokenRequest{service: service, scopes: scopes}, nil
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}
