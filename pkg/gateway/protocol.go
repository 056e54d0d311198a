package gateway

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Protocol is what one gateway protocol contributes to a [Server]: how to
// read a request's variables and how to start its response. Packages scgi
// and uwsgi each export one; their methods use only standard types, so a
// protocol package exposes nothing of this one.
type Protocol interface {
	// Name labels log lines, e.g. "scgi".
	Name() string

	// ReadHeaders reads one request head from br and returns its
	// variables, leaving br at the first body byte. The variable block may
	// hold at most maxBytes bytes ([ErrHeaderTooLarge] beyond). It returns
	// io.EOF, and only io.EOF, when the peer closed the connection before
	// sending a byte. Errors must not quote variable values.
	ReadHeaders(br *bufio.Reader, maxBytes int) (map[string]string, error)

	// StatusPrefix starts the first line of every response, before
	// "NNN Reason\r\n": "Status: " makes the CGI header SCGI expects,
	// "HTTP/1.1 " the raw status line uwsgi expects.
	StatusPrefix() string
}

// appendStatusLine appends prefix, the three-digit code, a reason phrase
// and CRLF to dst.
func appendStatusLine(dst []byte, prefix string, code int) []byte {
	dst = append(dst, prefix...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	if text := http.StatusText(code); text != "" {
		dst = append(dst, text...)
	} else {
		// Same wording net/http uses for codes it has no name for.
		dst = append(dst, "status code "...)
		dst = strconv.AppendInt(dst, int64(code), 10)
	}
	return append(dst, "\r\n"...)
}

// ReadString reads exactly n bytes from br and returns them as one string,
// for a [Protocol] to read its variable block with. Parsers slice keys and
// values out of that string, so a whole variable block
// costs a single allocation. A short read returns io.ErrUnexpectedEOF (or
// the underlying error, e.g. a timeout).
func ReadString(br *bufio.Reader, n int) (string, error) {
	var b strings.Builder
	b.Grow(n)
	for b.Len() < n {
		chunk, err := br.Peek(min(n-b.Len(), br.Size()))
		b.Write(chunk)
		br.Discard(len(chunk))
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
	return b.String(), nil
}

// AddVar stores key=value in env for a [Protocol], folding a repeated key the way nginx 1.23
// and later do itself (older nginx sends repeated request headers as
// repeated keys, and a plain map would keep only the last one):
//
//   - HTTP_COOKIE values are joined with "; ", other HTTP_* values with ", ";
//   - a repeated CONTENT_LENGTH must carry the same number ("" counts as 0),
//     otherwise the body boundary is ambiguous and [ErrConflictingContentLength]
//     is returned;
//   - for any other variable the later value wins, as a later *_param line
//     overrides an included one.
func AddVar(env map[string]string, key, value string) error {
	old, dup := env[key]
	switch {
	case !dup:
		env[key] = value
	case key == "CONTENT_LENGTH":
		if !sameLength(old, value) {
			return ErrConflictingContentLength
		}
	case key == "HTTP_COOKIE":
		env[key] = old + "; " + value
	case strings.HasPrefix(key, "HTTP_"):
		env[key] = old + ", " + value
	default:
		env[key] = value
	}
	return nil
}

func sameLength(a, b string) bool {
	x, errA := parseLength(a)
	y, errB := parseLength(b)
	return errA == nil && errB == nil && x == y
}

// parseLength parses a CONTENT_LENGTH value: empty means 0 (uwsgi sends ""
// on GET), otherwise decimal digits only. strconv.ParseInt alone would also
// accept a sign, and cgi.RequestFromMap would take "-1" as a length.
func parseLength(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if !isDigits(s) {
		return 0, ErrBadContentLength
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, ErrBadContentLength
	}
	return n, nil
}

// isDigits reports whether s is a non-empty run of ASCII decimal digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
