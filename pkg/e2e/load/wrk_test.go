//go:build e2e

package load

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// load is what one wrk run sends.
type load struct {
	path        string // path and query, on nginx
	method      string // default GET
	body        string
	contentType string
	// auth is the Authorization header: one value is sent on every
	// request; with several, each wrk thread uses its own half once each, in
	// turn (first-time credentials).
	auth        []string
	delayMS     int           // pause before each request on a connection
	connections int           // default 16
	timeout     time.Duration // wrk --timeout; default 2s, as wrk's
}

// wrkResult is what the script's done() prints.
type wrkResult struct {
	Requests   int64   `json:"requests"`
	DurationUS float64 `json:"duration_us"`
	P50US      float64 `json:"p50_us"`
	P99US      float64 `json:"p99_us"`
	MaxUS      float64 `json:"max_us"`
	Connect    int64   `json:"connect"`
	Read       int64   `json:"read"`
	Write      int64   `json:"write"`
	Status     int64   `json:"status"` // answers other than 2xx and 3xx
	Timeout    int64   `json:"timeout"`
}

// rate is 2xx answers per second.
func (r wrkResult) rate() float64 { return r.perSecond(r.Requests - r.Status) }

// answerRate is answers of any status per second.
func (r wrkResult) answerRate() float64 { return r.perSecond(r.Requests) }

func (r wrkResult) perSecond(n int64) float64 {
	if r.DurationUS <= 0 {
		return 0
	}
	return float64(n) / (r.DurationUS / 1e6)
}

// failures counts requests that did not end in a 2xx answer.
func (r wrkResult) failures() int64 { return r.Connect + r.Read + r.Write + r.Status + r.Timeout }

const wrkThreads = 2

// runWrk runs wrk -t2 against nginx on port for d and returns its figures.
func runWrk(ctx context.Context, dir string, port int, l load, d time.Duration) (wrkResult, error) {
	script, err := os.CreateTemp(dir, "load-*.lua")
	if err != nil {
		return wrkResult{}, err
	}
	defer os.Remove(script.Name())
	if _, err := script.WriteString(luaScript(l)); err != nil {
		return wrkResult{}, err
	}
	script.Close()
	conns := l.connections
	if conns == 0 {
		conns = 16
	}
	timeout := l.timeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, wrkPath, "-t", fmt.Sprint(wrkThreads), "-c", fmt.Sprint(conns),
		"-d", fmt.Sprintf("%ds", secs), "--timeout", fmt.Sprintf("%ds", int(timeout/time.Second)),
		"-s", script.Name(), fmt.Sprintf("http://127.0.0.1:%d%s", port, l.path))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v\n%s", err, out.String())
	}
	_, line, ok := strings.Cut(out.String(), "REGTOKEN-WRK ")
	if !ok {
		return wrkResult{}, fmt.Errorf("wrk printed no result:\n%s", out.String())
	}
	line, _, _ = strings.Cut(line, "\n")
	var r wrkResult
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return wrkResult{}, fmt.Errorf("wrk result %q: %v", line, err)
	}
	return r, nil
}

// wrkPath is set by startStack, which fails the test without wrk.
var wrkPath = "wrk"

// luaScript writes l as a wrk script whose done() prints one JSON line.
func luaScript(l load) string {
	var s strings.Builder
	if l.method != "" {
		fmt.Fprintf(&s, "wrk.method = %s\n", luaString(l.method))
	}
	if l.body != "" {
		fmt.Fprintf(&s, "wrk.body = %s\n", luaString(l.body))
	}
	if l.contentType != "" {
		fmt.Fprintf(&s, "wrk.headers[\"Content-Type\"] = %s\n", luaString(l.contentType))
	}
	switch {
	case len(l.auth) == 1:
		fmt.Fprintf(&s, "wrk.headers[\"Authorization\"] = %s\n", luaString(l.auth[0]))
	case len(l.auth) > 1:
		s.WriteString("local auth = {\n")
		for _, a := range l.auth {
			fmt.Fprintf(&s, "  %s,\n", luaString(a))
		}
		fmt.Fprintf(&s, `}
local per = %d
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local sent = 0
function request()
  local i = tid * per + sent %% per + 1
  sent = sent + 1
  return wrk.format(nil, nil, {["Authorization"] = auth[i]})
end
`, len(l.auth)/wrkThreads)
	}
	if l.delayMS > 0 {
		fmt.Fprintf(&s, "function delay() return %d end\n", l.delayMS)
	}
	s.WriteString(`function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('REGTOKEN-WRK {"requests":%d,"duration_us":%d,"p50_us":%.0f,"p99_us":%.0f,"max_us":%.0f,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
`)
	return s.String()
}

// luaString quotes s for Lua: printable ASCII as is, the rest as \ddd.
func luaString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}
