package accounts

import (
	"fmt"
	"strings"
)

// usersObject locates the members of users.json.
func (e *edit) usersObject() (object, error) {
	o, err := parseObject(e.users, 0, len(e.users))
	if err != nil {
		return o, fmt.Errorf("%s: %w", e.files.Users, err)
	}
	return o, nil
}

// userObject locates the members of user name's entry in users.json (the
// last one, which is the one acl reads); ok is false when there is none.
func (e *edit) userObject(name string) (o object, ok bool, err error) {
	if e.files.Users == "" {
		return o, false, nil
	}
	top, err := e.usersObject()
	if err != nil {
		return o, false, err
	}
	m, ok := top.last(name)
	if !ok {
		return o, false, nil
	}
	o, err = parseObject(e.users, m.valueStart, m.valueEnd)
	return o, err == nil, err
}

func (e *edit) hasPassHash(name string) bool {
	o, ok, _ := e.userObject(name)
	_, has := o.last("pass_hash")
	return ok && has
}

// setPassHash replaces the user's pass_hash, or adds one as its first key.
func (e *edit) setPassHash(name, hash string) error {
	o, ok, err := e.userObject(name)
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("%w: %s has no entry in %s", ErrNoUser, name, e.files.Users)
	}
	if m, has := o.last("pass_hash"); has {
		e.users = splice(e.users, m.valueStart, m.valueEnd, quote(hash))
		return nil
	}
	e.users = o.prependMember(e.users, "pass_hash", quote(hash))
	return nil
}

// addUserEntry appends an entry for a new user, laid out as the file's
// other entries are.
func (e *edit) addUserEntry(name, hash string, r Rules) error {
	top, err := e.usersObject()
	if err != nil {
		return err
	}
	indent, multiline := indentOf(top.separator(e.users))
	e.users = top.appendMember(e.users, name, renderUser(hash, r, indent, multiline))
	return nil
}

// removeUserEntry removes every entry of user name from users.json.
func (e *edit) removeUserEntry(name string) error {
	if e.files.Users == "" {
		return nil
	}
	for {
		top, err := e.usersObject()
		if err != nil {
			return err
		}
		i := top.index(name)
		if i < 0 {
			return nil
		}
		e.users = top.removeMember(e.users, i)
	}
}

// renderUser writes a users.json entry, one member a line in a file
// indented by step per level (top-level entries are one step deep), or all
// on one line. "repositories" is always there, as the original service
// expects.
func renderUser(hash string, r Rules, step string, multiline bool) string {
	var fields []string
	if hash != "" {
		fields = append(fields, `"pass_hash": `+quote(hash))
	}
	var repos []string
	for _, rule := range r.Repositories {
		repos = append(repos, quote(rule.Pattern)+": "+quoteList(rule.Actions))
	}
	fields = append(fields, `"repositories": `+block(repos, step+step, step, multiline))
	if len(r.Groups) > 0 {
		fields = append(fields, `"groups": `+quoteList(r.Groups))
	}
	if r.Catalog {
		fields = append(fields, `"catalog": true`)
	}
	return block(fields, step, step, multiline)
}

// block is {members} on one line, or one member a line indented by indent
// and one step more, with the closing brace at indent.
func block(members []string, indent, step string, multiline bool) string {
	switch {
	case len(members) == 0:
		return "{}"
	case !multiline:
		return "{" + strings.Join(members, ", ") + "}"
	}
	inner := "\n" + indent + step
	return "{" + inner + strings.Join(members, ","+inner) + "\n" + indent + "}"
}

func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
