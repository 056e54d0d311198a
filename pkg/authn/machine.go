package authn

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/oidc"
	"github.com/regtoken/regtoken/pkg/robot"
)

// Machines log in without a password of ours: a CI job or a pod with the ID
// token its platform gave it (package oidc), a robot account with its
// secret (package robot). Both come through the same door as passwords,
// Basic auth and the password grant, because that is all docker login,
// crane and skopeo can send; a token can also be exchanged (RFC 8693).
// Neither costs a bcrypt check, and both are throttled like passwords.

// RobotPrefix starts a robot's name in tokens and the audit line, so that a
// registry's log tells a robot from a person.
const RobotPrefix = "robot:"

var (
	errNoIssuers     = &Error{Reason: WrongCredentials, Message: "no OIDC issuer is configured here"}
	errKeysUnfetched = &Error{Reason: Unavailable, Wait: 5 * time.Second}
)

// fromMachine reports whether c are a machine's: a robot's name, or a JWT
// that is not one of ours (our refresh tokens are JWTs too, and docker may
// send one as a password), which is then an ID token. Every other password
// goes to bcrypt as before.
func (s *Source) fromMachine(c Credentials) bool {
	switch {
	case s.Robots.Has(c.User):
		return true
	case s.Issuers == nil || !oidc.LooksLikeJWT(c.Secret):
		return false
	}
	return oidc.PeekIssuer(c.Secret) != s.Issuer
}

// machineLogin authenticates a robot or an ID token. A client that failed
// too often waits first, as for passwords; a refusal counts as a failed
// login unless it repeats one of a moment ago (a client's retry) or says
// nothing about the caller (an issuer we cannot reach, a robot whose right
// secret has expired).
func (a *Authenticator) machineLogin(ctx context.Context, src *Source, c Credentials) (Identity, error) {
	now := a.now()
	id := Identity{Method: IDToken, NotInFiles: true}
	if c.Method != IDToken && src.Robots.Has(c.User) {
		id = Identity{Method: Robot, Name: RobotPrefix + c.User, NotInFiles: true}
	}
	if wait := a.throttle.Check(c.User, c.Client, now); wait > 0 {
		a.throttle.Hold(ctx, wait)
		return id, throttled(wait)
	}
	var err error
	if id.Method == Robot {
		id.Grants, err = a.robotGrants(src, c, now)
	} else {
		err = a.tokenIdentity(ctx, src, c, &id)
	}
	var refused *Error
	switch {
	case err == nil:
		a.throttle.Success(c.User, c.Client)
		if id.Method == Robot {
			a.noteRobotLogin(c.User, now)
		}
	case errors.As(err, &refused) && refused.Reason == WrongCredentials && a.newRefusal(c, now):
		a.countFailure(c, now)
	}
	return id, err
}

// countFailure counts a refused machine credential as a failed login. A
// machine's check costs microseconds and is not admitted like a bcrypt
// check (a fleet of CI jobs sends the same robot's secret from one address
// at once, and must not wait for each other), so the failure is recorded
// through a check admitted and ended at once. While the address has
// password checks in flight up to its cap, the failure goes uncounted:
// nobody guesses a 270-bit secret or a signature anyway.
func (a *Authenticator) countFailure(c Credentials, now time.Time) {
	if pass, refusal := a.throttle.Admit(c.User, c.Client, now); refusal.Wait == 0 {
		pass.Failure(now)
	}
}

// robotGrants checks a robot's secret; its grants are its rules.
func (a *Authenticator) robotGrants(src *Source, c Credentials, now time.Time) ([]acl.Grant, error) {
	grants, err := src.Robots.Verify(c.User, c.Secret, now)
	var expired *robot.ExpiredError
	switch {
	case errors.As(err, &expired):
		return nil, &Error{Reason: Expired, Message: expired.Error()}
	case err != nil:
		return nil, errWrongPassword
	}
	return grants, nil
}

// tokenIdentity verifies an ID token and fills id from its issuer's rules.
// id is named after issuer and subject as soon as the token tells them,
// even when it is refused, so the audit line says whose token it was.
func (a *Authenticator) tokenIdentity(ctx context.Context, src *Source, c Credentials, id *Identity) error {
	if src.Issuers == nil {
		return errNoIssuers
	}
	login, err := src.Issuers.Verify(ctx, c.Secret)
	if login.Issuer != "" {
		id.Name = login.Name()
	}
	var refused *oidc.Error
	switch {
	case errors.As(err, &refused) && refused.Kind == oidc.Unavailable:
		e := *errKeysUnfetched
		e.Message = refused.Message
		return &e
	case errors.As(err, &refused) && refused.Kind == oidc.Expired:
		return &Error{Reason: Expired, Message: refused.Message}
	case errors.As(err, &refused):
		return &Error{Reason: WrongCredentials, Message: refused.Message}
	case err != nil:
		return err
	}
	id.Grants, id.Groups, id.GroupsFromSource = login.Grants, login.Groups, true
	return nil
}

// newRefusal reports whether refusing c is news, and remembers it for the
// verifier's cache lifetime: containerd retries every refused POST as a
// GET, and a fleet of jobs with one stale token sends it many times, which
// must not throttle them after a few attempts.
func (a *Authenticator) newRefusal(c Credentials, now time.Time) bool {
	v := a.verifier
	key := v.cacheKey("machine\x00"+c.User, nil, c.Secret)
	if v.refused.get(key, now, time.Time{}) {
		return false
	}
	v.refused.put(key, now.Add(v.opts.CacheTTL))
	return true
}

func (a *Authenticator) noteRobotLogin(name string, now time.Time) {
	v, ok := a.robotUse.Load(name)
	if !ok {
		v, _ = a.robotUse.LoadOrStore(name, new(atomic.Int64))
	}
	v.(*atomic.Int64).Store(now.Unix())
}

// RobotLogins returns when each robot last logged in since the process
// started, for metrics and the robots' last-used file.
func (a *Authenticator) RobotLogins() map[string]time.Time {
	out := map[string]time.Time{}
	a.robotUse.Range(func(name, v any) bool {
		out[name.(string)] = time.Unix(v.(*atomic.Int64).Load(), 0)
		return true
	})
	return out
}
