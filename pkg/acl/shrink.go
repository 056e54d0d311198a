package acl

import (
	"errors"
	"fmt"
)

// DefaultMaxShrink is the share of a users file's users one reload may
// remove when Files.MaxShrink is zero.
const DefaultMaxShrink = 0.5

// shrinkGuardFloor is the fewest users a file must have held for the
// guard to apply: removing two of three users is an edit, not a sign of a
// file caught half-written, and small files are where it happens.
const shrinkGuardFloor = 10

// ErrShrunk is wrapped by the error CheckShrink returns.
var ErrShrunk = errors.New("too many users removed at once")

// Validate reports options that Load cannot use: a MaxShrink outside
// (0, 1] (zero means DefaultMaxShrink).
func (f Files) Validate() error {
	if f.MaxShrink < 0 || f.MaxShrink > 1 {
		return fmt.Errorf("acl: max_shrink %g is not a share of the users between 0 and 1 (0.5 is half of them; 1 turns the guard off)", f.MaxShrink)
	}
	return nil
}

// CheckShrink guards a reload against a users file caught in the middle
// of a write: an htpasswd file cut at a line boundary, or a users.json
// written by a tool that truncates first, loads without error but with
// users missing, whose logins and refresh tokens would then be refused
// until the write completes. It returns an error wrapping ErrShrunk when
// next, loaded to replace r, keeps the same users.json or htpasswd file
// but more than next's Files.MaxShrink of the users r read from it are
// gone. Files that held fewer than ten users are not guarded.
func (r *Rules) CheckShrink(next *Rules) error {
	share := next.files.MaxShrink
	if share == 0 {
		share = DefaultMaxShrink
	}
	var errs []error
	for _, f := range []struct {
		file, nextFile string
		was, is        int
	}{
		{r.files.Users, next.files.Users, len(r.src.users), len(next.src.users)},
		{r.files.Htpasswd, next.files.Htpasswd, len(r.src.htpasswd), len(next.src.htpasswd)},
	} {
		removed := f.was - f.is
		if f.file != f.nextFile || f.was < shrinkGuardFloor || float64(removed) <= share*float64(f.was) {
			continue
		}
		errs = append(errs, fmt.Errorf("%s: %w: %d of its %d users would remain (%.0f%% removed, more than acl.max_shrink %.0f%%); "+
			"a file caught half-written looks like this", f.file, ErrShrunk, f.is, f.was, 100*float64(removed)/float64(f.was), 100*share))
	}
	return errors.Join(errs...)
}
