// Package secretfile reads files that hold secrets (passwords, the store's
// shared secret, private keys) and refuses those that others can read.
//
// It must not log, and its errors must never repeat what a file holds:
// they name the configuration key and the file only.
package secretfile

import (
	"fmt"
	"os"
	"strings"
)

// Read returns the content of path, unless others can read the file
// (group read is allowed, for 0640 root:regtoken as the rule files are):
// whoever reads it holds what it opens. key is the configuration key
// that names the file, for the errors.
func Read(key, path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if fi.Mode().Perm()&0o007 != 0 {
		return nil, fmt.Errorf("%s: %s is readable by others (mode %04o): chmod o-rwx", key, path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return b, nil
}

// Text reads a password or secret with Read: the file's text without its
// final line break. An empty one is an error.
func Text(key, path string) (string, error) {
	b, err := Read(key, path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", fmt.Errorf("%s: %s is empty", key, path)
	}
	return s, nil
}
