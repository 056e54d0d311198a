package gateway

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
)

// response is a fully buffered http.ResponseWriter. Nothing reaches the
// connection until the handler returns; then the head is written with an
// exact Content-Length. Buffering is what makes that possible, and the
// replies of a token endpoint are small.
type response struct {
	header      http.Header
	code        int
	wroteHeader bool
	body        *bytes.Buffer // pooled; see finished
	finished    bool          // handler returned: body may belong to another connection now
}

func newResponse(body *bytes.Buffer) *response {
	return &response{header: make(http.Header), body: body}
}

func (w *response) Header() http.Header { return w.header }

// WriteHeader records the status code. Informational codes (1xx) are
// ignored: these protocols carry exactly one response head.
func (w *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code)) // as net/http does
	}
	if w.wroteHeader || code < 200 {
		return
	}
	w.wroteHeader = true
	w.code = code
}

func (w *response) Write(p []byte) (int, error) {
	if err := w.startBody(); err != nil {
		return 0, err
	}
	return w.body.Write(p)
}

func (w *response) WriteString(s string) (int, error) {
	if err := w.startBody(); err != nil {
		return 0, err
	}
	return w.body.WriteString(s)
}

func (w *response) startBody() error {
	if w.finished {
		return errWriteAfterReturn
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.code) {
		return http.ErrBodyNotAllowed
	}
	return nil
}

// reset replaces whatever a panicking handler left behind with a plain
// error reply.
func (w *response) reset(code int) {
	w.header = make(http.Header)
	w.body.Reset()
	w.wroteHeader = false
	w.WriteHeader(code)
	w.header.Set("Content-Type", "text/plain; charset=utf-8")
	w.header.Set("X-Content-Type-Options", "nosniff")
	w.body.WriteString(http.StatusText(code) + "\n")
}

func bodyAllowed(code int) bool {
	return code != http.StatusNoContent && code != http.StatusNotModified
}

// unsentHeaders never leave the server: hop-by-hop headers describe a hop
// that does not exist here (and nginx would pass chunk framing through as
// body bytes), Status would become a second status for nginx's CGI parser or
// leak to the client on uwsgi, and Content-Length is always computed.
var unsentHeaders = map[string]bool{
	"Connection":        true,
	"Content-Length":    true,
	"Keep-Alive":        true,
	"Proxy-Connection":  true,
	"Status":            true,
	"Te":                true,
	"Trailer":           true,
	"Transfer-Encoding": true,
	"Upgrade":           true,
}

// finish ends the handler's use of w and writes the response head to head,
// using statusLine for its first line. It reports whether the buffered body
// must follow the head: not for HEAD requests, 204 or 304.
func (w *response) finish(head *bytes.Buffer, statusLine func([]byte, int) []byte, method string) (sendBody bool) {
	w.finished = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	head.Write(statusLine(head.AvailableBuffer(), w.code))
	allowed := bodyAllowed(w.code)
	if _, typed := w.header["Content-Type"]; allowed && !typed && w.body.Len() > 0 {
		w.header.Set("Content-Type", http.DetectContentType(w.body.Bytes()))
	}
	w.header.WriteSubset(head, unsentHeaders) // replaces CR/LF in values, drops invalid names
	if allowed {
		w.writeContentLength(head, method)
	}
	head.WriteString("\r\n")
	return allowed && method != http.MethodHead
}

// writeContentLength writes the length of the buffered body, except that a
// HEAD handler which wrote nothing may state the length a GET would have.
func (w *response) writeContentLength(head *bytes.Buffer, method string) {
	head.WriteString("Content-Length: ")
	if v := w.header.Get("Content-Length"); method == http.MethodHead && w.body.Len() == 0 && IsDigits(v) {
		head.WriteString(v)
	} else {
		head.Write(strconv.AppendInt(head.AvailableBuffer(), int64(w.body.Len()), 10))
	}
	head.WriteString("\r\n")
}
