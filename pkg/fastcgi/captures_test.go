package fastcgi

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.reply from what the server answers")

// What each front end's capture must decode to (a few telling variables per
// request), beside its own quirks: nginx 1.22 repeats a header's key,
// Apache joins values itself and leaves CONTENT_LENGTH out of a GET, Caddy
// sends CONTENT_LENGTH=-1 for a chunked body.
var captureWants = map[string][]map[string]string{
	"nginx-1.22-get.fcgi": {{
		"REQUEST_METHOD": "GET", "HTTP_AUTHORIZATION": "Basic YWxpY2U6c2VjcmV0",
		"HTTP_X_DUP": "a, b", "HTTP_COOKIE": "a=1; b=2", "CONTENT_LENGTH": "", "keep": "false",
	}},
	"nginx-1.22-chunked-post.fcgi": {{
		"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "41", "HTTP_TRANSFER_ENCODING": "chunked",
		"body": "grant_type=password&username=alice&x=1234", "keep": "false",
	}},
	"nginx-1.22-keep-conn.fcgi": {
		{"REQUEST_METHOD": "GET", "REQUEST_URI": "/keep/v2/token?scope=repository%3Asome-image%3Apull&service=Authentication",
			"HTTP_X_DUP": "a, b", "keep": "true"},
		{"REQUEST_METHOD": "POST", "body": "grant_type=password&username=alice&x=1234", "keep": "true"},
	},
	"apache-2.4-get.fcgi": {{
		"REQUEST_METHOD": "GET", "HTTP_AUTHORIZATION": "Basic YWxpY2U6c2VjcmV0", "HTTP_X_DUP": "a, b",
		"HTTP_COOKIE": "a=1, b=2", "SCRIPT_NAME": "/v2/token", "keep": "false",
	}},
	"apache-2.4-post.fcgi": {{
		"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "41", "body": "grant_type=password&username=alice&x=1234", "keep": "false",
	}},
	"caddy-2.6-get.fcgi": {{
		"REQUEST_METHOD": "GET", "HTTP_AUTHORIZATION": "Basic YWxpY2U6c2VjcmV0", "CONTENT_LENGTH": "0", "keep": "false",
	}},
	"caddy-2.6-chunked-post.fcgi": {{
		"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "-1", "body": "grant_type=password&username=alice&x=1234", "keep": "false",
	}},
}

func readCapture(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every capture decodes to the requests the front end was sent.
func TestCapturesDecode(t *testing.T) {
	t.Parallel()
	files := captures(t)
	if len(files) != len(captureWants) {
		t.Errorf("%d captures, %d expectations", len(files), len(captureWants))
	}
	for _, path := range files {
		name := filepath.Base(path)
		reqs, _, err := readAll(readCapture(t, path), testLimits)
		if err != nil && err != io.EOF { // nil: the last request closes the connection
			t.Errorf("%s: the stream ended with %v", name, err)
		}
		wants := captureWants[name]
		if len(reqs) != len(wants) {
			t.Fatalf("%s: %d requests, want %d", name, len(reqs), len(wants))
		}
		for i, want := range wants {
			r := reqs[i]
			for k, v := range want {
				got, ok := r.env[k]
				switch k {
				case "body":
					got, ok = r.body, true
				case "keep":
					got, ok = fmt.Sprint(r.keep), true
				}
				if !ok || got != v {
					t.Errorf("%s request %d: %s = %q (present %v), want %q", name, i+1, k, got, ok, v)
				}
			}
		}
	}
}

// Each capture, replayed to the server, gets exactly the committed reply
// (testdata/*.reply, written by go test -update): STDOUT records with the
// CGI head and body, 8-byte aligned, then END_REQUEST, per request.
func TestCapturesReplies(t *testing.T) {
	t.Parallel()
	sock, _ := start(t, &Server{ErrorLog: quietLog(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u, _, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if u == "" {
			w.Header().Set("Www-Authenticate", `Bearer realm="https://reg.example/v2/token"`)
			w.WriteHeader(http.StatusUnauthorized)
		}
		fmt.Fprintf(w, `{"method":%q,"user":%q,"dup":%q,"body":%q}`, r.Method, u, r.Header.Get("X-Dup"), body)
	})})
	for _, path := range captures(t) {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(readCapture(t, path))
		conn.(*net.UnixConn).CloseWrite() // a kept connection then ends
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(conn)
		conn.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		golden := strings.TrimSuffix(path, ".fcgi") + ".reply"
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if want := readCapture(t, golden); !bytes.Equal(got, want) {
			t.Errorf("%s: reply\n%q\nwant\n%q", filepath.Base(path), got, want)
		}
	}
}
