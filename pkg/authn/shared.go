package authn

import (
	"errors"
	"time"

	"github.com/regtoken/regtoken/pkg/shared"
)

// With a shared store (package shared), replicas throttle as one: an
// uncached password check is admitted by this replica's throttle (its
// checks in flight) and then by the store, which counts it as a failure
// across replicas at once and gives it back if the password was right.
// The store also remembers wrong passwords for every replica, and holds
// revocations. Anonymous, cached and refresh-token requests never wait
// for it: they read memory only.

// errRepeated is a gate's answer that the same wrong password was refused
// lately on another replica: no check, no new failure.
var errRepeated = errors.New("authn: the same wrong password was refused lately")

// errStoreDown refuses a password login that needs the shared store while
// it does not answer, under the fail_closed policy.
var errStoreDown = &Error{Reason: Unavailable, Wait: time.Second,
	Message: "password logins are unavailable for a moment (shared store unreachable); retry shortly"}

// UseShared makes a share the throttle, the memory of wrong passwords and
// revocations with other replicas through s (nil: nothing shared). Call
// it before serving.
func (a *Authenticator) UseShared(s *shared.Store) { a.shared = s }

// Shared returns the shared store, for metrics (may be nil).
func (a *Authenticator) Shared() *shared.Store { return a.shared }

// remoteAdmission is a password check's part in the shared store.
type remoteAdmission struct {
	login   shared.Login
	on      bool // a store is configured
	counted bool // the store counted the check as a failure
}

func (a *Authenticator) remoteAdmission(c Credentials, hash []byte) remoteAdmission {
	if a.shared == nil {
		return remoteAdmission{}
	}
	return remoteAdmission{on: true, login: a.shared.Login(c.User, c.Client, hash, c.Secret, a.throttle.Policy())}
}

// admitShared asks the store, after this replica's throttle admitted the
// check. A block there is copied here, so that Check refuses the next
// attempt without a round trip. Without an answer, the policy decides.
func (ad *admission) admitShared() error {
	r := &ad.remote
	if !r.on {
		return nil
	}
	s := ad.a.shared
	v, err := s.Admit(r.login, true)
	switch {
	case err != nil && s.FailClosed():
		s.Stats.Refused.Add(1)
		return errStoreDown
	case err != nil:
		s.Stats.Fallbacks.Add(1)
		return nil
	case v.Repeat:
		return errRepeated
	case v.Wait > 0:
		ad.a.throttle.Mirror(ad.user, ad.client, v.PairBlocked, v.AddressBlocked, v.Wait, ad.a.now())
		return throttled(v.Wait)
	}
	r.counted = true
	return nil
}

// doneShared tells the store how a check it counted ended: a wrong
// password stays counted and is remembered; otherwise the failure is
// given back.
func (ad *admission) doneShared(res checkResult, err error) {
	r := &ad.remote
	if !r.counted {
		return
	}
	s := ad.a.shared
	if err == nil && res != rightPassword {
		s.RememberWrong(r.login, ad.a.verifier.opts.CacheTTL)
		return
	}
	s.GiveBack(r.login, err == nil)
}

// forgetShared clears the pair in the store after a right password that
// the store did not count (a remembered one), as Limiter.Success does
// here; only when this replica saw the pair fail, so that a remembered
// login costs no round trip in the steady state.
func (ad *admission) forgetShared() {
	r := &ad.remote
	if r.on && !r.counted && ad.a.throttle.PairFailed(ad.user, ad.client, ad.a.now()) {
		ad.a.shared.Forget(r.login)
	}
}
