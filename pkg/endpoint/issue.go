package endpoint

import (
	"net/http"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/token"
)

// issued is what answering a request did, for the audit line.
type issued struct {
	decisions []acl.Decision // one per requested scope
	reused    bool           // the token was signed earlier for the same grant (reuse.go)
	refresh   authn.Refresh  // the refresh token handed out, if any
}

// issue writes the 200 answer with a token for id (signed now, or reused:
// see reuse.go), and a refresh token when the request asked for one. When it
// fails, what it returns says how far it got.
func (h *Handler) issue(w http.ResponseWriter, st *State, id *authn.Identity, req *tokenRequest) (issued, error) {
	subject := id.Subject()
	access, decisions := grant(st.Rules, subject, req.scopes)
	out := issued{decisions: decisions}
	now := h.now()
	t, reused, err := h.tokenFor(st, subject, req.service, access, now)
	if err != nil {
		return out, err
	}
	out.reused = reused
	resp := tokenResponse{
		Token:       t.jwt,
		AccessToken: t.jwt,
		ExpiresIn:   int(t.expires.Unix() - now.Unix()),
		IssuedAt:    t.issuedAt.UTC().Format(time.RFC3339),
		Scope:       grantedScope(access),
	}
	if req.exchange {
		resp.IssuedTokenType, resp.TokenType = tokenTypeAccessToken, "Bearer"
	}
	if req.offline {
		src := st.authnSource()
		if out.refresh, err = h.authn.RefreshFor(&src, id, req.service); err != nil {
			return out, err
		}
		resp.RefreshToken = out.refresh.Token
	}
	writeAnswer(w, &resp)
	return out, nil
}

// grant asks the rules about every requested resource; each gets one access
// entry, possibly with no actions (a partial grant is not an error).
func grant(rules *acl.Rules, subject acl.Subject, scopes []token.Scope) ([]token.ResourceActions, []acl.Decision) {
	access := make([]token.ResourceActions, 0, len(scopes))
	decisions := make([]acl.Decision, 0, len(scopes))
	for _, s := range scopes {
		d := rules.Decide(subject, s.Type, s.Name, s.Actions)
		access = append(access, token.ResourceActions{Type: s.Type, Name: s.Name, Actions: d.Granted})
		decisions = append(decisions, d)
	}
	return access, decisions
}

// tokenResponse is the success body. token and access_token carry the same
// JWT because client families read one or the other.
type tokenResponse struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	IssuedAt    string `json:"issued_at"`
	Scope       string `json:"scope"` // what the token grants; OAuth2 requires it

	RefreshToken string `json:"refresh_token,omitempty"`
	// An RFC 8693 exchange answers with these too.
	IssuedTokenType string `json:"issued_token_type,omitempty"`
	TokenType       string `json:"token_type,omitempty"`
}

// grantedScope is the OAuth2 "scope" of the answer: the granted part of
// every requested resource, space-separated; resources granted nothing are
// left out.
func grantedScope(access []token.ResourceActions) string {
	var b strings.Builder
	for _, a := range access {
		if len(a.Actions) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(token.Scope{Type: a.Type, Name: a.Name, Actions: a.Actions}.String())
	}
	return b.String()
}
