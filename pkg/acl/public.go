package acl

import (
	"encoding/json"
	"fmt"
)

// publicList is repositories.json: what everyone, logged in or not, may pull.
type publicList struct {
	blacklist bool
	entries   []publicEntry
}

type publicEntry struct {
	key  string
	line int
}

// parsePublic reads {"backlist": bool, "repositories": [patterns]}. The
// original spells the flag "backlist"; "blacklist" is accepted as well, and
// both present with different values is an error rather than a guess.
func parsePublic(f *jsonFile) (publicList, error) {
	var p publicList
	var flags = map[string]bool{}
	var flagLine int
	err := f.object("", place{kind: "repositories.json"}, func(field string, line int) error {
		switch field {
		case "backlist", "blacklist":
			var v bool
			if err := f.decode(field, line, &v, "true or false"); err != nil {
				return err
			}
			flags[field], flagLine = v, line
			return nil
		case "repositories":
			return parsePublicEntries(f, field, line, &p)
		}
		return f.skip(field, line, place{kind: "repositories.json"})
	})
	if err != nil {
		return p, err
	}
	back, hasBack := flags["backlist"]
	black, hasBlack := flags["blacklist"]
	if hasBack && hasBlack && back != black {
		return p, &LoadError{File: f.name, Line: flagLine, Key: "blacklist",
			Err: failure(ErrConflict, `"backlist" and "blacklist" are both given and differ`)}
	}
	p.blacklist = back || black
	return p, nil
}

func parsePublicEntries(f *jsonFile, field string, line int, p *publicList) error {
	start := f.dec.InputOffset()
	tok, err := f.dec.Token()
	if err != nil {
		return f.fail(start, field, failure(ErrSyntax, "%v", err))
	}
	if tok != json.Delim('[') {
		return &LoadError{File: f.name, Line: line, Key: field,
			Err: failure(ErrInvalid, "want a list of repository names or patterns, got %s", describe(tok))}
	}
	seen := map[string]int{}
	for f.dec.More() {
		var key string
		if err := f.decode(field, f.line(f.dec.InputOffset()), &key, "a repository name or pattern string"); err != nil {
			return err
		}
		line := f.line(f.dec.InputOffset())
		if err := checkKeySyntax(key, false); err != nil {
			return &LoadError{File: f.name, Line: line, Key: key, Err: err}
		}
		if first, dup := seen[key]; dup {
			f.problems = append(f.problems, Problem{File: f.name, Key: key, Message: fmt.Sprintf(
				"line %d: listed twice (first on line %d)", line, first)})
		} else {
			seen[key] = line
		}
		p.entries = append(p.entries, publicEntry{key: key, line: line})
	}
	_, err = f.dec.Token() // the closing bracket
	return err
}
