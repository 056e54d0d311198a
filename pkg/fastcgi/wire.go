package fastcgi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
)

// The FastCGI 1.0 specification, section 8: record types, flags, roles and
// protocol statuses, as far as a responder meets them.
const (
	version1 = 1

	typeBeginRequest    = 1
	typeAbortRequest    = 2
	typeEndRequest      = 3
	typeParams          = 4
	typeStdin           = 5
	typeStdout          = 6
	typeData            = 8
	typeGetValues       = 9
	typeGetValuesResult = 10
	typeUnknownType     = 11

	flagKeepConn  = 1
	roleResponder = 1

	statusRequestComplete = 0
	statusCantMultiplex   = 1
	statusUnknownRole     = 3

	headerLen = 8
	// maxChunk is the most content one record carries on the way out: the
	// 16-bit length's limit, rounded down to a multiple of 8, so that only
	// a stream's last record needs padding.
	maxChunk = 65535 &^ 7
)

// Errors for streams that are not FastCGI; the connection is closed.
var (
	ErrBadVersion = errors.New("fastcgi: record version is not 1")
	ErrBadRecord  = errors.New("fastcgi: record out of place or of the wrong size")
	ErrBadParams  = errors.New("fastcgi: malformed name-value pairs")
)

// header is a record header (spec 3.3).
type header struct {
	typ     uint8
	id      uint16
	length  int // content length
	padding int
}

// readHeader reads the next record header. It returns io.EOF only when the
// stream ends exactly before it.
func readHeader(br *bufio.Reader) (header, error) {
	b, err := br.Peek(headerLen)
	if err != nil {
		if err == io.EOF && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return header{}, err
	}
	if b[0] != version1 {
		return header{}, ErrBadVersion
	}
	h := header{typ: b[1], id: binary.BigEndian.Uint16(b[2:4]),
		length: int(binary.BigEndian.Uint16(b[4:6])), padding: int(b[6])}
	br.Discard(headerLen)
	return h, nil
}

// appendContent appends n bytes of br to dst.
func appendContent(dst []byte, br *bufio.Reader, n int) ([]byte, error) {
	for n > 0 {
		chunk, err := br.Peek(min(n, br.Size()))
		dst = append(dst, chunk...)
		br.Discard(len(chunk))
		n -= len(chunk)
		if err != nil && n > 0 {
			return dst, unexpected(err)
		}
	}
	return dst, nil
}

// skip discards n bytes of br.
func skip(br *bufio.Reader, n int) error {
	if got, err := br.Discard(n); got < n {
		return unexpected(err)
	}
	return nil
}

// unexpected turns the end of the stream inside a record into
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// pairs walks a name-value pair stream (spec 3.4): lengths of 1 byte, or 4
// with the high bit set, then the name and the value. It calls f for each
// pair with slices of s, so the caller decides what to copy.
func pairs(s string, f func(name, value string) error) error {
	for len(s) > 0 {
		nameLen, n := pairLength(s)
		if n == 0 {
			return ErrBadParams
		}
		s = s[n:]
		valueLen, n := pairLength(s)
		if n == 0 || uint64(nameLen)+uint64(valueLen) > uint64(len(s)-n) {
			return ErrBadParams
		}
		s = s[n:]
		if err := f(s[:nameLen], s[nameLen:nameLen+valueLen]); err != nil {
			return err
		}
		s = s[nameLen+valueLen:]
	}
	return nil
}

// pairLength reads one length; n is 0 when s is too short for it.
func pairLength(s string) (length uint32, n int) {
	switch {
	case len(s) == 0:
		return 0, 0
	case s[0] < 0x80:
		return uint32(s[0]), 1
	case len(s) < 4:
		return 0, 0
	}
	return uint32(s[0]&0x7f)<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3]), 4
}

func appendPairLength(b []byte, n int) []byte {
	if n < 0x80 {
		return append(b, byte(n))
	}
	return binary.BigEndian.AppendUint32(b, uint32(n)|1<<31)
}

// appendPair appends one name-value pair.
func appendPair(b []byte, name, value string) []byte {
	b = appendPairLength(b, len(name))
	b = appendPairLength(b, len(value))
	return append(append(b, name...), value...)
}

// appendHeader appends a record header for content of length n, padded to
// a multiple of 8 bytes as the specification recommends.
func appendHeader(b []byte, typ uint8, id uint16, n int) []byte {
	b = append(b, version1, typ)
	b = binary.BigEndian.AppendUint16(b, id)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	return append(b, byte(padding(n)), 0)
}

func padding(n int) int { return -n & 7 }

// appendRecord appends one record with its content and padding.
func appendRecord(b []byte, typ uint8, id uint16, content []byte) []byte {
	b = appendHeader(b, typ, id, len(content))
	b = append(b, content...)
	return append(b, make([]byte, padding(len(content)))...)
}

// appendStream appends the parts, concatenated, as a stream of records of
// type typ (at most maxChunk bytes each), and the empty record that ends
// the stream.
func appendStream(b []byte, typ uint8, id uint16, parts ...[]byte) []byte {
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	for total > 0 {
		chunk := min(total, maxChunk)
		b = appendHeader(b, typ, id, chunk)
		total -= chunk
		for n := chunk; n > 0; {
			k := min(n, len(parts[0]))
			b = append(b, parts[0][:k]...)
			parts[0] = parts[0][k:]
			n -= k
			if len(parts[0]) == 0 {
				parts = parts[1:]
			}
		}
		b = append(b, make([]byte, padding(chunk))...)
	}
	return appendHeader(b, typ, id, 0)
}

// appendEndRequest appends an END_REQUEST record (spec 5.5).
func appendEndRequest(b []byte, id uint16, protocolStatus uint8) []byte {
	b = appendHeader(b, typeEndRequest, id, 8)
	b = binary.BigEndian.AppendUint32(b, 0) // appStatus: the HTTP status says it all
	return append(b, protocolStatus, 0, 0, 0)
}
