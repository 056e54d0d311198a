package endpoint

import (
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/token"
)

// record is what one request did, for the audit line and the counters. It
// never holds a password or token.
type record struct {
	start     time.Time
	client    string
	method    string
	user      string
	service   string
	grantType string
	scopes    []token.Scope
	decisions []acl.Decision
	status    int
	reason    string
	// refreshID is the jti of the refresh token presented or issued (never
	// the token itself), so an operator can follow one token's use.
	refreshID     string
	refreshIssued bool
	// tokenReused: the answer carried a token signed earlier for the same
	// grant (reuse.go).
	tokenReused bool
}

// newRecord is the one place a request's record is made, from what its
// steps returned: the request as parsed, the identity authentication found
// (or, after a refusal, who the credentials claimed to be), and what the
// answer carried. Steps that did not run left their results zero.
func newRecord(start time.Time, r *http.Request, req *tokenRequest, id *authn.Identity, out *issued, status int, reason string) *record {
	rec := &record{
		start: start, client: r.RemoteAddr, method: r.Method,
		user: id.Name, service: req.service, grantType: req.grantType, scopes: req.scopes,
		decisions: out.decisions, status: status, reason: reason,
		refreshID: id.RefreshID, refreshIssued: out.refresh.New, tokenReused: out.reused,
	}
	// grant_type says how the caller authenticated, on GET too; when
	// authentication did not run, it is the POST's grant_type, if any.
	switch id.Method {
	case authn.Password:
		rec.grantType = grantPassword
	case authn.RefreshToken:
		rec.grantType = grantRefreshToken
	case authn.IDToken:
		if rec.grantType != grantTokenExchange {
			rec.grantType = auditIDToken
		}
	case authn.Robot:
		rec.grantType = auditRobot
	}
	if out.refresh.ID != "" { // the refresh token handed out, new or presented
		rec.refreshID = out.refresh.ID
	}
	return rec
}

// Stats counts requests by outcome, for metrics.
type Stats struct {
	Issued       atomic.Uint64 // 200 with a token
	Unauthorized atomic.Uint64 // 401
	BadRequest   atomic.Uint64 // other 4xx
	Throttled    atomic.Uint64 // 429 and 503
	Failed       atomic.Uint64 // 5xx
}

func (h *Handler) finish(rec *record) {
	h.count(rec.status)
	if h.observe != nil {
		h.observe(rec.status, time.Since(rec.start))
	}
	if h.audit != nil {
		h.audit.write(rec, time.Now())
	}
}

func (h *Handler) count(status int) {
	switch {
	case status == 200:
		h.Stats.Issued.Add(1)
	case status == 401:
		h.Stats.Unauthorized.Add(1)
	case status == 429 || status == 503:
		h.Stats.Throttled.Add(1)
	case status >= 500:
		h.Stats.Failed.Add(1)
	default:
		h.Stats.BadRequest.Add(1)
	}
}

// decision summarises the grant: granted (everything asked), partial, denied, or the error.
func decision(rec *record) string {
	if rec.status != 200 {
		return "error"
	}
	all, none := true, true
	for i, s := range rec.scopes {
		g := rec.decisions[i].Granted
		if len(g) > 0 {
			none = false
		}
		if len(g) < len(s.Actions) {
			all = false
		}
	}
	switch {
	case len(rec.scopes) == 0 || all:
		return "granted"
	case none:
		return "denied"
	}
	return "partial"
}

// grantString is a scope with the granted actions: repository:name:pull,push.
func grantString(s token.Scope, granted []string) string {
	return s.Type + ":" + s.Name + ":" + strings.Join(granted, ",")
}
