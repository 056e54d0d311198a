package authn

import (
	"context"
	"errors"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
)

// A directory (an LDAP server, see package ldapauth) is a home of users
// beside the files. Its passwords go through the same steps as the files'
// bcrypt hashes: the throttle first, then the Verifier's keyed memory of
// verified and refused passwords, and only on a miss the directory itself.
// So a remembered login keeps working while the directory is unreachable,
// a password changed in the directory applies once the memory of the old one
// expires (Directory.CacheLifetime), and a client repeating a wrong password
// neither reaches the directory again nor counts as a new guess (which also
// keeps a fleet with a stale password from locking the account there).

// PasswordSource checks the passwords of a directory.
type PasswordSource interface {
	// CheckPassword returns the groups user is in, named as the rules name
	// them, when password is user's. A refusal wraps ErrUnknownUser or
	// ErrWrongPassword; any other error means the source could not answer
	// now. An unknown user must cost about as much time as a known one.
	CheckPassword(ctx context.Context, user, password string) (groups []string, err error)
}

// Refusals a PasswordSource returns (wrapped).
var (
	ErrUnknownUser   = errors.New("no such user")
	ErrWrongPassword = errors.New("wrong password")
)

// Directory is a PasswordSource and how authentication uses it.
type Directory struct {
	Source PasswordSource
	// First: a name that has a password in the files too is decided by the
	// directory when the directory knows it, and by the files otherwise.
	// Without First the files decide every name they hold a password for,
	// and the directory the rest.
	First bool
	// CacheLifetime is how long the directory's answer about a password (a
	// login with its groups, or a refusal) is remembered; 0: the
	// Verifier's CacheTTL.
	CacheLifetime time.Duration
	// Tag identifies the directory's configuration: answers remembered
	// under another one do not count.
	Tag string
}

// errDirectoryDown answers a password the directory could not check. It is
// no 401: the password may well be right.
var errDirectoryDown = &Error{Reason: Unavailable, Wait: 5 * time.Second,
	Message: "cannot check the password now: the user directory is unreachable or busy; retry shortly"}

// directoryAnswer is what a directory said about a password, as remembered.
type directoryAnswer struct {
	groups  []string // the login's groups
	unknown bool     // a refusal because the directory does not know the user
}

// directoryOutcome is a directory check's result.
type directoryOutcome struct {
	result checkResult
	directoryAnswer
}

// verify checks c's password where it is kept: the files' bcrypt hash of u
// (zero when the files do not know c.User), or the directory. dir is nil
// when the files decided.
func (a *Authenticator) verify(ctx context.Context, src *Source, u acl.User, c Credentials) (res checkResult, dir *directoryAnswer, err error) {
	d := src.Directory
	inFiles := len(u.PassHash) > 0
	if d == nil || inFiles && !d.First {
		res, err = a.verifier.check(ctx, c.User, u.PassHash, c.Secret)
		return res, nil, err
	}
	out, err := a.verifier.checkDirectory(ctx, d, c.User, c.Secret)
	switch {
	case err != nil && ctx.Err() == nil:
		return wrongPassword, nil, errDirectoryDown
	case err != nil:
		return wrongPassword, nil, ctx.Err()
	case out.unknown && inFiles:
		res, err = a.verifier.check(ctx, c.User, u.PassHash, c.Secret)
		return res, nil, err
	}
	return out.result, &out.directoryAnswer, nil
}

// checkDirectory is check for a directory's password: the same keyed
// memories of verified and refused passwords, with d's lifetime, and d's
// source asked on a miss. The key stands in d's tag for the stored hash,
// which the directory does not reveal.
func (v *Verifier) checkDirectory(ctx context.Context, d *Directory, user, password string) (directoryOutcome, error) {
	key := v.cacheKey(user, []byte("\x00directory\x00"+d.Tag), password)
	now := time.Now()
	if a, ok := v.cache.lookup(key, now); ok {
		v.Stats.CacheHits.Add(1)
		return directoryOutcome{rightPassword, a}, nil
	}
	if a, ok := v.refused.lookup(key, now); ok {
		v.Stats.Repeats.Add(1)
		return directoryOutcome{repeatedWrongPassword, a}, nil
	}
	groups, err := d.Source.CheckPassword(ctx, user, password)
	lifetime := d.CacheLifetime
	if lifetime <= 0 {
		lifetime = v.opts.CacheTTL
	}
	switch {
	case err == nil:
		a := directoryAnswer{groups: groups}
		v.cache.remember(key, now.Add(lifetime), a)
		return directoryOutcome{rightPassword, a}, nil
	case errors.Is(err, ErrUnknownUser) || errors.Is(err, ErrWrongPassword):
		a := directoryAnswer{unknown: errors.Is(err, ErrUnknownUser)}
		v.refused.remember(key, now.Add(lifetime), a)
		return directoryOutcome{wrongPassword, a}, nil
	}
	return directoryOutcome{}, err
}
