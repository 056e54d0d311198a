package fastcgi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
)

// Record types and sizes from the FastCGI 1.0 specification, section 8.
const (
	headerLen        = 8
	maxContentLen    = 65535
	typeBeginRequest = 1
	typeEndRequest   = 3
	typeParams       = 4
	fcgiVersion1     = 1
)

// Errors that close a connection while reading its records.
var (
	ErrBadVersion     = errors.New("fastcgi: record version is not 1")
	ErrParamsTooLarge = errors.New("fastcgi: parameter block larger than MaxHeaderBytes")
	ErrBadParams      = errors.New("fastcgi: malformed parameter block")
)

// progress is told where the reader is: recordStarted when the first byte of
// a record arrives, recordDone when the record is complete.
type progress interface {
	recordStarted()
	recordDone(typ uint8, id uint16)
}

// recordReader reads whole records from src and hands fcgi the same byte
// stream, except that each request's PARAMS stream is collected, its
// repeated keys merged (see normalizeParams), and re-encoded before fcgi sees it.
type recordReader struct {
	src      *bufio.Reader
	max      int               // cap on the buffered params of one connection
	buffered int               // bytes held in params
	params   map[uint16][]byte // request ID -> raw name-value pairs so far
	out      []byte            // bytes ready for fcgi
	progress progress
}

func newRecordReader(src *bufio.Reader, max int, p progress) *recordReader {
	return &recordReader{src: src, max: max, params: make(map[uint16][]byte), progress: p}
}

func (r *recordReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// next reads one record and queues what fcgi should see of it.
func (r *recordReader) next() error {
	if _, err := r.src.Peek(1); err != nil { // blocks while the connection is idle
		return err
	}
	r.progress.recordStarted()
	var h [headerLen]byte
	if _, err := io.ReadFull(r.src, h[:]); err != nil {
		return err
	}
	if h[0] != fcgiVersion1 {
		return ErrBadVersion
	}
	typ, id := h[1], binary.BigEndian.Uint16(h[2:4])
	content := int(binary.BigEndian.Uint16(h[4:6]))
	rec := make([]byte, headerLen+content+int(h[6]))
	copy(rec, h[:])
	if _, err := io.ReadFull(r.src, rec[headerLen:]); err != nil {
		return err
	}
	if typ == typeParams {
		if err := r.collectParams(id, rec[headerLen:headerLen+content]); err != nil {
			return err
		}
	} else {
		r.out = rec
	}
	r.progress.recordDone(typ, id)
	return nil
}

// collectParams buffers one PARAMS record; the empty record that ends the
// stream releases the merged parameters to fcgi.
func (r *recordReader) collectParams(id uint16, content []byte) error {
	if len(content) > 0 {
		r.buffered += len(content)
		if r.buffered > r.max {
			return ErrParamsTooLarge
		}
		r.params[id] = append(r.params[id], content...)
		return nil
	}
	raw := r.params[id]
	delete(r.params, id)
	r.buffered -= len(raw)
	pairs, err := decodePairs(raw)
	if err != nil {
		return err
	}
	r.out = encodeParamRecords(id, normalizeParams(pairs))
	return nil
}

type pair struct{ name, value string }

// decodePairs splits a PARAMS stream into name-value pairs (spec 3.4).
func decodePairs(b []byte) ([]pair, error) {
	var pairs []pair
	for len(b) > 0 {
		nameLen, n := decodeSize(b)
		if n == 0 {
			return nil, ErrBadParams
		}
		b = b[n:]
		valueLen, n := decodeSize(b)
		if n == 0 {
			return nil, ErrBadParams
		}
		b = b[n:]
		if uint64(nameLen)+uint64(valueLen) > uint64(len(b)) {
			return nil, ErrBadParams
		}
		pairs = append(pairs, pair{string(b[:nameLen]), string(b[nameLen : nameLen+valueLen])})
		b = b[nameLen+valueLen:]
	}
	return pairs, nil
}

// decodeSize reads a 1-byte length, or a 4-byte one when the high bit is
// set; n is 0 if b is too short.
func decodeSize(b []byte) (size uint32, n int) {
	if len(b) == 0 {
		return 0, 0
	}
	if b[0]>>7 == 0 {
		return uint32(b[0]), 1
	}
	if len(b) < 4 {
		return 0, 0
	}
	return binary.BigEndian.Uint32(b) &^ (1 << 31), 4
}

func appendSize(b []byte, size int) []byte {
	if size < 128 {
		return append(b, byte(size))
	}
	return binary.BigEndian.AppendUint32(b, uint32(size)|1<<31)
}

// encodeParamRecords writes pairs as PARAMS records of at most 65535 bytes
// each, followed by the empty record that ends the stream.
func encodeParamRecords(id uint16, pairs []pair) []byte {
	var stream []byte
	for _, p := range pairs {
		stream = appendSize(stream, len(p.name))
		stream = appendSize(stream, len(p.value))
		stream = append(stream, p.name...)
		stream = append(stream, p.value...)
	}
	var out []byte
	for len(stream) > 0 {
		n := min(len(stream), maxContentLen)
		out = appendRecord(out, typeParams, id, stream[:n])
		stream = stream[n:]
	}
	return appendRecord(out, typeParams, id, nil)
}

// appendRecord appends one unpadded record; padding is optional (spec 3.3).
func appendRecord(b []byte, typ uint8, id uint16, content []byte) []byte {
	b = append(b, fcgiVersion1, typ)
	b = binary.BigEndian.AppendUint16(b, id)
	b = binary.BigEndian.AppendUint16(b, uint16(len(content)))
	b = append(b, 0, 0) // padding length, reserved
	return append(b, content...)
}

// recordScanner follows record boundaries in a byte stream that arrives in
// arbitrary pieces, and calls found once for each record header.
type recordScanner struct {
	header [headerLen]byte
	have   int // header bytes collected
	skip   int // content and padding bytes still to pass over
}

func (s *recordScanner) scan(b []byte, found func(typ uint8, id uint16)) {
	for len(b) > 0 {
		if s.skip > 0 {
			n := min(s.skip, len(b))
			s.skip -= n
			b = b[n:]
			continue
		}
		n := copy(s.header[s.have:], b)
		s.have += n
		b = b[n:]
		if s.have < headerLen {
			return
		}
		s.have = 0
		s.skip = int(binary.BigEndian.Uint16(s.header[4:6])) + int(s.header[6])
		found(s.header[1], binary.BigEndian.Uint16(s.header[2:4]))
	}
}
