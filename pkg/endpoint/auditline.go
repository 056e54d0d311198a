package endpoint

import (
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// AuditFormat is how audit lines are written: as the rest of the log in the
// same stream is, so one stream has one format.
type AuditFormat int

const (
	// AuditJSON writes what log/slog's JSON handler would:
	//	{"time":"…","level":"INFO","msg":"token request","log":"audit","client":"…",…}
	AuditJSON AuditFormat = iota
	// AuditText writes what log/slog's text handler would (logfmt):
	//	time=… level=INFO msg="token request" log=audit client=… requested=[repository:a:pull] …
	AuditText
)

// auditLog writes one line per token request. It formats the line itself
// instead of going through log/slog, whose JSON handler cost about 4 µs and
// 15 allocations per request (slices go through encoding/json): a tenth of
// a whole request's CPU under load. The fields, their order and their
// rendering are what slog would write.
type auditLog struct {
	mu     sync.Mutex // one Write at a time: w need not be safe for concurrent use
	w      io.Writer
	format AuditFormat
}

// auditBuffers recycle line buffers; a line is a few hundred bytes.
var auditBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (a *auditLog) write(rec *record, now time.Time) {
	bp := auditBuffers.Get().(*[]byte)
	b := appendAuditLine((*bp)[:0], rec, now, a.format)
	a.mu.Lock()
	a.w.Write(b)
	a.mu.Unlock()
	if cap(b) <= 64<<10 {
		*bp = b
		auditBuffers.Put(bp)
	}
}

// appendAuditLine appends rec's audit line, newline included. The fields
// are appended to a local slice by plain functions: an encoder struct
// holding the slice cost a fifth more, in write barriers.
func appendAuditLine(b []byte, rec *record, now time.Time, format AuditFormat) []byte {
	text := format == AuditText
	b = appendLineStart(b, now, text)
	b = appendStr(b, text, "client", rec.client)
	b = appendStr(b, text, "method", rec.method)
	b = appendStr(b, text, "user", rec.user)
	b = appendStr(b, text, "service", rec.service)
	b = appendStr(b, text, "grant_type", rec.grantType)
	b = appendList(b, text, "requested", rec, requestedList)
	b = appendList(b, text, "granted", rec, grantedList)
	b = appendStr(b, text, "decision", decision(rec))
	b = appendList(b, text, "rules", rec, rulesList)
	b = strconv.AppendInt(appendName(b, text, "status"), int64(rec.status), 10)
	b = appendStr(b, text, "reason", rec.reason)
	b = strconv.AppendFloat(appendName(b, text, "latency_ms"), float64(now.Sub(rec.start).Microseconds())/1000, 'f', -1, 64)
	if rec.refreshID != "" {
		b = appendStr(b, text, "refresh_id", rec.refreshID)
		b = strconv.AppendBool(appendName(b, text, "refresh_issued"), rec.refreshIssued)
	}
	if rec.tokenReused {
		b = append(appendName(b, text, "token_reused"), "true"...)
	}
	if !text {
		b = append(b, '}')
	}
	return append(b, '\n')
}

// auditList names a list of the audit line. The lists are told apart by
// a switch rather than a function value: through a function value the
// record would escape to the heap, an allocation per request.
type auditList int

const (
	requestedList auditList = iota // the scopes asked for
	grantedList                    // what each was granted
	rulesList                      // the rule that decided each
)

func (l auditList) len(rec *record) int {
	if l == requestedList {
		return len(rec.scopes)
	}
	return len(rec.decisions)
}

func (l auditList) item(rec *record, i int) string {
	switch l {
	case requestedList:
		return rec.scopes[i].String()
	case grantedList:
		return grantString(rec.scopes[i], rec.decisions[i].Granted)
	}
	return rec.decisions[i].Rule.String()
}

func appendLineStart(b []byte, now time.Time, text bool) []byte {
	if text {
		b = appendRFC3339Millis(append(b, "time="...), now)
		return append(b, ` level=INFO msg="token request" log=audit`...)
	}
	b = now.AppendFormat(append(b, `{"time":"`...), time.RFC3339Nano)
	return append(b, `","level":"INFO","msg":"token request","log":"audit"`...)
}

// appendName starts a field: ,"name": or " name=".
func appendName(b []byte, text bool, name string) []byte {
	if text {
		return append(append(append(b, ' '), name...), '=')
	}
	return append(append(append(b, ',', '"'), name...), '"', ':')
}

func appendStr(b []byte, text bool, name, value string) []byte {
	b = appendName(b, text, name)
	switch {
	case !text:
		return appendJSONString(b, value)
	case needsQuoting(value):
		return strconv.AppendQuote(b, value)
	}
	return append(b, value...)
}

// appendList appends one of rec's lists: ["a","b"] in JSON; [a b] in text,
// quoted as a whole when it holds a space or a character that needs
// quoting, as slog prints a []string.
func appendList(b []byte, text bool, name string, rec *record, list auditList) []byte {
	b = appendName(b, text, name)
	n := list.len(rec)
	switch {
	case !text:
		b = append(b, '[')
		for i := range n {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, list.item(rec, i))
		}
		return append(b, ']')
	case n == 0:
		return append(b, "[]"...)
	case n == 1:
		if s := list.item(rec, 0); !needsQuoting(s) {
			return append(append(append(b, '['), s...), ']')
		} else {
			return append(appendEscaped(append(b, `"[`...), s), `]"`...)
		}
	}
	b = append(b, `"[`...) // the space between items needs quotes
	for i := range n {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendEscaped(b, list.item(rec, i))
	}
	return append(b, `]"`...)
}

// appendEscaped appends s as strconv.Quote would write it, without the quotes.
func appendEscaped(b []byte, s string) []byte {
	start := len(b)
	b = strconv.AppendQuote(b, s)
	copy(b[start:], b[start+1:len(b)-1])
	return b[:len(b)-2]
}

// needsQuoting reports whether slog's text handler would quote s: when it
// is empty, or holds a space, '=', '"', a control character, or a rune that
// is not printable.
func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || !strconv.IsPrint(r) { // not printable includes every non-ASCII space
			return true
		}
		i += size
	}
	return false
}

// appendRFC3339Millis formats t as slog's text handler does: RFC 3339 with
// exactly three digits of milliseconds.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...) // drop the fourth digit
}
