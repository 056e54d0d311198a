package fastcgi

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A minimal FastCGI client, the part of nginx the tests need. It encodes
// records by hand rather than with this package's own functions, so that a
// mistake in those cannot cancel itself out.

type pair struct{ name, value string }

// record encodes one record without padding, as Apache sends them.
func record(typ byte, id uint16, content []byte) []byte {
	b := []byte{1, typ, byte(id >> 8), byte(id), byte(len(content) >> 8), byte(len(content)), 0, 0}
	return append(b, content...)
}

func beginBody(role uint16, flags byte) []byte {
	return []byte{byte(role >> 8), byte(role), flags, 0, 0, 0, 0, 0}
}

// encodePairs encodes name-value pairs, with 4-byte lengths from 128 up.
func encodePairs(ps []pair) []byte {
	var b []byte
	size := func(n int) {
		if n < 128 {
			b = append(b, byte(n))
		} else {
			b = append(b, byte(n>>24)|0x80, byte(n>>16), byte(n>>8), byte(n))
		}
	}
	for _, p := range ps {
		size(len(p.name))
		size(len(p.value))
		b = append(b, p.name+p.value...)
	}
	return b
}

// fcgiRequest is one request as nginx would send it.
type fcgiRequest struct {
	id       uint16
	keepConn bool
	params   []pair // in wire order; duplicates allowed
	body     string
}

func (q fcgiRequest) ID() uint16 { return max(q.id, 1) }

// head is the BEGIN_REQUEST and PARAMS records, split like nginx splits a
// large block.
func (q fcgiRequest) head() []byte {
	flags := byte(0)
	if q.keepConn {
		flags = 1
	}
	b := record(typeBeginRequest, q.ID(), beginBody(roleResponder, flags))
	stream := encodePairs(q.params)
	for len(stream) > 0 {
		n := min(len(stream), 1000)
		b = append(b, record(typeParams, q.ID(), stream[:n])...)
		stream = stream[n:]
	}
	return append(b, record(typeParams, q.ID(), nil)...)
}

func (q fcgiRequest) encode() []byte {
	b := q.head()
	for body := q.body; len(body) > 0; {
		n := min(len(body), 0xffff)
		b = append(b, record(typeStdin, q.ID(), []byte(body[:n]))...)
		body = body[n:]
	}
	return append(b, record(typeStdin, q.ID(), nil)...)
}

// getParams returns the CGI variables nginx's fastcgi_params would send.
func getParams(method, uri string, extra ...pair) []pair {
	path, query, _ := strings.Cut(uri, "?")
	p := []pair{
		{"REQUEST_METHOD", method}, {"REQUEST_URI", uri}, {"SCRIPT_NAME", path},
		{"QUERY_STRING", query}, {"SERVER_PROTOCOL", "HTTP/1.1"}, {"CONTENT_TYPE", ""},
		{"CONTENT_LENGTH", ""}, {"REMOTE_ADDR", "192.0.2.7"}, {"REMOTE_PORT", "4711"},
		{"HTTP_HOST", "reg.example"},
	}
	overridden := map[string]bool{}
	for _, e := range extra {
		overridden[e.name] = true
	}
	var out []pair
	for _, b := range p {
		if !overridden[b.name] {
			out = append(out, b)
		}
	}
	return append(out, extra...)
}

// rawRecord is a record as read off the wire.
type rawRecord struct {
	typ     byte
	id      uint16
	content []byte
}

func readRecord(r io.Reader) (rawRecord, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return rawRecord{}, err
	}
	n := int(binary.BigEndian.Uint16(h[4:6]))
	content := make([]byte, n+int(h[6]))
	if _, err := io.ReadFull(r, content); err != nil {
		return rawRecord{}, err
	}
	return rawRecord{h[1], binary.BigEndian.Uint16(h[2:4]), content[:n]}, nil
}

// fcgiResponse is what came back for one request.
type fcgiResponse struct {
	status         int
	header         http.Header
	body           string
	protocolStatus byte
}

// readResponse reads records for id until END_REQUEST.
func readResponse(t testing.TB, conn net.Conn, id uint16) fcgiResponse {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var stdout bytes.Buffer
	for {
		rec, err := readRecord(conn)
		if err != nil {
			t.Fatalf("reading response: %v (stdout so far %q)", err, stdout.String())
		}
		if rec.id != id {
			t.Fatalf("record type %d for request %d, want %d", rec.typ, rec.id, id)
		}
		switch rec.typ {
		case typeStdout:
			stdout.Write(rec.content)
		case typeEndRequest:
			resp := parseCGIResponse(t, stdout.Bytes())
			resp.protocolStatus = rec.content[4]
			return resp
		default:
			t.Fatalf("unexpected record type %d", rec.typ)
		}
	}
}

func parseCGIResponse(t testing.TB, raw []byte) fcgiResponse {
	t.Helper()
	if len(raw) == 0 {
		return fcgiResponse{}
	}
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw)))
	mh, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatalf("response head %q: %v", raw, err)
	}
	h := http.Header(mh)
	code, _, _ := strings.Cut(h.Get("Status"), " ")
	status, err := strconv.Atoi(code)
	if err != nil {
		t.Fatalf("no Status in %q", raw)
	}
	body, _ := io.ReadAll(tp.R)
	return fcgiResponse{status: status, header: h, body: string(body)}
}

// roundTrip dials addr, sends one request and reads its response.
func roundTrip(t *testing.T, addr string, q fcgiRequest) fcgiResponse {
	t.Helper()
	conn := dial(t, addr)
	if _, err := conn.Write(q.encode()); err != nil {
		t.Fatal(err)
	}
	return readResponse(t, conn, q.ID())
}

func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// expectClosed fails unless the server closes conn without sending more. A
// reset counts as closed: the server may close before it has read all that
// was sent.
func expectClosed(t *testing.T, conn net.Conn, what string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if rec, err := readRecord(conn); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("%s: got record %v, err %v; want the connection closed", what, rec, err)
	}
}

func (r fcgiResponse) String() string {
	return fmt.Sprintf("%d %v %q", r.status, r.header, r.body)
}
