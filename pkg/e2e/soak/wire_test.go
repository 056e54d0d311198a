//go:build e2e

package soak

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"
)

// Requests and broken streams written straight to regtoken's SCGI and uwsgi
// sockets, bypassing nginx.

const anonymousQuery = "service=Authentication&scope=repository:some-image:pull"

// cgiVars are the variables nginx sends for an anonymous token request, with
// CONTENT_LENGTH first as SCGI requires.
func cgiVars(contentLength string) [][2]string {
	return [][2]string{
		{"CONTENT_LENGTH", contentLength},
		{"SCGI", "1"},
		{"REQUEST_METHOD", "GET"},
		{"REQUEST_URI", "/v2/token?" + anonymousQuery},
		{"QUERY_STRING", anonymousQuery},
		{"DOCUMENT_URI", "/v2/token"},
		{"SERVER_PROTOCOL", "HTTP/1.1"},
		{"REMOTE_ADDR", "127.0.0.1"},
		{"REMOTE_PORT", "40000"},
		{"SERVER_NAME", "localhost"},
		{"SERVER_PORT", "80"},
		{"HTTP_HOST", "localhost"},
	}
}

// postVars are the variables of an OAuth2 POST to the token endpoint.
func postVars(contentLength string) [][2]string {
	v := cgiVars(contentLength)
	v[2][1] = "POST"
	v[3][1], v[4][1] = "/v2/token", ""
	return append(v, [2]string{"CONTENT_TYPE", "application/x-www-form-urlencoded"})
}

// scgiHead frames vars as an SCGI netstring.
func scgiHead(vars [][2]string) []byte {
	var b bytes.Buffer
	for _, kv := range vars {
		b.WriteString(kv[0])
		b.WriteByte(0)
		b.WriteString(kv[1])
		b.WriteByte(0)
	}
	return fmt.Appendf(nil, "%d:%s,", b.Len(), b.Bytes())
}

// uwsgiHead frames vars as a uwsgi packet (modifier1 0). The SCGI variable is
// harmless there.
func uwsgiHead(vars [][2]string) []byte {
	var b []byte
	for _, kv := range vars {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(kv[0])))
		b = append(b, kv[0]...)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(kv[1])))
		b = append(b, kv[1]...)
	}
	head := []byte{0, 0, 0, 0}
	binary.LittleEndian.PutUint16(head[1:3], uint16(len(b)))
	return append(head, b...)
}

// brokenStream is one malformed request. Every one of them must be answered
// (400, 413) or closed by the server, never left hanging or crash it.
// anyAnswer marks the few whose head is sound: a GET whose body is cut short
// may well be served, since the token handler does not read GET bodies.
type brokenStream struct {
	name      string
	payload   func() []byte
	anyAnswer bool
}

func noise(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.IntN(256))
	}
	return b
}

func cut(b []byte, n int) []byte { return b[:min(n, len(b))] }

var brokenSCGI = []brokenStream{
	{"empty", func() []byte { return nil }, false},
	{"http request", func() []byte { return []byte("GET /v2/token HTTP/1.1\r\nHost: localhost\r\n\r\n") }, false},
	{"truncated netstring", func() []byte { h := scgiHead(cgiVars("0")); return cut(h, len(h)/2) }, false},
	{"length without colon", func() []byte { return []byte("12345") }, false},
	{"leading zero", func() []byte { return append([]byte("0"), scgiHead(cgiVars("0"))...) }, false},
	{"length too long", func() []byte { return []byte("99999999:") }, false},
	{"oversize head", func() []byte {
		return append(fmt.Appendf(nil, "%d:", 70000), bytes.Repeat([]byte("A"), 70000)...)
	}, false},
	{"no comma", func() []byte { h := scgiHead(cgiVars("0")); h[len(h)-1] = ';'; return h }, false},
	{"odd strings", func() []byte { return []byte("22:CONTENT_LENGTH\x000\x00SCGI,") }, false},
	{"no SCGI=1", func() []byte { return scgiHead(cgiVars("0")[2:3]) }, false},
	{"CONTENT_LENGTH not first", func() []byte { v := cgiVars("0"); v[0], v[1] = v[1], v[0]; return scgiHead(v) }, false},
	{"bad CONTENT_LENGTH", func() []byte { return scgiHead(cgiVars("12abc")) }, false},
	{"short body", func() []byte { return append(scgiHead(cgiVars("100")), "only ten b"...) }, true},
	{"short POST body", func() []byte { return append(scgiHead(postVars("100")), "grant_type"...) }, true},
	{"huge body", func() []byte { return append(scgiHead(cgiVars("1000000000")), "x"...) }, false},
	{"noise", func() []byte { return noise(1024) }, false},
	{"NUL flood", func() []byte { return make([]byte, 4096) }, false},
}

var brokenUWSGI = []brokenStream{
	{"empty", func() []byte { return nil }, false},
	{"http request", func() []byte { return []byte("GET /v2/token HTTP/1.1\r\nHost: localhost\r\n\r\n") }, false},
	{"response modifier", func() []byte { h := uwsgiHead(cgiVars("0")); h[0] = 72; return h }, false},
	{"short packet header", func() []byte { return []byte{0, 10} }, false},
	{"truncated vars", func() []byte { h := uwsgiHead(cgiVars("0")); return cut(h, len(h)/2) }, false},
	{"size larger than sent", func() []byte { return append([]byte{0, 0xff, 0xff, 0}, noise(100)...) }, false},
	{"key past the end", func() []byte { return []byte{0, 4, 0, 0, 200, 0, 'A', 'B'} }, false},
	{"empty key", func() []byte { return []byte{0, 5, 0, 0, 0, 0, 1, 0, 'x'} }, false},
	{"no vars", func() []byte { return []byte{0, 0, 0, 0} }, false},
	{"bad CONTENT_LENGTH", func() []byte { return uwsgiHead(cgiVars("-5")) }, false},
	{"short body", func() []byte { return append(uwsgiHead(cgiVars("100")), "only ten b"...) }, true},
	{"short POST body", func() []byte { return append(uwsgiHead(postVars("100")), "grant_type"...) }, true},
	{"huge body", func() []byte { return append(uwsgiHead(cgiVars("1000000000")), "x"...) }, false},
	{"noise", func() []byte { return noise(1024) }, false},
}

// exchange writes payload on a fresh connection to the unix socket, closes
// its writing half, and reads until the server closes. It returns the status
// code of the answer (0 if the server closed without one). errStopped means
// the load ended first; a timeout means the server left the connection hanging.
func exchange(ctx context.Context, socket string, payload []byte, timeout time.Duration) (int, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return 0, stopped(ctx, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	c.SetDeadline(time.Now().Add(timeout))
	// The server may answer and close before reading everything (an
	// oversize head): a failed write is fine, the read tells what happened.
	c.Write(payload)
	c.(*net.UnixConn).CloseWrite()
	answer, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		return 0, stopped(ctx, err)
	}
	if ctx.Err() != nil {
		return 0, errStopped
	}
	return statusOf(answer), nil
}

// statusOf reads the code from "Status: 200 OK" (SCGI) or "HTTP/1.1 200 OK"
// (uwsgi); 0 for no answer.
func statusOf(answer []byte) int {
	line, _, _ := bytes.Cut(answer, []byte("\r\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 2 {
		return 0
	}
	var code int
	fmt.Sscanf(fields[1], "%d", &code)
	return code
}

var errStopped = errors.New("load stopped")

// stopped replaces err by errStopped when the load's context has ended.
func stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errStopped
	}
	// A dial or read bounded by ctx's deadline can fail with a timeout a hair
	// before ctx itself reports that it is done.
	if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
		return errStopped
	}
	return err
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
