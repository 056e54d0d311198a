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
// when the files decided. g admits a check that needs bcrypt or the
// directory and counts its outcome, so a guess against the directory is
// throttled exactly like one against a hash.
func (a *Authenticator) verify(ctx context.Context, src *Source, u acl.User, c Credentials, g gate) (res checkResult, dir *directoryAnswer, err error) {
	d := src.Directory
	inFiles := len(u.PassHash) > 0
	if d == nil || inFiles && !d.First {
		res, err = a.verifier.check(ctx, c.User, u.PassHash, c.Secret, g)
		return res, nil, err
	}
	key := a.verifier.directoryKey(d, c.User, c.Secret)
	out, remembered := a.verifier.recallDirectory(key, g.notBefore())
	if !remembered {
		_, err := g.admit()
		if errors.Is(err, errRepeated) { // another replica refused it lately
			return repeatedWrongPassword, nil, nil
		}
		if err != nil {
			return wrongPassword, nil, err
		}
		out, err = a.verifier.askDirectory(ctx, d, key, c.User, c.Secret)
		switch {
		case err != nil && ctx.Err() == nil:
			g.done(wrongPassword, err)
			return wrongPassword, nil, errDirectoryDown
		case err != nil:
			g.done(wrongPassword, err)
			return wrongPassword, nil, ctx.Err()
		case out.unknown && inFiles:
			g.done(wrongPassword, errNotTheDirectorys) // not a guess: the files decide
		default:
			g.done(out.result, nil)
		}
	}
	if out.unknown && inFiles {
		res, err = a.verifier.check(ctx, c.User, u.PassHash, c.Secret, g)
		return res, nil, err
	}
	return out.result, &out.directoryAnswer, nil
}

// errNotTheDirectorys ends an admitted directory check without counting it:
// the directory does not know the name, and the files, which do, decide.
var errNotTheDirectorys = errors.New("the directory does not know the user; the files decide")

// directoryKey is the memory key of a directory's password: d's tag stands
// in for the stored hash, which the directory does not reveal.
func (v *Verifier) directoryKey(d *Directory, user, password string) [32]byte {
	return v.cacheKey(user, []byte("\x00directory\x00"+d.Tag), password)
}

// recallDirectory answers from the memories of verified and refused
// directory passwords, without asking the directory.
func (v *Verifier) recallDirectory(key [32]byte, notBefore time.Time) (directoryOutcome, bool) {
	now := time.Now()
	if a, ok := v.cache.lookup(key, now, notBefore); ok {
		v.Stats.CacheHits.Add(1)
		return directoryOutcome{rightPassword, a}, true
	}
	if a, ok := v.refused.lookup(key, now, time.Time{}); ok {
		v.Stats.Repeats.Add(1)
		return directoryOutcome{repeatedWrongPassword, a}, true
	}
	return directoryOutcome{}, false
}

// askDirectory asks d's source about a password and remembers the answer
// for d's lifetime.
func (v *Verifier) askDirectory(ctx context.Context, d *Directory, key [32]byte, user, password string) (directoryOutcome, error) {
	groups, err := d.Source.CheckPassword(ctx, user, password)
	now := time.Now()
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
