package fastcgi

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A minimal FastCGI client, the part of nginx the tests need.

const (
	typeStdin  = 5
	typeStdout = 6
	typeStderr = 7
	keepConn   = 1
)

// fcgiRequest is one request as nginx would send it.
type fcgiRequest struct {
	id       uint16
	keepConn bool
	params   []pair // in wire order; duplicates allowed
	body     string
}

func (q fcgiRequest) encode() []byte {
	id := q.id
	if id == 0 {
		id = 1
	}
	flags := byte(0)
	if q.keepConn {
		flags = keepConn
	}
	b := appendRecord(nil, typeBeginRequest, id, []byte{0, 1, flags, 0, 0, 0, 0, 0})
	var stream []byte
	for _, p := range q.params {
		stream = appendSize(stream, len(p.name))
		stream = appendSize(stream, len(p.value))
		stream = append(stream, p.name+p.value...)
	}
	for len(stream) > 0 { // split like nginx does for big blocks
		n := min(len(stream), 1000)
		b = appendRecord(b, typeParams, id, stream[:n])
		stream = stream[n:]
	}
	b = appendRecord(b, typeParams, id, nil)
	if q.body != "" {
		b = appendRecord(b, typeStdin, id, []byte(q.body))
	}
	return appendRecord(b, typeStdin, id, nil)
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

// fcgiResponse is what came back for one request.
type fcgiResponse struct {
	status int
	header http.Header
	body   string
}

// readResponse reads records for id until END_REQUEST.
func readResponse(t *testing.T, conn net.Conn, id uint16) fcgiResponse {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var stdout bytes.Buffer
	for {
		var h [headerLen]byte
		if _, err := io.ReadFull(conn, h[:]); err != nil {
			t.Fatalf("reading response: %v (stdout so far %q)", err, stdout.String())
		}
		content := make([]byte, int(binary.BigEndian.Uint16(h[4:6]))+int(h[6]))
		if _, err := io.ReadFull(conn, content); err != nil {
			t.Fatalf("reading record: %v", err)
		}
		content = content[:binary.BigEndian.Uint16(h[4:6])]
		if got := binary.BigEndian.Uint16(h[2:4]); got != id {
			t.Fatalf("record for request %d, want %d", got, id)
		}
		switch h[1] {
		case typeStdout:
			stdout.Write(content)
		case typeStderr:
			t.Logf("stderr: %s", content)
		case typeEndRequest:
			return parseCGIResponse(t, stdout.Bytes())
		}
	}
}

func parseCGIResponse(t *testing.T, raw []byte) fcgiResponse {
	t.Helper()
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
	return fcgiResponse{status, h, string(body)}
}

// roundTrip dials addr, sends one request and reads its response.
func roundTrip(t *testing.T, addr string, q fcgiRequest) fcgiResponse {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(q.encode()); err != nil {
		t.Fatal(err)
	}
	return readResponse(t, conn, max(q.id, 1))
}

func (r fcgiResponse) String() string {
	return fmt.Sprintf("%d %v %q", r.status, r.header, r.body)
}
