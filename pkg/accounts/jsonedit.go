package accounts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// The editor changes users.json as text, not by decoding and encoding it:
// every byte outside the entry it changes stays as the operator wrote it
// (order, indentation, spacing, the entries of other users). It only needs
// to know where each member of an object starts and ends.

// member is one "name": value pair of a JSON object, as byte offsets.
type member struct {
	name                 string
	keyStart             int // the key's opening quote
	valueStart, valueEnd int // the value, [valueStart, valueEnd)
}

// object is a JSON object's braces and members, as offsets into its text.
type object struct {
	open, close int // the offsets of '{' and '}'
	members     []member
}

// parseObject locates the members of the object that data[start:end] is
// (whitespace around it allowed).
func parseObject(data []byte, start, end int) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(data[start:end]))
	var o object
	tok, err := dec.Token()
	if d, ok := tok.(json.Delim); err != nil || !ok || d != '{' {
		return o, fmt.Errorf("not a JSON object")
	}
	o.open = start + int(dec.InputOffset()) - 1
	for dec.More() {
		before := start + int(dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return o, err
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return o, err
		}
		valueEnd := start + int(dec.InputOffset())
		o.members = append(o.members, member{
			name:       name,
			keyStart:   before + bytes.IndexByte(data[before:], '"'),
			valueStart: valueEnd - len(raw),
			valueEnd:   valueEnd,
		})
	}
	if _, err := dec.Token(); err != nil && err != io.EOF {
		return o, err
	}
	o.close = start + int(dec.InputOffset()) - 1
	return o, nil
}

// index returns the index of the first member named name, or -1.
func (o object) index(name string) int {
	for i, m := range o.members {
		if m.name == name {
			return i
		}
	}
	return -1
}

// last returns the last member named name (the one a JSON reader keeps),
// and whether there is one.
func (o object) last(name string) (member, bool) {
	for i := len(o.members) - 1; i >= 0; i-- {
		if o.members[i].name == name {
			return o.members[i], true
		}
	}
	return member{}, false
}

// separator is the text between two members after the comma, or between
// '{' and the first member: "\n    " in an indented file, " " or "" on one
// line.
func (o object) separator(data []byte) string {
	switch len(o.members) {
	case 0:
		return "\n    "
	case 1:
		if sep := string(data[o.open+1 : o.members[0].keyStart]); sep != "" {
			return sep
		}
		return " " // {"a": …} gives no example: a space, as after the colon
	}
	m := o.members[len(o.members)-1]
	prev := o.members[len(o.members)-2]
	between := data[prev.valueEnd:m.keyStart]
	return string(between[bytes.IndexByte(between, ',')+1:])
}

// appendMember returns data with "name": value added as the object's last member.
func (o object) appendMember(data []byte, name string, value string) []byte {
	sep := o.separator(data)
	entry := quote(name) + ": " + value
	if len(o.members) == 0 {
		closing := strings.TrimRight(sep, " \t") // "\n" before the '}' when indented
		return splice(data, o.open+1, o.close, sep+entry+closing)
	}
	end := o.members[len(o.members)-1].valueEnd
	return splice(data, end, end, ","+sep+entry)
}

// prependMember returns data with "name": value added as the object's first member.
func (o object) prependMember(data []byte, name string, value string) []byte {
	if len(o.members) == 0 {
		return splice(data, o.open+1, o.close, quote(name)+": "+value)
	}
	first := o.members[0].keyStart
	return splice(data, first, first, quote(name)+": "+value+","+o.separator(data))
}

// removeMember returns data without member i, and with the comma and
// whitespace around it tidied as if it had never been there.
func (o object) removeMember(data []byte, i int) []byte {
	m := o.members[i]
	switch {
	case i > 0: // from the end of the member before it
		return splice(data, o.members[i-1].valueEnd, m.valueEnd, "")
	case len(o.members) > 1: // the first of several: up to the next key
		return splice(data, m.keyStart, o.members[1].keyStart, "")
	}
	return splice(data, o.open+1, o.close, "") // the only one
}

// splice replaces data[from:to] with text.
func splice(data []byte, from, to int, text string) []byte {
	out := make([]byte, 0, len(data)-(to-from)+len(text))
	out = append(out, data[:from]...)
	out = append(out, text...)
	return append(out, data[to:]...)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// indentOf returns the indentation of the line sep ends on ("    " for
// "\n    "), or "" when sep has no newline: the file is on one line.
func indentOf(sep string) (string, bool) {
	i := strings.LastIndexByte(sep, '\n')
	if i < 0 {
		return "", false
	}
	return sep[i+1:], true
}
