//go:build e2e

package harness

import (
	"bytes"
	"sync"
)

// auditTail keeps the last max bytes of what regtoken prints, leaving out
// its audit lines. Under a load run regtoken writes one audit line per
// answer, millions of them; kept whole they would fill the test's memory
// and crowd every other line out of a failure message.
type auditTail struct {
	mu      sync.Mutex
	partial []byte // an unfinished line
	buf     []byte
	max     int
}

// auditMarks tell an audit line from the rest of regtoken's log, in JSON
// and in text.
var auditMarks = [][]byte{[]byte(`"log":"audit"`), []byte(" log=audit ")}

func (w *auditTail) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			w.partial = append(w.partial, b...)
			break
		}
		line := b[:i+1]
		if len(w.partial) > 0 {
			line = append(w.partial, line...)
			w.partial = w.partial[:0]
		}
		b = b[i+1:]
		if bytes.Contains(line, auditMarks[0]) || bytes.Contains(line, auditMarks[1]) {
			continue
		}
		w.buf = append(w.buf, line...)
		if len(w.buf) > 2*w.max { // trim now and then, not on every line
			w.buf = append(w.buf[:0], w.buf[len(w.buf)-w.max:]...)
		}
	}
	return n, nil
}

func (w *auditTail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf[max(0, len(w.buf)-w.max):])
}
