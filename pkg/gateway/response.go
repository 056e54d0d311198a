package gateway

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
)

// response is the one buffered http.ResponseWriter of every transport.
// Nothing reaches the client until the handler returns; then the head goes
// out with an exact Content-Length, and never with chunked framing: nginx
// passes chunk framing from SCGI and uwsgi upstreams through to the client
// as body bytes, and would chunk a FastCGI reply that lacks a length.
// Buffering is what makes that possible, and the replies of a token
// endpoint are small.
//
// The gateway server writes the head itself ([response.finish]) for SCGI,
// uwsgi and FastCGI; the HTTP front hands the result to its standard-library
// writer ([response.sendTo]).
type response struct {
	header      http.Header
	code        int
	wroteHeader bool
	body        *bytes.Buffer // pooled on SCGI and uwsgi; see finished
	finished    bool          // handler returned: body may belong to another connection now
}

func newResponse(body *bytes.Buffer) *response {
	return &response{header: make(http.Header), body: body}
}

func (w *response) Header() http.Header { return w.header }

// WriteHeader records the status code. Informational codes (1xx) are
// ignored: a gateway response has exactly one head.
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

// reset replaces whatever the handler left behind (or, for a request
// refused before the handler, nothing) with a plain error reply.
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

// complete ends the handler's use of w: it settles the status and the
// Content-Type, and reports whether the head carries a Content-Length and
// whether the body follows the head (neither for 204 and 304; no body for
// HEAD).
func (w *response) complete(method string) (hasLength, sendBody bool) {
	w.finished = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.code) {
		return false, false
	}
	if _, typed := w.header["Content-Type"]; !typed && w.body.Len() > 0 {
		w.header.Set("Content-Type", http.DetectContentType(w.body.Bytes()))
	}
	return true, method != http.MethodHead
}

// appendLength appends the Content-Length to announce: the length of the
// buffered body, except that a HEAD handler which wrote nothing may state
// the length a GET would have.
func (w *response) appendLength(dst []byte, method string) []byte {
	if v := w.header.Get("Content-Length"); method == http.MethodHead && w.body.Len() == 0 && isDigits(v) {
		return append(dst, v...)
	}
	return strconv.AppendInt(dst, int64(w.body.Len()), 10)
}

// finish writes the response head to head, its first line starting with
// statusPrefix, and reports whether the buffered body must follow.
func (w *response) finish(head *bytes.Buffer, statusPrefix string, method string) (sendBody bool) {
	hasLength, sendBody := w.complete(method)
	head.Write(appendStatusLine(head.AvailableBuffer(), statusPrefix, w.code))
	w.header.WriteSubset(head, unsentHeaders) // replaces CR/LF in values, drops invalid names
	if hasLength {
		head.WriteString("Content-Length: ")
		head.Write(w.appendLength(head.AvailableBuffer(), method))
		head.WriteString("\r\n")
	}
	head.WriteString("\r\n")
	return sendBody
}

// sendTo hands the response to a standard-library ResponseWriter.
func (w *response) sendTo(out http.ResponseWriter, method string) {
	hasLength, sendBody := w.complete(method)
	h := out.Header()
	for k, v := range w.header {
		if !unsentHeaders[k] {
			h[k] = v
		}
	}
	if hasLength {
		h.Set("Content-Length", string(w.appendLength(nil, method)))
	}
	out.WriteHeader(w.code)
	if sendBody && w.body.Len() > 0 {
		out.Write(w.body.Bytes()) // a write error means the client left
	}
}
