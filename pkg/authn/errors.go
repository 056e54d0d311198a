package authn

import (
	"strconv"
	"time"

	"github.com/regtoken/regtoken/pkg/throttle"
)

// Reason says why credentials were refused, which decides what the caller
// is told.
type Reason uint8

const (
	// WrongCredentials: a wrong password, an unknown user, or a token that
	// is not a good refresh token for this service. Try other credentials.
	WrongCredentials Reason = iota + 1
	// Expired: a refresh token that was good has expired or been revoked.
	// Log in again with a password.
	Expired
	// Throttled: too many failed logins from this client, or too many of
	// its passwords being checked at once; nothing was checked. Retry
	// after Error.Wait.
	Throttled
	// Unavailable: the credentials could not be checked now (too many
	// password checks waiting). Retry after Error.Wait.
	Unavailable
)

// Error is a refusal. Message is meant for the client: it never holds a
// secret, and never tells whether a user exists.
type Error struct {
	Reason  Reason
	Message string
	Wait    time.Duration // Throttled and Unavailable: how long to wait; 0 otherwise
}

func (e *Error) Error() string { return "authn: " + e.Message }

var (
	errWrongPassword = &Error{Reason: WrongCredentials, Message: "incorrect username or password"}
	errBusy          = &Error{Reason: Unavailable, Message: "too many password checks in progress, retry shortly", Wait: time.Second}

	// Refresh token refusals. Whatever the reason, the client's stored token
	// is no good and the user must log in again, which is what docker
	// prints for any of them ("Stored credentials invalid or expired").
	errRefreshInvalid  = &Error{Reason: WrongCredentials, Message: "invalid refresh token"}
	errNotRefreshToken = &Error{Reason: WrongCredentials, Message: "not a refresh token (an access token cannot be used to refresh)"}
	errRefreshService  = &Error{Reason: WrongCredentials, Message: "refresh token was issued for another service"}
	errRefreshExpired  = &Error{Reason: Expired, Message: "refresh token expired; log in again"}
	errRefreshRevoked  = &Error{Reason: Expired, Message: "refresh token revoked (user removed, password changed, or tokens revoked); log in again"}
	errRefreshLegacy   = &Error{Reason: Expired, Message: "refresh token from an earlier regtoken version, no longer accepted; log in again"}
	errNoRefreshKey    = &Error{Reason: WrongCredentials, Message: "refresh tokens are not available"}
)

// throttled refuses a client that must wait after failed logins.
func throttled(wait time.Duration) *Error { return mustWait("too many failed logins", wait) }

// inFlight refuses a client whose other passwords are being checked.
func inFlight(wait time.Duration) *Error {
	return mustWait("too many password checks at once from this client", wait)
}

func mustWait(why string, wait time.Duration) *Error {
	return &Error{Reason: Throttled, Wait: wait,
		Message: why + "; retry after " + strconv.Itoa(throttle.RetryAfter(wait)) + " s"}
}
