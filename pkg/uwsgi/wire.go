package uwsgi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/regtoken/regtoken/pkg/gateway"
	"github.com/regtoken/regtoken/pkg/limits"
)

// The uwsgi request head (uwsgi-docs Protocol.rst), all sizes little endian:
//
//	header = modifier1:u8 datasize:u16 modifier2:u8
//	vars   = *(keysize:u16 key valsize:u16 val)     datasize bytes in all

// Accepted modifier1 values: 0 is a plain WSGI-style request; 30 is the
// same with SCRIPT_NAME meant to be stripped from PATH_INFO, which old
// uWSGI configs set. REQUEST_URI is used either way, so both read the same.
const (
	modifierWSGI       = 0
	modifierWSGIStrip  = 30
	schemeVar          = "UWSGI_SCHEME"
	uwsgiPrefix        = "UWSGI_"
	defaultVarsPerHead = 32 // nginx sends ~20 params plus the request headers
)

// Errors returned by ReadHeaders, besides io.ErrUnexpectedEOF for a stream
// that ends early.
var (
	// ErrBadModifier: modifier1 is neither 0 nor 30, so the packet is not a
	// request this server understands (72, for instance, is a response).
	ErrBadModifier = errors.New("uwsgi: unsupported modifier1")
	// ErrBadVars: the vars block is not a sequence of sized pairs.
	ErrBadVars = errors.New("uwsgi: malformed vars block")
	// ErrHeaderTooLarge: the vars block is larger than the cap.
	ErrHeaderTooLarge = gateway.ErrHeaderTooLarge
	// ErrConflictingContentLength: CONTENT_LENGTH appears twice with two
	// values, so the body boundary is ambiguous.
	ErrConflictingContentLength = gateway.ErrConflictingContentLength
)

// ReadHeaders reads one uwsgi request head from br and returns its
// variables, repeated keys folded as nginx 1.23 and later fold them itself.
// UWSGI_* vars (uWSGI's own settings in old configs) are dropped, except
// that UWSGI_SCHEME=https sets HTTPS=on as uWSGI does. modifier2 is ignored. It
// leaves br at the first body byte. The vars block may hold at most maxBytes
// bytes ([limits.DefaultMaxHeaderBytes] if maxBytes <= 0). It returns io.EOF
// only if the stream ends before its first byte.
func ReadHeaders(br *bufio.Reader, maxBytes int) (map[string]string, error) {
	if maxBytes <= 0 {
		maxBytes = limits.DefaultMaxHeaderBytes
	}
	var head [4]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("uwsgi: packet header: %w", err)
	}
	if m := head[0]; m != modifierWSGI && m != modifierWSGIStrip {
		return nil, fmt.Errorf("%w: %d", ErrBadModifier, m)
	}
	size := int(binary.LittleEndian.Uint16(head[1:3]))
	if size > maxBytes {
		return nil, fmt.Errorf("%w: vars block of %d bytes > %d", ErrHeaderTooLarge, size, maxBytes)
	}
	block, err := gateway.ReadString(br, size)
	if err != nil {
		return nil, fmt.Errorf("uwsgi: reading %d-byte vars block: %w", size, err)
	}
	return parseVars(block)
}

// parseVars splits the vars block into variables. Keys and values are
// substrings of block, so they cost no allocation of their own.
func parseVars(block string) (map[string]string, error) {
	env := make(map[string]string, defaultVarsPerHead)
	https := false
	for i := 0; block != ""; i++ {
		key, rest, err := cutSized(block)
		if err != nil {
			return nil, fmt.Errorf("%w: key of var %d: %w", ErrBadVars, i, err)
		}
		value, rest, err := cutSized(rest)
		if err != nil {
			return nil, fmt.Errorf("%w: value of var %d: %w", ErrBadVars, i, err)
		}
		block = rest
		switch {
		case key == "":
			return nil, fmt.Errorf("%w: var %d has an empty key", ErrBadVars, i)
		case key == schemeVar:
			https = strings.EqualFold(value, "https")
		case strings.HasPrefix(key, uwsgiPrefix):
			// uWSGI's per-request settings; nothing here to apply them to.
		default:
			if err := gateway.AddVar(env, key, value); err != nil {
				return nil, err
			}
		}
	}
	if https && env["HTTPS"] == "" {
		env["HTTPS"] = "on"
	}
	return env, nil
}

var (
	errNoSize     = errors.New("size field cut off")
	errPastTheEnd = errors.New("length runs past the end of the block")
)

// cutSized splits one u16-length-prefixed string off the front of b.
func cutSized(b string) (s, rest string, err error) {
	if len(b) < 2 {
		return "", "", errNoSize
	}
	n := int(b[0]) | int(b[1])<<8
	b = b[2:]
	if n > len(b) {
		return "", "", errPastTheEnd
	}
	return b[:n], b[n:], nil
}
