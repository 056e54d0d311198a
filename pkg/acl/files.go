package acl

import (
	"fmt"
	"os"
)

// Files names the rule files. Only Users existed in the original with
// Repositories; every path may be "" (no such file).
type Files struct {
	Users        string // users.json
	Repositories string // repositories.json: the public (anonymous) pull list
	Groups       string // optional groups file
	Htpasswd     string // optional htpasswd file, bcrypt entries only
	// AnonymousCatalog lets everyone, logged in or not, list the catalog.
	AnonymousCatalog bool
	// DirectoryUsers: a directory holds passwords too, so a users.json
	// entry without one gives a directory user rules, and Check does not
	// call it a user nobody can log in as.
	DirectoryUsers bool
	// MaxShrink is the share of the users of users.json or of htpasswd that
	// one reload may remove (see Rules.CheckShrink); 0 means
	// DefaultMaxShrink, 1 turns the guard off.
	MaxShrink float64
}

// Default names used in messages when Parse gets data without a path.
const (
	defaultUsersName        = "users.json"
	defaultRepositoriesName = "repositories.json"
	defaultGroupsName       = "groups.json"
	defaultHtpasswdName     = "htpasswd"
)

// Load reads and validates every named file. Its errors name the file and,
// when known, the line and key (a *LoadError wrapping ErrSyntax, ErrInvalid,
// ErrUnsupportedHash or ErrConflict), or wrap the os error of a file that
// cannot be read.
func Load(f Files) (*Rules, error) {
	var data [4][]byte
	for i, path := range [4]string{f.Users, f.Repositories, f.Groups, f.Htpasswd} {
		if path == "" {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("acl: %w", err) // *PathError names the file
		}
		if b == nil {
			b = []byte{} // an empty file is present, and malformed
		}
		data[i] = b
	}
	return Parse(data[0], data[1], data[2], data[3], f)
}

// Parse is Load from bytes, for tests and fuzzing. A nil slice means the file
// is absent; the paths in f only name the files in messages and rule
// references (defaults: users.json, repositories.json, groups.json, htpasswd).
func Parse(users, repositories, groups, htpasswd []byte, f Files) (*Rules, error) {
	names := f
	names.Users = nameOr(f.Users, defaultUsersName)
	names.Repositories = nameOr(f.Repositories, defaultRepositoriesName)
	names.Groups = nameOr(f.Groups, defaultGroupsName)
	names.Htpasswd = nameOr(f.Htpasswd, defaultHtpasswdName)

	var s sources
	var err error
	if htpasswd != nil {
		if s.htpasswd, err = parseHtpasswd(names.Htpasswd, htpasswd); err != nil {
			return nil, err
		}
	}
	if users != nil {
		if s.users, err = parseJSON(names.Users, users, &s.problems, parseUsers); err != nil {
			return nil, err
		}
	}
	if groups != nil {
		parse := func(jf *jsonFile) (map[string]*groupEntry, error) {
			g, order, err := parseGroups(jf)
			s.groupOrder = order
			return g, err
		}
		if s.groups, err = parseJSON(names.Groups, groups, &s.problems, parse); err != nil {
			return nil, err
		}
	}
	if repositories != nil {
		if s.public, err = parseJSON(names.Repositories, repositories, &s.problems, parsePublic); err != nil {
			return nil, err
		}
	}
	return build(names, s)
}

func nameOr(name, fallback string) string {
	if name == "" {
		return fallback
	}
	return name
}

// parseJSON opens one JSON file, runs its parser and keeps the problems
// found on the way (duplicate and unknown keys) for Check.
func parseJSON[T any](name string, data []byte, problems *[]Problem, parse func(*jsonFile) (T, error)) (T, error) {
	var zero T
	jf, err := openJSON(name, data)
	if err != nil {
		return zero, err
	}
	v, err := parse(jf)
	if err != nil {
		return zero, err
	}
	*problems = append(*problems, jf.problems...)
	return v, nil
}
