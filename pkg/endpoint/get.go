package endpoint

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/token"
)

// tokenRequest is what a client asked for, whatever the method.
type tokenRequest struct {
	service string
	scopes  []token.Scope
	offline bool // also wants a refresh token
}

// serveGet answers GET <realm>?service=..&scope=..[&account=..][&offline_token=true]
// authenticated by Basic auth or anonymous. offline_token=true (what docker
// login sends) also asks for a refresh token, and is ignored when refresh
// tokens are off; without credentials it is refused, whatever the setting.
func (h *Handler) serveGet(w http.ResponseWriter, r *http.Request, st *State, rec *record) error {
	q := r.URL.Query()
	req, err := parseTokenRequest(st, q.Get("service"), q["scope"])
	if err != nil {
		return err
	}
	login := q.Get("offline_token") == "true"
	req.offline = st.Refresh && login
	rec.service, rec.scopes = req.service, req.scopes
	c, err := h.authenticateBasic(r.Context(), r, st, req.service, rec)
	if err != nil {
		return err
	}
	if login && c.subject.Anonymous {
		h.warnBareLogin()
		return errLoginWithoutCredentials
	}
	return h.issue(w, st, rec, c, req)
}

// warnBareLogin tells the operator, at most once a minute, that logins
// arrive without credentials: the client sees a 401, but the cause, a proxy
// that drops the Authorization header, is the operator's to fix.
func (h *Handler) warnBareLogin() {
	now := h.now().UnixNano()
	last := h.lastBareLogin.Load()
	if now-last < int64(time.Minute) || !h.lastBareLogin.CompareAndSwap(last, now) {
		return
	}
	h.log.Warn("a login (offline_token=true) arrived without credentials; if clients sent them, " +
		"the proxy in front of regtoken drops the Authorization header (Apache: CGIPassAuth On)")
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

// caller is who a request authenticated as, and how.
type caller struct {
	subject acl.Subject
	user    acl.User // the user's current entry; zero for anonymous callers
	// refresh is the refresh token the caller presented, handed back
	// unchanged when it asks for one again: refresh tokens are never rotated.
	refresh string
}

var anonymous = caller{subject: acl.Subject{Anonymous: true}}

// authenticateBasic returns who sent r: the Basic-auth user when the password
// is right, anonymous without credentials. The account parameter is only a
// hint and is ignored: the identity comes from Authorization.
//
// With refresh tokens on, an empty user name (containerd falling back to GET
// with an identity token) or "<token>" (docker's credential helpers) means
// the password is a refresh token.
func (h *Handler) authenticateBasic(ctx context.Context, r *http.Request, st *State, service string, rec *record) (caller, error) {
	user, password, ok := r.BasicAuth()
	if !ok || (user == "" && password == "") {
		return anonymous, nil
	}
	if st.Refresh && (user == "" || user == identityTokenUser) {
		return h.refreshCaller(st, password, service, rec)
	}
	rec.user, rec.grantType = user, grantPassword
	if user == "" {
		return caller{}, errBadCredentials
	}
	return h.checkPassword(ctx, st, user, password, r.RemoteAddr)
}

// checkPassword verifies user's password from the client at addr. A client
// that failed too often waits first: it gets 429 without any password check,
// so a guesser learns nothing and costs no bcrypt.
func (h *Handler) checkPassword(ctx context.Context, st *State, user, password, addr string) (caller, error) {
	now := h.now()
	if wait := h.throttle.Check(user, addr, now); wait > 0 {
		h.throttle.Hold(ctx, wait)
		return caller{}, tooManyAttempts(wait)
	}
	u, known := st.Rules.User(user)
	var hash []byte
	if known {
		hash = u.PassHash
	}
	res, err := h.verifier.Check(ctx, user, hash, password)
	switch {
	case err != nil:
		return caller{}, err
	case res == authn.WrongAgain:
		// The same wrong password as a moment ago is no new guess: containerd
		// retries every refused POST as a GET at once, and a fleet of jobs
		// with a stale password sends it many times. Counting each would
		// throttle them after a few typos without slowing any guesser.
		return caller{}, errBadCredentials
	case res == authn.Wrong:
		h.throttle.Failure(user, addr, now)
		return caller{}, errBadCredentials
	}
	h.throttle.Success(user, addr, now)
	return caller{subject: acl.Subject{Name: user}, user: u}, nil
}

// refreshCaller authenticates by a refresh token, for service.
func (h *Handler) refreshCaller(st *State, jwt, service string, rec *record) (caller, error) {
	rec.grantType = grantRefreshToken
	u, claims, err := h.checkRefreshToken(st, jwt, service)
	if claims != nil { // signed by us: worth naming in the audit line even when refused
		rec.user, rec.refreshID = claims.Subject, claims.JWTID
	}
	if err != nil {
		return caller{}, err
	}
	return caller{subject: acl.Subject{Name: u.Name}, user: u, refresh: jwt}, nil
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
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	IssuedAt    string `json:"issued_at"`
	Scope       string `json:"scope"` // what the token grants; OAuth2 requires it

	RefreshToken string `json:"refresh_token,omitempty"`
}

// issue writes the 200 answer with a token for the caller (signed now, or
// reused: see reuse.go), and a refresh token when the request asked for one.
func (h *Handler) issue(w http.ResponseWriter, st *State, rec *record, c caller, req tokenRequest) error {
	access := grant(st.Rules, c.subject, req.scopes, rec)
	now := h.now()
	t, reused, err := h.tokenFor(st, c, req.service, access, now)
	if err != nil {
		return err
	}
	rec.tokenReused = reused
	resp := tokenResponse{
		Token:       t.jwt,
		AccessToken: t.jwt,
		ExpiresIn:   int(t.expires.Unix() - now.Unix()),
		IssuedAt:    t.issuedAt.UTC().Format(time.RFC3339),
		Scope:       grantedScope(access),
	}
	if req.offline {
		if resp.RefreshToken, err = h.refreshFor(st, c, req.service, rec); err != nil {
			return err
		}
	}
	rec.status = http.StatusOK
	writeAnswer(w, &resp)
	return nil
}

// refreshFor returns the refresh token to hand out: the one the caller
// presented (never a new one, oauth.md), a new one after a password check,
// and none for anonymous callers, who have nothing to refresh.
func (h *Handler) refreshFor(st *State, c caller, service string, rec *record) (string, error) {
	switch {
	case c.refresh != "":
		return c.refresh, nil
	case c.subject.Anonymous || c.user.Name == "":
		return "", nil
	}
	jwt, claims, err := h.newRefreshToken(st, c.user, service)
	if err != nil {
		return "", err
	}
	rec.refreshID, rec.refreshIssued = claims.JWTID, true
	return jwt, nil
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

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}
