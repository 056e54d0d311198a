package endpoint

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/token"
)

// tokenRequest is what a client asked for, whatever the method.
type tokenRequest struct {
	service string
	scopes  []token.Scope
	offline bool // also wants a refresh token
}

// serveGet answers GET <realm>?service=..&scope=..[&account=..][&offline_token=true]
// authenticated by Basic auth or anonymous.
func (h *Handler) serveGet(w http.ResponseWriter, r *http.Request, st *State, rec *record) error {
	q := r.URL.Query()
	req, err := parseTokenRequest(st, q.Get("service"), q["scope"])
	if err != nil {
		return err
	}
	req.offline = q.Get("offline_token") == "true"
	rec.service, rec.scopes = req.service, req.scopes
	subject, err := h.authenticateBasic(r.Context(), r, st, rec)
	if err != nil {
		return err
	}
	return h.issue(w, st, rec, subject, req)
}

// parseTokenRequest checks the service and parses every scope value.
func parseTokenRequest(st *State, service string, scopeValues []string) (tokenRequest, error) {
	if service == "" {
		return tokenRequest{}, badRequest("the service parameter is required")
	}
	if !st.acceptsService(service) {
		return tokenRequest{}, badRequest("unknown service " + quote(service))
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

// authenticateBasic returns who sent r: the Basic-auth user when the password
// is right, anonymous without credentials. The account parameter is only a
// hint and is ignored: the identity comes from Authorization.
func (h *Handler) authenticateBasic(ctx context.Context, r *http.Request, st *State, rec *record) (acl.Subject, error) {
	user, password, ok := r.BasicAuth()
	if !ok || (user == "" && password == "") {
		return acl.Subject{Anonymous: true}, nil
	}
	rec.user = user
	if user == "" {
		return acl.Subject{}, errBadCredentials
	}
	return h.checkPassword(ctx, st, user, password)
}

func (h *Handler) checkPassword(ctx context.Context, st *State, user, password string) (acl.Subject, error) {
	var hash []byte
	if u, ok := st.Rules.User(user); ok {
		hash = u.PassHash
	}
	ok, err := h.verifier.Verify(ctx, user, hash, password)
	if err != nil {
		return acl.Subject{}, err
	}
	if !ok {
		return acl.Subject{}, errBadCredentials
	}
	return acl.Subject{Name: user}, nil
}

// grant asks the rules about every requested resource; each gets one access
// entry, possibly with no actions (a partial grant is not an error).
func grant(rules *acl.Rules, subject acl.Subject, scopes []token.Scope, rec *record) []token.ResourceActions {
	access := make([]token.ResourceActions, 0, len(scopes))
	rec.decisions = rec.decisions[:0]
	for _, s := range scopes {
		d := rules.Decide(subject, s.Type, s.Name, s.Actions)
		access = append(access, token.ResourceActions{Type: s.Type, Name: s.Name, Actions: d.Granted})
		rec.decisions = append(rec.decisions, d)
	}
	return access
}

// tokenResponse is the success body. token and access_token carry the same
// JWT because client families read one or the other.
type tokenResponse struct {
	Token        string `json:"token"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	IssuedAt     string `json:"issued_at"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// issue signs a token for subject and writes the 200 answer.
func (h *Handler) issue(w http.ResponseWriter, st *State, rec *record, subject acl.Subject, req tokenRequest) error {
	access := grant(st.Rules, subject, req.scopes, rec)
	now := h.now()
	claims := token.NewClaims(st.Issuer, subject.Name, req.service, access, now, st.Lifetime)
	jwt, err := st.Signer.Sign(claims)
	if err != nil {
		return err
	}
	resp := tokenResponse{
		Token:       jwt,
		AccessToken: jwt,
		ExpiresIn:   int(st.Lifetime / time.Second),
		IssuedAt:    now.UTC().Format(time.RFC3339),
	}
	rec.status = http.StatusOK
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}
