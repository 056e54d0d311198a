package acl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// jsonFile walks a JSON document token by token so that every error and
// every problem can name the line of the key it is about; json.Unmarshal
// into structs would lose both the lines and duplicate keys.
type jsonFile struct {
	name     string
	data     []byte
	dec      *json.Decoder
	problems []Problem // duplicate and unknown keys, for Check
	// lineAt and lineOffset remember the last line found, so that finding
	// the next one, further on, counts only the newlines in between: the
	// decoder's offsets only grow, and counting from the start every time
	// made loading quadratic in the file's size.
	lineAt     int
	lineOffset int64
}

// openJSON checks the whole document first, so that a syntax error is
// reported with its line before anything is read.
func openJSON(name string, data []byte) (*jsonFile, error) {
	f := &jsonFile{name: name, data: data}
	if !json.Valid(data) { // a scan, without copying the document
		return nil, f.syntaxError()
	}
	f.dec = json.NewDecoder(bytes.NewReader(data))
	return f, nil
}

// syntaxError locates what makes the document invalid: only json.Unmarshal
// reports the offset of a syntax error.
func (f *jsonFile) syntaxError() error {
	var raw json.RawMessage
	err := json.Unmarshal(f.data, &raw)
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return f.fail(syn.Offset, "", failure(ErrSyntax, "%s", syn.Error()))
	}
	return f.fail(0, "", failure(ErrSyntax, "%v", err))
}

// line converts a byte offset to a 1-based line number.
func (f *jsonFile) line(offset int64) int {
	offset = max(0, min(offset, int64(len(f.data))))
	if offset < f.lineOffset || f.lineAt == 0 {
		f.lineAt, f.lineOffset = 1, 0
	}
	f.lineAt += bytes.Count(f.data[f.lineOffset:offset], []byte("\n"))
	f.lineOffset = offset
	return f.lineAt
}

func (f *jsonFile) fail(offset int64, key string, err error) error {
	return &LoadError{File: f.name, Line: f.line(offset), Key: key, Err: err}
}

// object reads one JSON object, calling each for every key with the line it
// is on; each must consume the value (with decode or skip). what names the
// object in messages.
func (f *jsonFile) object(key string, what place, each func(key string, line int) error) error {
	start := f.dec.InputOffset()
	tok, err := f.dec.Token()
	if err != nil {
		return f.fail(start, key, failure(ErrSyntax, "%v", err))
	}
	if tok != json.Delim('{') {
		return f.fail(start, key, failure(ErrInvalid, "%s: want an object, got %s", what, describe(tok)))
	}
	seen := map[string]int{}
	for f.dec.More() {
		tok, err := f.dec.Token()
		if err != nil {
			return f.fail(f.dec.InputOffset(), key, failure(ErrSyntax, "%v", err))
		}
		k := tok.(string) // the decoder guarantees keys are strings
		line := f.line(f.dec.InputOffset())
		if first, dup := seen[k]; dup {
			f.problems = append(f.problems, Problem{File: f.name, Key: k, Message: fmt.Sprintf(
				"line %d: duplicate key in %s (first on line %d); the later one wins", line, what, first)})
		}
		seen[k] = line
		if err := each(k, line); err != nil {
			return err
		}
	}
	_, err = f.dec.Token() // the closing brace; syntax was checked in openJSON
	return err
}

// decode reads the next value into v; want describes v for messages.
func (f *jsonFile) decode(key string, line int, v any, want string) error {
	if err := f.dec.Decode(v); err != nil {
		return &LoadError{File: f.name, Line: line, Key: key, Err: failure(ErrInvalid, "want %s", want)}
	}
	return nil
}

// skip consumes a value nobody asked for and records that it is ignored.
func (f *jsonFile) skip(key string, line int, what place) error {
	f.problems = append(f.problems, Problem{File: f.name, Key: key, Message: fmt.Sprintf(
		"line %d: unknown key in %s, ignored", line, what)})
	var ignored json.RawMessage
	return f.decode(key, line, &ignored, "a JSON value")
}

// place names a JSON object in messages: a file (users.json), an entry
// (user "foo") or a part of one (group "devs" repositories). The text is
// made only when a message needs it: a large users file has hundreds of
// thousands of entries and few messages.
type place struct {
	kind, name, part string
}

func (p place) String() string {
	if p.name == "" {
		return p.kind + p.part
	}
	return p.kind + " " + strconv.Quote(p.name) + p.part
}

// repositories names p's repositories object.
func (p place) repositories() place { p.part = " repositories"; return p }

// describe names a JSON token for "want X, got Y" messages.
func describe(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "a list"
		}
		return fmt.Sprintf("%q", string(t))
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}
