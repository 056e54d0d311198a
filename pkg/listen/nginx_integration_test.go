package listen

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/regtoken/regtoken/pkg/limits"
)

// echoReply is what echoHandler reports about a request.
type echoReply struct {
	Method     string
	RequestURI string
	RemoteAddr string
	Headers    map[string]string // repeated values joined with ", "
	BodyLen    int
}

// echoHandler describes the request as JSON, or answers 401 with a
// challenge when the query asks for it (?status=401).
var echoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Query().Get("status") == "401" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://reg.example/v2/token",service="reg"`)
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`)
		return
	}
	reply := echoReply{Method: r.Method, RequestURI: r.RequestURI, RemoteAddr: r.RemoteAddr,
		Headers: map[string]string{}, BodyLen: len(body)}
	for name, values := range r.Header {
		reply.Headers[name] = strings.Join(values, ", ")
	}
	json.NewEncoder(w).Encode(reply)
})

// nginxLocations has one location per protocol, each configured the way
// the operator documentation shows; %[1]s is the socket directory. The
// uwsgi block is the original service's README block with the upstream
// address inlined.
const nginxLocations = `
        location /scgi/ {
            include   scgi_params;
            scgi_pass unix:%[1]s/scgi.sock;
        }
        location /uwsgi/ {
            uwsgi_pass unix://%[1]s/uwsgi.sock;
            include uwsgi_params;
        }
        location /fastcgi/ {
            include      fastcgi_params;
            fastcgi_pass unix:%[1]s/fastcgi.sock;
        }
        location /http/ {
            proxy_pass http://unix:%[1]s/http.sock:;
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }
`

func TestBehindNginx(t *testing.T) {
	dir := t.TempDir()
	startAll(t, dir, echoHandler, limits.Transport{})
	base := startNginx(t, fmt.Sprintf(nginxLocations, dir))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	for _, p := range allProtocols {
		t.Run(p, func(t *testing.T) {
			uri := "/" + p + "/v2/token?service=reg&scope=repository:a/b:pull"
			req, _ := http.NewRequest("GET", base+uri, nil)
			req.Header.Set("Authorization", "Basic YWxpY2U6c2VjcmV0")
			req.Header.Add("X-Dup", "a")
			req.Header.Add("X-Dup", "b")
			reply, _ := fetch(t, client, req, http.StatusOK)
			if reply.Method != "GET" || reply.RequestURI != uri {
				t.Errorf("request line arrived as %s %s", reply.Method, reply.RequestURI)
			}
			if got := reply.Headers["Authorization"]; got != "Basic YWxpY2U6c2VjcmV0" {
				t.Errorf("Authorization arrived as %q", got)
			}
			if got := reply.Headers["X-Dup"]; got != "a, b" {
				t.Errorf("repeated header arrived as %q, want \"a, b\"", got)
			}
			if host, _, err := net.SplitHostPort(reply.RemoteAddr); err != nil || host != "127.0.0.1" {
				t.Errorf("RemoteAddr %q, want the client's 127.0.0.1", reply.RemoteAddr)
			}

			req, _ = http.NewRequest("GET", base+"/"+p+"/v2/token?status=401", nil)
			_, resp := fetch(t, client, req, http.StatusUnauthorized)
			if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer realm="https://reg.example/v2/token"`) {
				t.Errorf("401 challenge arrived as %q", resp.Header.Get("WWW-Authenticate"))
			}

			body := strings.Repeat("grant_type=password&", 300) // 6000 bytes
			req, _ = http.NewRequest("POST", base+"/"+p+"/v2/token", io.MultiReader(strings.NewReader(body)))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.ContentLength = -1 // send it chunked
			reply, _ = fetch(t, client, req, http.StatusOK)
			if reply.BodyLen != len(body) {
				t.Errorf("chunked body arrived with %d bytes, sent %d", reply.BodyLen, len(body))
			}
			if te := reply.Headers["Transfer-Encoding"]; te != "" {
				t.Errorf("handler saw Transfer-Encoding %q for a de-chunked body", te)
			}
		})
	}
}

// fetch does req, checks the status and the framing of nginx's reply, and
// decodes an echoReply when the status is 200.
func fetch(t *testing.T, client *http.Client, req *http.Request, status int) (echoReply, *http.Response) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %q", req.Method, req.URL.Path, resp.StatusCode, status, body)
	}
	if resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) > 0 {
		t.Errorf("%s: nginx replied with Content-Length %d, Transfer-Encoding %v for %d body bytes",
			req.URL.Path, resp.ContentLength, resp.TransferEncoding, len(body))
	}
	if s := resp.Header.Values("Status"); len(s) > 0 {
		t.Errorf("%s: a Status header reached the client: %q", req.URL.Path, s)
	}
	var reply echoReply
	if status == http.StatusOK {
		if err := json.Unmarshal(body, &reply); err != nil {
			t.Fatalf("reply %q: %v", body, err)
		}
	} else if !json.Valid(body) {
		t.Errorf("%d body mangled: %q", status, body)
	}
	return reply, resp
}
