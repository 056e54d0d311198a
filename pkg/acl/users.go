package acl

import (
	"time"
)

// User is what the authentication step needs to know about a user.
type User struct {
	Name string
	// PassHash is the bcrypt hash from users.json or htpasswd; nil when the
	// user has none (then nobody can log in as this user; Check reports it).
	PassHash []byte
	Groups   []string
	// Catalog: the user or one of its groups may list the catalog.
	Catalog bool
	// TokensNotBefore revokes refresh tokens issued before it (users.json
	// "tokens_not_before", RFC 3339); zero when unset.
	TokensNotBefore time.Time
}

// ruleEntry is one "key": [actions] line as written.
type ruleEntry struct {
	key     string
	actions actionSet
	deny    bool // the list was empty
	line    int
}

// userEntry is one users.json entry as written.
type userEntry struct {
	name      string
	line      int
	passHash  string // "" when absent
	rules     []ruleEntry
	groups    []string
	catalog   bool
	notBefore time.Time
}

// parseUsers reads users.json: {"name": {"pass_hash": ..., "repositories":
// {...}, "groups": [...], "catalog": bool, "tokens_not_before": "..."}}.
// A user named twice keeps the later entry, as the original's json.load did.
func parseUsers(f *jsonFile) ([]userEntry, error) {
	var users []userEntry
	index := map[string]int{}
	err := f.object("", place{kind: "users.json"}, func(name string, line int) error {
		u, err := parseUser(f, name, line)
		if err != nil {
			return err
		}
		if i, dup := index[name]; dup {
			users[i] = u
			return nil
		}
		index[name] = len(users)
		users = append(users, u)
		return nil
	})
	return users, err
}

func parseUser(f *jsonFile, name string, line int) (userEntry, error) {
	u := userEntry{name: name, line: line}
	what := place{kind: "user", name: name}
	err := f.object(name, what, func(field string, line int) error {
		switch field {
		case "pass_hash":
			return f.decode(field, line, &u.passHash, "a bcrypt hash string")
		case "repositories":
			rules, err := parseRuleMap(f, field, what, true)
			u.rules = rules
			return err
		case "groups":
			return f.decode(field, line, &u.groups, "a list of group names")
		case "catalog":
			return f.decode(field, line, &u.catalog, "true or false")
		case "tokens_not_before":
			return parseTime(f, field, line, &u.notBefore)
		}
		return f.skip(field, line, what)
	})
	return u, err
}

// parseRuleMap reads {"key": [actions], ...} of a user or a group.
func parseRuleMap(f *jsonFile, field string, owner place, userAllowed bool) ([]ruleEntry, error) {
	var rules []ruleEntry
	index := map[string]int{}
	err := f.object(field, owner.repositories(), func(key string, line int) error {
		if err := checkKeySyntax(key, userAllowed); err != nil {
			return &LoadError{File: f.name, Line: line, Key: key, Err: err}
		}
		var names *[]string
		if err := f.decode(key, line, &names, "a list of actions"); err != nil {
			return err
		}
		if names == nil {
			return &LoadError{File: f.name, Line: line, Key: key,
				Err: failure(ErrInvalid, "want a list of actions (use [] to deny), got null")}
		}
		r := ruleEntry{key: key, line: line, deny: len(*names) == 0}
		for _, n := range *names {
			bit, ok := parseAction(n)
			if !ok {
				return &LoadError{File: f.name, Line: line, Key: key,
					Err: failure(ErrInvalid, "unknown action %q (want pull, push, delete or *)", n)}
			}
			r.actions |= bit
		}
		if i, dup := index[key]; dup { // the later wins, as in json.load; object() reported it
			rules[i] = r
			return nil
		}
		index[key] = len(rules)
		rules = append(rules, r)
		return nil
	})
	return rules, err
}

func parseTime(f *jsonFile, field string, line int, t *time.Time) error {
	var s string
	if err := f.decode(field, line, &s, "an RFC 3339 time string"); err != nil {
		return err
	}
	parsed, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return &LoadError{File: f.name, Line: line, Key: field,
			Err: failure(ErrInvalid, "want an RFC 3339 time like 2026-01-02T15:04:05Z, got %q", s)}
	}
	*t = parsed
	return nil
}
