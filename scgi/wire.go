package scgi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/regtoken/regtoken/pkg/gateway"
	"github.com/regtoken/regtoken/pkg/limits"
)

// The SCGI request head (protocol.txt, Neil Schemenauer, 2008):
//
//	netstring = length ":" headers ","       length: decimal, no leading zero
//	headers   = 1*(name NUL value NUL)       first name CONTENT_LENGTH, SCGI=1 present

// maxLengthDigits bounds the netstring length field before the byte cap
// applies, so no input makes us parse an unbounded number.
const maxLengthDigits = 7

// Errors returned by ReadHeaders, besides io.ErrUnexpectedEOF for a stream
// that ends early.
var (
	// ErrBadNetstring: the length prefix or the closing ',' is malformed.
	ErrBadNetstring = errors.New("scgi: malformed netstring")
	// ErrBadHeaders: the headers are not a sequence of NUL-terminated pairs.
	ErrBadHeaders = errors.New("scgi: malformed header pairs")
	// ErrNoContentLength: the first header is not CONTENT_LENGTH.
	ErrNoContentLength = errors.New("scgi: first header is not CONTENT_LENGTH")
	// ErrNotSCGI: the header SCGI with value 1 is missing.
	ErrNotSCGI = errors.New("scgi: SCGI=1 header missing")
	// ErrHeaderTooLarge: the netstring is longer than the cap.
	ErrHeaderTooLarge = gateway.ErrHeaderTooLarge
	// ErrBadContentLength: CONTENT_LENGTH is not a decimal number.
	ErrBadContentLength = gateway.ErrBadContentLength
	// ErrConflictingContentLength: CONTENT_LENGTH appears twice with two
	// values, so the body boundary is ambiguous.
	ErrConflictingContentLength = gateway.ErrConflictingContentLength
)

// ReadHeaders reads one SCGI request head from br and returns its variables,
// repeated names folded (nginx before 1.23 repeats them): HTTP_COOKIE values
// joined with "; ", other HTTP_* values with ", ", and a repeated
// CONTENT_LENGTH must carry the same number. It leaves br at the first body
// byte. The netstring may hold at most maxBytes bytes
// ([limits.DefaultMaxHeaderBytes] if maxBytes <= 0). It returns io.EOF only if
// the stream ends before its first byte.
func ReadHeaders(br *bufio.Reader, maxBytes int) (map[string]string, error) {
	if maxBytes <= 0 {
		maxBytes = limits.DefaultMaxHeaderBytes
	}
	n, err := readLength(br, maxBytes)
	if err != nil {
		return nil, err
	}
	block, err := gateway.ReadString(br, n)
	if err != nil {
		return nil, fmt.Errorf("scgi: reading %d-byte netstring: %w", n, err)
	}
	switch c, err := br.ReadByte(); {
	case err == io.EOF:
		return nil, fmt.Errorf("scgi: netstring without ',': %w", io.ErrUnexpectedEOF)
	case err != nil:
		return nil, fmt.Errorf("scgi: reading netstring end: %w", err)
	case c != ',':
		return nil, fmt.Errorf("%w: no ',' after %d bytes", ErrBadNetstring, n)
	}
	return parseHeaders(block)
}

// readLength reads the netstring length and its ':'.
func readLength(br *bufio.Reader, maxBytes int) (int, error) {
	n := 0
	for digits := 0; ; digits++ {
		c, err := br.ReadByte()
		switch {
		case err == io.EOF && digits == 0:
			return 0, io.EOF
		case err == io.EOF:
			return 0, fmt.Errorf("scgi: netstring length: %w", io.ErrUnexpectedEOF)
		case err != nil:
			return 0, fmt.Errorf("scgi: netstring length: %w", err)
		case c == ':' && digits > 0:
			return n, nil
		case c < '0' || c > '9':
			return 0, fmt.Errorf("%w: byte %q in length", ErrBadNetstring, c)
		case digits == 1 && n == 0:
			return 0, fmt.Errorf("%w: length has a leading zero", ErrBadNetstring)
		case digits == maxLengthDigits:
			return 0, fmt.Errorf("%w: length has more than %d digits", ErrBadNetstring, maxLengthDigits)
		}
		n = n*10 + int(c-'0')
		if n > maxBytes {
			return 0, fmt.Errorf("%w: netstring longer than %d bytes", ErrHeaderTooLarge, maxBytes)
		}
	}
}

// parseHeaders splits the netstring body into variables. Keys and values
// are substrings of block, so they cost no allocation of their own.
func parseHeaders(block string) (map[string]string, error) {
	env := make(map[string]string, 32) // nginx sends ~20 params plus the request headers
	sawSCGI := false
	for i := 0; block != ""; i++ {
		name, rest, ok := strings.Cut(block, "\x00")
		if !ok {
			return nil, fmt.Errorf("%w: header %d has no NUL after its name", ErrBadHeaders, i)
		}
		value, rest, ok := strings.Cut(rest, "\x00")
		if !ok {
			return nil, fmt.Errorf("%w: header %d has no value (odd number of strings)", ErrBadHeaders, i)
		}
		block = rest
		if name == "" {
			return nil, fmt.Errorf("%w: header %d has an empty name", ErrBadHeaders, i)
		}
		if i == 0 && name != "CONTENT_LENGTH" {
			return nil, ErrNoContentLength
		}
		if name == "CONTENT_LENGTH" && !isDecimal(value) {
			return nil, ErrBadContentLength // SCGI wants digits, even "0" on a GET
		}
		if name == "SCGI" {
			sawSCGI = value == "1"
		}
		if err := gateway.AddVar(env, name, value); err != nil {
			return nil, err
		}
	}
	if len(env) == 0 {
		return nil, ErrNoContentLength
	}
	if !sawSCGI {
		return nil, ErrNotSCGI
	}
	return env, nil
}

// isDecimal reports whether s is a non-empty run of ASCII digits.
func isDecimal(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool { return r < '0' || r > '9' })
}
