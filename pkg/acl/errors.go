package acl

import (
	"errors"
	"fmt"
)

// Load and Parse errors wrap one of these; test with errors.Is.
var (
	// ErrSyntax: a file is not well-formed JSON or htpasswd.
	ErrSyntax = errors.New("malformed file")
	// ErrInvalid: a value has the wrong type or meaning (unknown action,
	// bad pattern, bad timestamp).
	ErrInvalid = errors.New("invalid value")
	// ErrUnsupportedHash: an htpasswd entry is not a bcrypt hash.
	ErrUnsupportedHash = errors.New("unsupported password hash")
	// ErrConflict: two definitions contradict each other (a user with two
	// password hashes, "backlist" and "blacklist" differing).
	ErrConflict = errors.New("conflicting definitions")
)

// LoadError locates a problem in one of the rule files.
type LoadError struct {
	File string // path (or name) of the file
	Line int    // 1-based; 0 when unknown
	Key  string // innermost JSON key or user name; "" when unknown
	Err  error  // wraps one of the sentinel errors above
}

func (e *LoadError) Error() string {
	msg := e.File
	if e.Line > 0 {
		msg += fmt.Sprintf(": line %d", e.Line)
	}
	if e.Key != "" {
		msg += fmt.Sprintf(": %q", e.Key)
	}
	return msg + ": " + e.Err.Error()
}

func (e *LoadError) Unwrap() error { return e.Err }

// failure builds the Err of a LoadError: the sentinel first, so messages
// read "invalid value: unknown action ...".
func failure(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
