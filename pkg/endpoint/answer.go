package endpoint

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
)

// The success answer is written by hand rather than by encoding/json: the
// token is in it twice and is most of its bytes, and with tokens reused
// (reuse.go) encoding the answer through reflection cost more than the rest
// of the request. The bytes are exactly what json.Marshal(tokenResponse)
// writes (answer_test.go checks), so no client can tell.

// answerBuffers recycles the buffers answers are assembled in; every
// http.ResponseWriter copies what it is given.
var answerBuffers = sync.Pool{New: func() any { return new([]byte) }}

// writeAnswer writes resp as the 200 answer.
func writeAnswer(w http.ResponseWriter, resp *tokenResponse) {
	bufp := answerBuffers.Get().(*[]byte)
	b := append(resp.appendJSON((*bufp)[:0]), '\n')
	writeBody(w, http.StatusOK, b)
	if cap(b) <= 64<<10 {
		*bufp = b
		answerBuffers.Put(bufp)
	}
}

// appendJSON appends resp as json.Marshal would: same fields, order,
// escaping, and the omitempty fields left out when empty.
func (resp *tokenResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"token":`...)
	b = appendJSONString(b, resp.Token)
	b = append(b, `,"access_token":`...)
	b = appendJSONString(b, resp.AccessToken)
	b = append(b, `,"expires_in":`...)
	b = strconv.AppendInt(b, int64(resp.ExpiresIn), 10)
	b = append(b, `,"issued_at":`...)
	b = appendJSONString(b, resp.IssuedAt)
	b = append(b, `,"scope":`...)
	b = appendJSONString(b, resp.Scope)
	if resp.RefreshToken != "" {
		b = append(b, `,"refresh_token":`...)
		b = appendJSONString(b, resp.RefreshToken)
	}
	if resp.IssuedTokenType != "" {
		b = append(b, `,"issued_token_type":`...)
		b = appendJSONString(b, resp.IssuedTokenType)
	}
	if resp.TokenType != "" {
		b = append(b, `,"token_type":`...)
		b = appendJSONString(b, resp.TokenType)
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string. Tokens, times and scopes are
// printable ASCII that JSON takes as is; anything else (a quote, a
// backslash, what encoding/json escapes for HTML, control or non-ASCII
// bytes) goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plainJSON[s[i]] {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plainJSON marks the bytes encoding/json writes unchanged inside a string.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()
