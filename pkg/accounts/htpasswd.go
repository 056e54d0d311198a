package accounts

import (
	"bytes"
	"strings"
)

// htpasswd files are edited line by line: comments, blank lines and other
// users' lines stay as they are.

// htpasswdLine reports whether line is name's entry.
func htpasswdLine(line []byte, name string) bool {
	return strings.HasPrefix(strings.TrimSpace(string(line)), name+":")
}

func hasHtpasswd(data []byte, name string) bool {
	for line := range bytes.Lines(data) {
		if htpasswdLine(line, name) {
			return true
		}
	}
	return false
}

// setHtpasswd replaces name's line, or appends one.
func setHtpasswd(data []byte, name, hash string) []byte {
	entry := name + ":" + hash + "\n"
	var out []byte
	found := false
	for line := range bytes.Lines(data) {
		if htpasswdLine(line, name) && !found {
			out = append(out, entry...)
			found = true
			continue
		}
		out = append(out, line...)
	}
	if found {
		return out
	}
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, entry...)
}

// removeHtpasswd removes name's line.
func removeHtpasswd(data []byte, name string) []byte {
	var out []byte
	for line := range bytes.Lines(data) {
		if !htpasswdLine(line, name) {
			out = append(out, line...)
		}
	}
	if out == nil && data != nil {
		return []byte{}
	}
	return out
}
