package authn

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/oidc"
	"github.com/regtoken/regtoken/pkg/robot"
	"github.com/regtoken/regtoken/pkg/shared"
	"github.com/regtoken/regtoken/pkg/throttle"
	"github.com/regtoken/regtoken/pkg/token"
)

// Method is how credentials are meant, and how an Identity proved itself.
type Method uint8

const (
	// Anonymous: no credentials.
	Anonymous Method = iota
	// Password: a user name and its password.
	Password
	// RefreshToken: a refresh token this service issued.
	RefreshToken
	// Basic is HTTP Basic auth, as Credentials only: a password, or a
	// refresh token under an empty user name or "<token>" when refresh
	// tokens are on. An Identity never has it: Authenticate tells which.
	Basic
	// IDToken: an OIDC ID token of a CI job or a Kubernetes pod, presented
	// as a password or exchanged (RFC 8693); see machine.go.
	IDToken
	// Robot: a robot account's name and secret.
	Robot
)

// identityTokenUser is the user name docker's credential helpers store an
// identity token under (docker/cli native_store.go). A client that sends it
// in Basic auth means "the password is a refresh token".
const identityTokenUser = "<token>"

// Credentials are what a token request presented, and for what.
type Credentials struct {
	Method Method // Anonymous (none), Basic, Password or RefreshToken
	User   string // the user name of a password
	Secret string // the password or the refresh token
	// Client is the address the request came from (host:port): failed
	// logins are counted per address and per user at an address.
	Client string
	// Service is the registry the token is for: a refresh token is good
	// for the service it was issued for only.
	Service string
}

// BasicCredentials reads r's Basic auth, for service. No Authorization
// header, or an empty user and password, mean anonymous.
func BasicCredentials(r *http.Request, service string) Credentials {
	c := Credentials{Client: r.RemoteAddr, Service: service}
	user, password, ok := r.BasicAuth()
	if ok && (user != "" || password != "") {
		c.Method, c.User, c.Secret = Basic, user, password
	}
	return c
}

// Identity is who a request authenticated as.
//
// With an error, Authenticate still fills Method, and Name and RefreshID as
// far as the credentials tell them (the user name a password was sent for,
// the subject of a genuine refresh token of ours that was refused), so that
// a log can say who tried. Such an Identity grants nothing.
type Identity struct {
	// Name is the subject of the token; "" for anonymous callers.
	Name   string
	Method Method
	// Groups are the groups the identity source puts Name in. The rules of
	// the users file look them up by Name themselves; a source that knows
	// groups the rules do not (a directory) sets GroupsFromSource, and
	// Subject hands them over.
	Groups           []string
	GroupsFromSource bool
	// Grants are rules an identity source derived for this caller (from a
	// workload token's claims, say). Users of the files have none: their
	// rules are in the files.
	Grants []acl.Grant
	// NotInFiles: a machine (robot, CI job) whose rules are Grants and
	// Groups only, whatever users.json says about its name.
	NotInFiles bool
	// RefreshID is the jti of the refresh token presented, never the token:
	// it lets an operator follow one token's use.
	RefreshID string

	passHash []byte // the hash the password matched, which refresh tokens are tied to
	refresh  string // the refresh token presented, handed back unchanged
}

// Subject is the identity as the rules see it.
func (id *Identity) Subject() acl.Subject {
	s := acl.Subject{Name: id.Name, Anonymous: id.Method == Anonymous, Grants: id.Grants, NotInFiles: id.NotInFiles}
	if id.GroupsFromSource {
		s.Groups = id.Groups
	}
	return s
}

// Source is what authentication reads that a reload may change: the users,
// and the key and issuer of refresh tokens. The endpoint hands over the one
// of the configuration a request started with.
type Source struct {
	Users  *acl.Rules // the users file and htpasswd entries
	Signer *token.Signer
	Issuer string
	// Refresh turns refresh tokens on; a new one lives RefreshLifetime
	// (0: 90 days).
	Refresh         bool
	RefreshLifetime time.Duration
	// Issuers verify the ID tokens of CI jobs and Kubernetes pods; nil:
	// none are accepted.
	Issuers *oidc.Verifier
	// Robots are the robot accounts; nil: none.
	Robots *robot.Set
	// RefreshMAC signs and checks refresh tokens; it is derived from the
	// signing key (token.NewMACSigner). Signer checks refresh tokens of
	// earlier versions, which it signed, while LegacyRefresh accepts them.
	RefreshMAC    *token.MACSigner
	LegacyRefresh bool
	// Directory, when set, holds users beside the files (see directory.go).
	Directory *Directory
}

// Authenticator authenticates token requests. It is safe for concurrent use,
// and lives as long as the process: what a reload changes comes with each
// call, in a Source.
type Authenticator struct {
	verifier *Verifier
	throttle *throttle.Limiter // nil allows every attempt
	shared   *shared.Store     // state shared with other replicas; nil: none
	now      func() time.Time
	robotUse sync.Map // robot name -> *atomic.Int64, unix seconds of its latest login
}

// NewAuthenticator checks passwords with v, consults l before every password
// check (nil: no throttling) and reads the time from now (nil: time.Now).
// A nil v is a Verifier with the default Options.
func NewAuthenticator(v *Verifier, l *throttle.Limiter, now func() time.Time) *Authenticator {
	if v == nil {
		v = New(Options{})
	}
	if now == nil {
		now = time.Now
	}
	return &Authenticator{verifier: v, throttle: l, now: now}
}

// Verifier returns the password verifier, for metrics.
func (a *Authenticator) Verifier() *Verifier { return a.verifier }

// Throttle returns the failed-login limiter, for metrics (may be nil).
func (a *Authenticator) Throttle() *throttle.Limiter { return a.throttle }

// Authenticate returns who presented c. Refused credentials come back as an
// *Error; a context that ends while a password waits for bcrypt, as the
// context's error.
func (a *Authenticator) Authenticate(ctx context.Context, src *Source, c Credentials) (Identity, error) {
	switch {
	case c.Method == Anonymous:
		return Identity{}, nil
	case c.Method == RefreshToken:
		return a.refreshIdentity(src, c.Secret, c.Service)
	case c.Method == IDToken || src.fromMachine(c):
		return a.machineLogin(ctx, src, c)
	case c.Method == Basic && src.Refresh && (c.User == "" || c.User == identityTokenUser):
		return a.refreshIdentity(src, c.Secret, c.Service)
	case c.User == "": // a password for nobody: wrong, without a check
		return Identity{Method: Password}, errWrongPassword
	}
	return a.checkPassword(ctx, src, c)
}

// checkPassword verifies c's password. A client that failed too often waits
// first: it is refused without any password check, so a guesser learns
// nothing and costs no bcrypt. A password that nothing remembers is then
// admitted by the throttle before bcrypt runs, and counts as a failure in
// waiting until it is checked: however many guesses arrive at once, no
// more are checked than the throttle lets fail (see package throttle).
func (a *Authenticator) checkPassword(ctx context.Context, src *Source, c Credentials) (Identity, error) {
	id := Identity{Name: c.User, Method: Password}
	if wait := a.throttle.Check(c.User, c.Client, a.now()); wait > 0 {
		a.throttle.Hold(ctx, wait)
		return id, throttled(wait)
	}
	u, _ := src.Users.User(c.User)
	ad := a.admission(c, u.PassHash)
	res, dir, err := a.verify(ctx, src, u, c, ad)
	var refused *Error
	switch {
	case errors.Is(err, errQueueFull):
		return id, errBusy
	case errors.As(err, &refused):
		// Held here, not in admission: identical requests waiting for the
		// refused one try on their own at once, not a second apart.
		a.throttle.Hold(ctx, refused.Wait)
		return id, err
	case err != nil:
		return id, err
	case res != rightPassword:
		// A repeat (the same wrong password as a moment ago) is no new
		// guess and was not counted: containerd retries every refused POST
		// as a GET at once, and a fleet of jobs with a stale password sends
		// it many times. Counting each would throttle them after a few
		// typos without slowing any guesser.
		return id, errWrongPassword
	}
	ad.forgetShared()
	a.throttle.Success(c.User, c.Client)
	if dir != nil {
		id.Groups, id.GroupsFromSource = dir.groups, true
		return id, nil
	}
	id.Groups, id.passHash = u.Groups, u.PassHash
	return id, nil
}

// admission is the throttle as a password check's gate: it admits a
// comparison, or refuses it with the wait to tell the client, and counts
// the comparison's outcome; with a shared store, across replicas too
// (shared.go).
type admission struct {
	a            *Authenticator
	user, client string
	pass         throttle.Pass
	remote       remoteAdmission
}

func (a *Authenticator) admission(c Credentials, hash []byte) *admission {
	ad := &admission{a: a, user: c.User, client: c.Client}
	ad.remote = a.remoteAdmission(c, hash)
	return ad
}

func (ad *admission) admit() (place, error) {
	pass, refused := ad.a.throttle.Admit(ad.user, ad.client, ad.a.now())
	if refused.Wait > 0 {
		if refused.Busy {
			return place{}, inFlight(refused.Wait)
		}
		return place{}, throttled(refused.Wait)
	}
	if err := ad.admitShared(); err != nil {
		pass.Cancel(ad.a.now())
		return place{}, err
	}
	ad.pass = pass
	return place{rank: pass.Rank(), patient: pass.Clean()}, nil
}

func (ad *admission) done(res checkResult, err error) {
	now := ad.a.now()
	switch {
	case err != nil:
		ad.pass.Cancel(now)
	case res == rightPassword:
		ad.pass.Success(now)
	default:
		ad.pass.Failure(now)
	}
	ad.doneShared(res, err)
}

// notBefore is when the user was last revoked: a password check
// remembered from before it does not count.
func (ad *admission) notBefore() time.Time { return ad.a.shared.RevokedAt(ad.user) }
