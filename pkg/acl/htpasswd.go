package acl

import (
	"bytes"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// htpasswdEntry is one "user:hash" line.
type htpasswdEntry struct {
	hash string
	line int
}

// parseHtpasswd reads an htpasswd file as `htpasswd -B` writes it. Only
// bcrypt is accepted: the other formats htpasswd can write (MD5-crypt,
// SHA-1, crypt, plain) are too weak to keep, so they stop the load rather
// than silently locking users out.
func parseHtpasswd(name string, data []byte) (map[string]htpasswdEntry, error) {
	users := map[string]htpasswdEntry{}
	for i, raw := range bytes.Split(data, []byte("\n")) {
		line := i + 1
		text := strings.TrimSpace(string(raw))
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		user, hash, ok := strings.Cut(text, ":")
		if !ok || user == "" {
			return nil, &LoadError{File: name, Line: line, Err: failure(ErrSyntax, `want "user:bcrypt-hash"`)}
		}
		if !isBcrypt(hash) {
			return nil, &LoadError{File: name, Line: line, Key: user,
				Err: failure(ErrUnsupportedHash, "only bcrypt hashes are supported (htpasswd -B)")}
		}
		if prev, dup := users[user]; dup {
			return nil, &LoadError{File: name, Line: line, Key: user,
				Err: failure(ErrConflict, "user already defined on line %d", prev.line)}
		}
		users[user] = htpasswdEntry{hash: hash, line: line}
	}
	return users, nil
}

// isBcrypt reports whether hash is a bcrypt hash the bcrypt package can
// verify: one of the $2a$, $2b$, $2y$ prefixes and a readable cost.
func isBcrypt(hash string) bool {
	switch {
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
	default:
		return false
	}
	_, err := bcrypt.Cost([]byte(hash))
	return err == nil
}
