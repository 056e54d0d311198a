package fastcgi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/regtoken/regtoken/pkg/gateway"
	"github.com/regtoken/regtoken/pkg/limits"
)

// maxStdinBytes bounds how much request body a connection swallows for a
// request whose body is over the limit, so that nginx reads the 413 and not
// a reset connection. Past it, the 413 goes out at once and the connection
// closes.
const maxStdinBytes = 8 << 20

// maxPooledBuffer keeps one large request or reply from pinning memory in
// the session pool.
const maxPooledBuffer = 64 << 10

// maxGetValues bounds the FCGI_GET_VALUES query read; the three names a
// responder knows take 48 bytes.
const maxGetValues = 1 << 10

var errNoRequest = errors.New("fastcgi: no request to answer")

// session is one connection's FastCGI state. It holds at most one request:
// nginx never multiplexes, and a second request ID while one is open is
// answered FCGI_CANT_MPX_CONN, so a connection costs the same however many
// IDs it opens.
type session struct {
	w   io.Writer
	br  *bufio.Reader
	lim limits.Transport

	id       uint16 // the open request; 0: none (0 is the management ID)
	keep     bool   // FCGI_KEEP_CONN of the open request
	inStdin  bool   // PARAMS has ended, STDIN is being read
	params   []byte // the PARAMS stream so far
	body     []byte // STDIN, at most MaxBodyBytes of it
	size     int64  // STDIN bytes received
	out      []byte // records on their way out
	overflow bool   // STDIN went past maxStdinBytes: answer and close
}

var sessions = sync.Pool{New: func() any { return new(session) }}

func newSession(w io.Writer, br *bufio.Reader, lim limits.Transport) *session {
	s := sessions.Get().(*session)
	s.w, s.br, s.lim = w, br, lim
	s.id = 0
	return s
}

// Close returns the session's buffers to the pool.
func (s *session) Close() {
	if cap(s.params) > maxPooledBuffer || cap(s.body) > maxPooledBuffer || cap(s.out) > maxPooledBuffer {
		return
	}
	s.w, s.br = nil, nil
	sessions.Put(s)
}

// ReadRequest reads records until a request is complete (its empty STDIN
// record), answering management records and other request IDs on the way.
func (s *session) ReadRequest() (map[string]string, []byte, int64, error) {
	s.params, s.body, s.size = s.params[:0], s.body[:0], 0
	s.inStdin, s.overflow = false, false
	for {
		h, err := readHeader(s.br)
		if err != nil {
			if err == io.EOF && s.id != 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, nil, 0, err
		}
		done, err := s.record(h)
		if err != nil {
			return nil, nil, 0, err
		}
		if done {
			env, err := s.env()
			return env, s.body, s.size, err
		}
	}
}

// record handles one record and reports whether it completed the request.
func (s *session) record(h header) (done bool, err error) {
	if h.id == 0 {
		if h.typ == typeGetValues {
			return false, s.getValues(h)
		}
		return false, s.unknownType(h)
	}
	switch h.typ {
	case typeBeginRequest:
		return false, s.begin(h)
	case typeAbortRequest:
		return false, s.abort(h)
	case typeParams:
		return false, s.readParams(h)
	case typeStdin:
		return s.readStdin(h)
	case typeData:
		return false, skip(s.br, h.length+h.padding) // the filter role's; not ours
	}
	return false, s.unknownType(h)
}

// begin opens a request, unless one is open already (FCGI_CANT_MPX_CONN) or
// the role is not the responder's (FCGI_UNKNOWN_ROLE).
func (s *session) begin(h header) error {
	if h.length != 8 {
		return ErrBadRecord
	}
	b, err := s.br.Peek(3)
	if err != nil {
		return unexpected(err)
	}
	role, flags := int(b[0])<<8|int(b[1]), b[2]
	if err := skip(s.br, h.length+h.padding); err != nil {
		return err
	}
	switch {
	case s.id == h.id:
		return ErrBadRecord // begun twice
	case s.id != 0:
		return s.reply(appendEndRequest(s.out[:0], h.id, statusCantMultiplex))
	case role != roleResponder:
		return s.reply(appendEndRequest(s.out[:0], h.id, statusUnknownRole))
	}
	s.id, s.keep = h.id, flags&flagKeepConn != 0
	return nil
}

// abort ends the open request unanswered (spec 5.4): it gets its
// END_REQUEST, and the connection waits for the next one or, without
// FCGI_KEEP_CONN, closes.
func (s *session) abort(h header) error {
	if err := skip(s.br, h.length+h.padding); err != nil || h.id != s.id {
		return err
	}
	err := s.reply(appendEndRequest(s.out[:0], s.id, statusRequestComplete))
	s.id = 0
	s.params, s.body, s.size, s.inStdin = s.params[:0], s.body[:0], 0, false
	if err == nil && !s.keep {
		err = io.EOF // done with this connection, as if it had closed
	}
	return err
}

func (s *session) readParams(h header) error {
	if h.id != s.id || s.inStdin {
		return skip(s.br, h.length+h.padding) // not the open request's: ignored (spec 3.3)
	}
	if h.length == 0 {
		s.inStdin = true
		return skip(s.br, h.padding)
	}
	if len(s.params)+h.length > s.lim.MaxHeaderBytes {
		return gateway.ErrHeaderTooLarge
	}
	var err error
	if s.params, err = appendContent(s.params, s.br, h.length); err != nil {
		return err
	}
	return skip(s.br, h.padding)
}

// readStdin takes one STDIN record; the empty one completes the request.
// Beyond MaxBodyBytes the body is counted but not kept (the request is
// answered 413), and beyond maxStdinBytes the request is answered at once
// and the connection closed.
func (s *session) readStdin(h header) (done bool, err error) {
	switch {
	case h.id != s.id:
		return false, skip(s.br, h.length+h.padding)
	case !s.inStdin:
		return false, ErrBadRecord // the PARAMS stream has not ended
	case h.length == 0:
		return true, skip(s.br, h.padding)
	}
	s.size += int64(h.length)
	if s.size > max(maxStdinBytes, s.lim.MaxBodyBytes) {
		s.overflow = true
		return true, nil
	}
	keep := min(h.length, max(int(s.lim.MaxBodyBytes)-len(s.body), 0))
	if s.body, err = appendContent(s.body, s.br, keep); err != nil {
		return false, err
	}
	return false, skip(s.br, h.length-keep+h.padding)
}

// env decodes the PARAMS stream into variables, from one string so that
// the names and values cost a single allocation.
func (s *session) env() (map[string]string, error) {
	raw := string(s.params)
	n := 0
	if err := pairs(raw, func(string, string) error { n++; return nil }); err != nil {
		return nil, err
	}
	env := make(map[string]string, n)
	err := pairs(raw, func(name, value string) error {
		if name == "" {
			return ErrBadParams
		}
		return gateway.AddVar(env, name, value)
	})
	if err != nil {
		return nil, err
	}
	return env, nil
}

// WriteResponse sends head and body as the request's STDOUT stream, then
// its END_REQUEST, in one write.
func (s *session) WriteResponse(head, body []byte) (keep bool, err error) {
	if s.id == 0 {
		return false, errNoRequest
	}
	out := appendStream(s.out[:0], typeStdout, s.id, head, body)
	out = appendEndRequest(out, s.id, statusRequestComplete)
	s.out = out
	_, err = s.w.Write(out)
	s.id = 0
	return s.keep && !s.overflow, err
}

// getValues answers FCGI_GET_VALUES (spec 4.1) for the variables it knows;
// the others are left out, as the specification asks.
func (s *session) getValues(h header) error {
	if h.length > maxGetValues {
		if err := skip(s.br, h.length+h.padding); err != nil {
			return err
		}
		return s.reply(appendRecord(s.out[:0], typeGetValuesResult, 0, nil))
	}
	query, err := appendContent(s.out[:0], s.br, h.length)
	if err != nil {
		return err
	}
	if err := skip(s.br, h.padding); err != nil {
		return err
	}
	var result []byte
	pairs(string(query), func(name, _ string) error {
		if v, ok := s.value(name); ok {
			result = appendPair(result, name, v)
		}
		return nil
	})
	return s.reply(appendRecord(query[:0], typeGetValuesResult, 0, result))
}

// value is what this responder says about a FastCGI variable: as many
// connections and requests as the listener serves at once, one request per
// connection.
func (s *session) value(name string) (string, bool) {
	switch name {
	case "FCGI_MAX_CONNS", "FCGI_MAX_REQS":
		return strconv.Itoa(s.lim.MaxConnections), true
	case "FCGI_MPXS_CONNS":
		return "0", true
	}
	return "", false
}

// unknownType answers a record this responder has no use for (spec 4.2).
func (s *session) unknownType(h header) error {
	if err := skip(s.br, h.length+h.padding); err != nil {
		return err
	}
	return s.reply(appendRecord(s.out[:0], typeUnknownType, 0, []byte{h.typ, 0, 0, 0, 0, 0, 0, 0}))
}

// reply writes a record the responder sends on its own.
func (s *session) reply(rec []byte) error {
	s.out = rec
	if _, err := s.w.Write(rec); err != nil {
		return fmt.Errorf("fastcgi: answering a record: %w", err)
	}
	return nil
}
