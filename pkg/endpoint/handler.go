package endpoint

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/shared"
	"github.com/regtoken/regtoken/pkg/throttle"
)

// Handler serves token requests. Create it with New.
type Handler struct {
	state   atomic.Pointer[State]
	authn   *authn.Authenticator
	log     *slog.Logger
	audit   *auditLog // nil: no audit lines
	now     func() time.Time
	observe func(status int, d time.Duration)
	reuse   atomic.Pointer[reuseCache] // tokens of the current State, see reuse.go
	// lastBareLogin is when a login without credentials was last logged
	// (unix nanoseconds), so a misconfigured proxy shows in the log once a
	// minute, not once per request.
	lastBareLogin atomic.Int64
	Stats         Stats
}

// Options are the parts of a Handler that do not change on reload.
type Options struct {
	// Verifier checks passwords; nil: one with authn's defaults.
	Verifier *authn.Verifier
	// Throttle slows down password guessing; nil allows every attempt.
	Throttle *throttle.Limiter
	// Shared is the store replicas share the throttle and revocations
	// through; nil: none.
	Shared *shared.Store
	Log    *slog.Logger // errors and warnings
	Audit  io.Writer    // one line per token request (see auditline.go); nil for none
	// AuditFormat is the audit lines' form: that of the log they go with.
	AuditFormat AuditFormat
	Now         func() time.Time
}

// New returns a Handler serving with st until Swap replaces it.
func New(st *State, o Options) *Handler {
	h := &Handler{log: o.Log, now: o.Now}
	if o.Audit != nil {
		h.audit = &auditLog{w: o.Audit, format: o.AuditFormat}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.authn = authn.NewAuthenticator(o.Verifier, o.Throttle, h.now)
	h.authn.UseShared(o.Shared)
	h.state.Store(st)
	return h
}

// SetObserver makes f hear every request's status and latency (for metrics).
// Call it before serving.
func (h *Handler) SetObserver(f func(status int, d time.Duration)) { h.observe = f }

// Swap makes st the State for every request that starts from now on; requests
// in flight finish with the State they started with. The tokens signed under
// the old State are dropped with it, so that it can be freed (its rules may
// be hundreds of megabytes).
func (h *Handler) Swap(st *State) {
	h.state.Store(st)
	h.reuse.Store(nil)
}

// State returns the State new requests use.
func (h *Handler) State() *State { return h.state.Load() }

// Throttle returns the failed-login limiter, for metrics (may be nil).
func (h *Handler) Throttle() *throttle.Limiter { return h.authn.Throttle() }

// Shared returns the shared store, for metrics and health (may be nil).
func (h *Handler) Shared() *shared.Store { return h.authn.Shared() }

// Verifier returns the password verifier, for metrics.
func (h *Handler) Verifier() *authn.Verifier { return h.authn.Verifier() }

// RobotLogins says when each robot last logged in, for metrics.
func (h *Handler) RobotLogins() map[string]time.Time { return h.authn.RobotLogins() }

// ServeHTTP answers one token request. The steps run in the order a request
// flows (parse, authenticate, grant and answer), each returning what it
// found, and the audit record is made from those results once, at the end.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	st := h.state.Load()
	var (
		id  authn.Identity
		out issued
	)
	req, err := parseRequest(w, r, st)
	if err == nil {
		st, id, err = h.authenticateCurrent(r.Context(), st, &req)
	}
	if err == nil {
		out, err = h.issue(w, st, &id, &req)
	}
	status, reason := http.StatusOK, ""
	if err != nil {
		status, reason = h.fail(w, st, err)
	}
	h.finish(newRecord(start, r, &req, &id, &out, status, reason))
}

// authenticateCurrent asks authn who sent req, and returns the State the
// answer holds for: the one in force when authentication ended. A reload
// while a password waited for bcrypt (seconds, under load) may have removed
// the user, changed the password or revoked refresh tokens, and no token
// may be issued on the strength of what it replaced. So a request whose
// State changed while it was authenticated is authenticated again against
// the new one, which costs no bcrypt unless the user's hash changed.
func (h *Handler) authenticateCurrent(ctx context.Context, st *State, req *tokenRequest) (*State, authn.Identity, error) {
	for {
		id, err := h.authenticate(ctx, st, req)
		current := h.state.Load()
		if err != nil || current == st {
			return st, id, err
		}
		st = current
		if err := st.checkService(req.service); err != nil {
			return st, id, err
		}
	}
}

// authenticate asks authn who sent req. A login (offline_token=true, what
// docker login sends) must carry credentials: docker only logs in with
// them, so none arriving means a proxy dropped the Authorization header,
// and an anonymous token would make docker report "Login Succeeded" for any
// password.
func (h *Handler) authenticate(ctx context.Context, st *State, req *tokenRequest) (authn.Identity, error) {
	src := st.authnSource()
	id, err := h.authn.Authenticate(ctx, &src, req.credentials)
	if err != nil && req.exchange {
		return id, exchangeRefusal(err)
	}
	if err == nil && req.login && id.Method == authn.Anonymous {
		h.warnBareLogin()
		return id, errLoginWithoutCredentials
	}
	return id, err
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

// fail writes err as the JSON error body clients show well, and returns the
// status and reason for the audit line.
func (h *Handler) fail(w http.ResponseWriter, st *State, err error) (status int, reason string) {
	var e *Error
	var refused *authn.Error
	switch {
	case errors.As(err, &e):
	case errors.As(err, &refused):
		e = authnError(refused)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		e = &Error{Status: http.StatusServiceUnavailable, Code: "UNAVAILABLE", Message: "request cancelled"}
	default:
		h.log.Error("token request failed", "err", err)
		e = &Error{Status: http.StatusInternalServerError, Code: "UNKNOWN", Message: "internal error"}
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+st.Realm+`"`)
	}
	e.write(w)
	return e.Status, e.Message
}
