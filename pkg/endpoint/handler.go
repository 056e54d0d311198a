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
	"github.com/regtoken/regtoken/pkg/throttle"
)

// Handler serves token requests. Create it with New.
type Handler struct {
	state    atomic.Pointer[State]
	verifier *authn.Verifier
	throttle *throttle.Limiter
	log      *slog.Logger
	audit    *auditLog // nil: no audit lines
	now      func() time.Time
	observe  func(status int, d time.Duration)
	reuse    atomic.Pointer[reuseCache] // tokens of the current State, see reuse.go
	// lastBareLogin is when a login without credentials was last logged
	// (unix nanoseconds), so a misconfigured proxy shows in the log once a
	// minute, not once per request.
	lastBareLogin atomic.Int64
	Stats         Stats
}

// Options are the parts of a Handler that do not change on reload.
type Options struct {
	Verifier *authn.Verifier
	// Throttle slows down password guessing; nil allows every attempt.
	Throttle *throttle.Limiter
	Log      *slog.Logger // errors and warnings
	Audit    io.Writer    // one JSON line per token request (see audit.go); nil for none
	Now      func() time.Time
}

// New returns a Handler serving with st until Swap replaces it.
func New(st *State, o Options) *Handler {
	h := &Handler{verifier: o.Verifier, throttle: o.Throttle, log: o.Log, now: o.Now}
	if o.Audit != nil {
		h.audit = &auditLog{w: o.Audit}
	}
	if h.verifier == nil {
		h.verifier = authn.New(authn.Options{})
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.state.Store(st)
	return h
}

// SetObserver makes f hear every request's status and latency (for metrics).
// Call it before serving.
func (h *Handler) SetObserver(f func(status int, d time.Duration)) { h.observe = f }

// Swap makes st the State for every request that starts from now on; requests
// in flight finish with the State they started with.
func (h *Handler) Swap(st *State) { h.state.Store(st) }

// State returns the State new requests use.
func (h *Handler) State() *State { return h.state.Load() }

// Throttle returns the failed-login limiter, for metrics (may be nil).
func (h *Handler) Throttle() *throttle.Limiter { return h.throttle }

// Verifier returns the password verifier, for metrics.
func (h *Handler) Verifier() *authn.Verifier { return h.verifier }

// ServeHTTP answers one token request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	st := h.state.Load()
	rec := &record{start: start, client: r.RemoteAddr, method: r.Method}
	var err error
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		err = h.serveGet(w, r, st, rec)
	case http.MethodPost:
		err = h.servePost(w, r, st, rec)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		err = &Error{Status: http.StatusMethodNotAllowed, Code: "UNSUPPORTED", Message: "use GET or POST"}
	}
	if err != nil {
		h.fail(w, r, st, rec, err)
	}
	h.finish(rec)
}

// fail writes err as the JSON error body clients show well.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, st *State, rec *record, err error) {
	var e *Error
	if !errors.As(err, &e) {
		if errors.Is(err, authn.ErrBusy) {
			e = errBusy
		} else if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			e = &Error{Status: http.StatusServiceUnavailable, Code: "UNAVAILABLE", Message: "request cancelled"}
		} else {
			h.log.Error("token request failed", "err", err)
			e = &Error{Status: http.StatusInternalServerError, Code: "UNKNOWN", Message: "internal error"}
		}
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+st.Realm+`"`)
	}
	rec.status, rec.reason = e.Status, e.Message
	e.write(w)
}
