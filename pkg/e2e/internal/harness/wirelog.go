//go:build e2e

package harness

import (
	"bufio"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// WireLog is nginx's access log for one Stack. Conformance tests read it to
// see what a client really sent: regtoken's audit line holds scopes after
// parsing, so it cannot tell "scope=a&scope=b" from "scope=a b", or show the
// account parameter. It records method, status, Basic-auth user name, URI and
// user agent; never the Authorization header, so no password or token.
type WireLog struct {
	path  string
	host  string
	syncs atomic.Int64
}

// WireRequest is one line of the WireLog.
type WireRequest struct {
	Method string
	Status int
	User   string // Basic-auth user name as nginx decoded it; "-" when none
	URI    string // path and raw query, as the client sent them
	Agent  string
	// Form holds grant_type, username and the first scope field of a
	// form-encoded body (OAuth2 POST to the token realm); nothing else.
	Form url.Values
}

// Path is the URI without its query.
func (r WireRequest) Path() string {
	p, _, _ := strings.Cut(r.URI, "?")
	return p
}

// Query is the decoded query string; a value repeated on the wire appears
// repeated here.
func (r WireRequest) Query() url.Values {
	_, q, _ := strings.Cut(r.URI, "?")
	v, _ := url.ParseQuery(q)
	return v
}

// wireLogFormat uses tabs because URIs and user agents hold spaces. Of a
// POST body (the OAuth2 token form) it logs only grant_type, username and
// scope, picked out by the maps: the body also holds passwords and refresh
// tokens, which must never reach a log.
const wireLogFormat = `map $request_body $regtoken_wire_grant { "~(^|&)(?<v>grant_type=[^&]*)" $v; default ""; }
    map $request_body $regtoken_wire_username { "~(^|&)(?<v>username=[^&]*)" $v; default ""; }
    map $request_body $regtoken_wire_scope { "~(^|&)(?<v>scope=[^&]*)" $v; default ""; }
    log_format regtoken_wire "$request_method\t$status\t$remote_user\t$request_uri\t$http_user_agent\t$regtoken_wire_grant&$regtoken_wire_username&$regtoken_wire_scope";`

// EnableWireLog turns on nginx's access log for the stack (StartNginx writes
// "access_log off;") by rewriting the stack's nginx.conf and sending nginx
// SIGHUP, and returns once nginx logs requests.
func (s *Stack) EnableWireLog(t testing.TB) *WireLog {
	t.Helper()
	prefix := filepath.Join(s.Dir, "nginx")
	confPath := filepath.Join(prefix, "nginx.conf")
	logPath := filepath.Join(prefix, "logs", "wire.log")
	b, err := os.ReadFile(confPath)
	if err != nil {
		t.Fatalf("wire log: %v", err)
	}
	conf := string(b)
	if !strings.Contains(conf, "access_log off;") {
		t.Fatalf("wire log: %s has no \"access_log off;\" to replace; StartNginx changed, update EnableWireLog", confPath)
	}
	conf = strings.Replace(conf, "access_log off;", wireLogFormat+"\n    access_log "+logPath+" regtoken_wire;", 1)
	WriteFile(t, confPath, conf, 0o644)
	if out, err := exec.Command(Tool(t, "nginx"), "-t", "-q", "-p", prefix, "-c", confPath).CombinedOutput(); err != nil {
		t.Fatalf("wire log: nginx -t rejected the access log: %v\n%s", err, out)
	}
	if err := s.Nginx.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("wire log: reload nginx: %v", err)
	}
	l := &WireLog{path: logPath, host: s.Host}
	l.sync(t, 10*time.Second) // nginx applies a reload when its new worker starts
	return l
}

// sync sends a marker request and waits until nginx has logged it. nginx
// logs a request after sending the response, so a client may exit before its
// last request is in the log; the marker, sent later, is logged after it.
func (l *WireLog) sync(t testing.TB, timeout time.Duration) {
	t.Helper()
	marker := "wirelog-sync=" + strconv.FormatInt(l.syncs.Add(1), 10)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + l.host + "/v2/?" + marker); err == nil {
			resp.Body.Close()
		}
		for range 20 {
			for _, r := range l.read(t, 0) {
				if strings.HasSuffix(r.URI, "?"+marker) {
					return
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Fatalf("wire log: nginx did not log to %s within %s", l.path, timeout)
}

// Mark is the log's current end; pass it to Since to read what came after.
func (l *WireLog) Mark() int64 {
	fi, err := os.Stat(l.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Params are the token request's parameters as the client sent them: the
// query of a GET, the logged form fields of a POST.
func (r WireRequest) Params() url.Values {
	if r.Method == http.MethodPost {
		return r.Form
	}
	return r.Query()
}

// Since returns the requests logged after mark, in order, once every request
// made before the call is in the log. The markers it sends are left out.
func (l *WireLog) Since(t testing.TB, mark int64) []WireRequest {
	t.Helper()
	l.sync(t, 5*time.Second)
	var out []WireRequest
	for _, r := range l.read(t, mark) {
		if !strings.Contains(r.URI, "wirelog-sync=") {
			out = append(out, r)
		}
	}
	return out
}

func (l *WireLog) read(t testing.TB, mark int64) []WireRequest {
	t.Helper()
	f, err := os.Open(l.path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("wire log: %v", err)
	}
	defer f.Close()
	if _, err := f.Seek(mark, 0); err != nil {
		t.Fatalf("wire log: %v", err)
	}
	var out []WireRequest
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if r, ok := parseWireLine(sc.Text()); ok {
			out = append(out, r)
		}
	}
	return out
}

func parseWireLine(line string) (WireRequest, bool) {
	f := strings.Split(line, "\t")
	if len(f) != 6 {
		return WireRequest{}, false
	}
	status, err := strconv.Atoi(f[1])
	if err != nil {
		return WireRequest{}, false
	}
	form, _ := url.ParseQuery(f[5])
	return WireRequest{Method: f[0], Status: status, User: f[2], URI: f[3], Agent: f[4], Form: form}, true
}
