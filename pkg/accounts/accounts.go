// Package accounts changes the user files regtoken reads, users.json and an
// htpasswd file, for `regtoken user add|passwd|del`.
//
// An edit changes only the text of the user it is about: every other byte
// of a file (order, indentation, other users, comments in htpasswd) stays as
// written. It is checked before anything is written: the files as they
// would be must load with package acl and show the change, or nothing is
// written. Each file is replaced atomically (a temporary file in the same
// directory, renamed over the old one, with the old one's mode and owner),
// so a reload that reads it meanwhile sees the old file or the new one,
// never part of one; and two edits at once wait for each other.
//
// The package must not decide access or check passwords (acl and authn
// do); it takes bcrypt hashes and never sees a password.
package accounts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/regtoken/regtoken/pkg/acl"
)

// Errors returned by Add, SetPassword and Delete; test with errors.Is.
var (
	ErrExists      = errors.New("accounts: user exists")
	ErrNoUser      = errors.New("accounts: no such user")
	ErrNoUsersFile = errors.New("accounts: the configuration names no users.json (acl.users) or htpasswd (acl.htpasswd)")
	ErrBadName     = errors.New("accounts: bad user name")
	ErrBadRules    = errors.New("accounts: bad rules")
	ErrNotLoadable = errors.New("accounts: the edited files would not load; nothing was written")
)

// Rule is one repository rule: a pattern and its actions (none: a deny).
type Rule struct {
	Pattern string
	Actions []string
}

// Rules are what a new user gets besides a password.
type Rules struct {
	Repositories []Rule
	Groups       []string
	Catalog      bool
}

func (r Rules) empty() bool { return len(r.Repositories) == 0 && len(r.Groups) == 0 && !r.Catalog }

// Add adds user name with a bcrypt hash and rules. The hash goes into the
// htpasswd file when the configuration names one, else into users.json;
// the rules go into users.json.
func Add(f acl.Files, name, hash string, r Rules) error {
	if err := checkName(name); err != nil {
		return err
	}
	want := hash
	return change(f, false, func(e *edit) error {
		if _, exists := e.rules.User(name); exists {
			return fmt.Errorf("%w: %s (change the password with regtoken user passwd)", ErrExists, name)
		}
		if err := e.checkGroups(r.Groups); err != nil {
			return err
		}
		toHtpasswd := e.files.Htpasswd != ""
		switch {
		case toHtpasswd && !r.empty() && e.files.Users == "":
			return fmt.Errorf("%w: rules for an htpasswd user go into users.json, and the configuration names none (acl.users)", ErrBadRules)
		case !toHtpasswd && e.files.Users == "":
			return ErrNoUsersFile
		}
		if toHtpasswd {
			e.htpasswd = setHtpasswd(e.htpasswd, name, hash)
			hash = ""
		}
		if !toHtpasswd || !r.empty() {
			return e.addUserEntry(name, hash, r)
		}
		return nil
	}, func(rules *acl.Rules) bool { u, ok := rules.User(name); return ok && string(u.PassHash) == want })
}

// SetPassword replaces the bcrypt hash of user name where it is: its
// htpasswd line or its pass_hash in users.json. A user who has none gets
// one in htpasswd when the configuration names that file, else in
// users.json.
func SetPassword(f acl.Files, name, hash string) error {
	return change(f, false, func(e *edit) error {
		if _, exists := e.rules.User(name); !exists {
			return fmt.Errorf("%w: %s", ErrNoUser, name)
		}
		if hasHtpasswd(e.htpasswd, name) || (e.files.Htpasswd != "" && !e.hasPassHash(name)) {
			e.htpasswd = setHtpasswd(e.htpasswd, name, hash)
			return nil
		}
		return e.setPassHash(name, hash)
	}, func(rules *acl.Rules) bool { u, ok := rules.User(name); return ok && string(u.PassHash) == hash })
}

// Delete removes user name from users.json and htpasswd.
func Delete(f acl.Files, name string) error {
	return change(f, true, func(e *edit) error {
		if _, exists := e.rules.User(name); !exists {
			return fmt.Errorf("%w: %s", ErrNoUser, name)
		}
		e.htpasswd = removeHtpasswd(e.htpasswd, name)
		return e.removeUserEntry(name)
	}, func(rules *acl.Rules) bool { _, ok := rules.User(name); return !ok })
}

// checkName refuses names no client could log in with (Basic auth ends a
// user name at ':'), or that would break an htpasswd line.
func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, ":\n\r\t ") || strings.HasPrefix(name, "#") {
		return fmt.Errorf("%w %q: want a non-empty name without ':', spaces or a leading '#'", ErrBadName, name)
	}
	return nil
}

// checkGroups refuses groups the groups file does not define.
func (e *edit) checkGroups(groups []string) error {
	for _, g := range groups {
		if !slices.Contains(e.rules.Groups(), g) {
			return fmt.Errorf("%w: group %q is not defined%s", ErrBadRules, g, inFile(e.files.Groups))
		}
	}
	return nil
}

func inFile(path string) string {
	if path == "" {
		return " (the configuration names no groups file, acl.groups)"
	}
	return " in " + path
}

// change runs one edit under the lock: it reads the files, lets apply
// change their text, checks that the result loads and that done holds for
// it, and writes the files that changed. It writes htpasswd first when the
// edit removes a user (the password goes first) and last otherwise (the
// password comes last), so a reload between the two writes never lets in
// someone neither version of the files would.
func change(f acl.Files, removes bool, apply func(*edit) error, done func(*acl.Rules) bool) error {
	e, err := begin(f)
	if err != nil {
		return err
	}
	defer e.unlock()
	if err := apply(e); err != nil {
		return err
	}
	after, err := acl.Parse(e.users, e.repositories, e.groups, e.htpasswd, e.files)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotLoadable, err)
	}
	if !done(after) {
		return fmt.Errorf("%w: the change does not show in them", ErrNotLoadable)
	}
	return e.write(removes)
}

// edit is the text of the rule files during one change.
type edit struct {
	files                                 acl.Files
	rules                                 *acl.Rules // as loaded before the change
	users, repositories, groups, htpasswd []byte     // nil: not configured
	origUsers, origHtpasswd               []byte
	unlock                                func()
}

func begin(f acl.Files) (*edit, error) {
	if f.Users == "" && f.Htpasswd == "" {
		return nil, ErrNoUsersFile
	}
	unlock, err := lockDirs(f.Users, f.Htpasswd)
	if err != nil {
		return nil, err
	}
	e := &edit{files: f, unlock: unlock}
	for _, r := range []struct {
		path string
		dst  *[]byte
	}{{f.Users, &e.users}, {f.Repositories, &e.repositories}, {f.Groups, &e.groups}, {f.Htpasswd, &e.htpasswd}} {
		if r.path == "" {
			continue
		}
		if *r.dst, err = os.ReadFile(r.path); err != nil {
			unlock()
			if errors.Is(err, fs.ErrNotExist) && (r.path == f.Users || r.path == f.Htpasswd) {
				return nil, fmt.Errorf("accounts: %s does not exist; create it with the owner and mode serve reads it with "+
					"(an empty users.json is {}, an empty htpasswd file is empty)", r.path)
			}
			return nil, err
		}
	}
	if e.rules, err = acl.Parse(e.users, e.repositories, e.groups, e.htpasswd, f); err != nil {
		unlock()
		return nil, fmt.Errorf("accounts: the files do not load now; fix them first: %w", err)
	}
	e.origUsers, e.origHtpasswd = e.users, e.htpasswd
	return e, nil
}

// write replaces the files whose text changed, htpasswd first when
// htpasswdFirst.
func (e *edit) write(htpasswdFirst bool) error {
	steps := []struct {
		path      string
		old, text []byte
	}{{e.files.Users, e.origUsers, e.users}, {e.files.Htpasswd, e.origHtpasswd, e.htpasswd}}
	if htpasswdFirst {
		slices.Reverse(steps)
	}
	for _, s := range steps {
		if s.path != "" && string(s.old) != string(s.text) {
			if err := writeAtomic(s.path, s.text); err != nil {
				return err
			}
		}
	}
	return nil
}
