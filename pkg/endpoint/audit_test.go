package endpoint

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/throttle"
)

// jti reads the jti claim of a token without verifying it.
func jti(t *testing.T, jwt string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", jwt)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		JTI string `json:"jti"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.JTI == "" {
		t.Fatalf("no jti in %s", payload)
	}
	return c.JTI
}

// lastAuditLine decodes the last line written to buf.
func lastAuditLine(t *testing.T, buf *bytes.Buffer) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &line); err != nil {
		t.Fatalf("audit line not JSON: %q", lines[len(lines)-1])
	}
	return line
}

// Every way through the handler, and what its audit line says about who
// asked, how, for what, and with which outcome: the record is made once,
// from what parsing, authentication and the answer returned, and each path
// shows only what its steps found.
func TestAuditLineOfEveryPath(t *testing.T) {
	var buf bytes.Buffer
	h, _ := oauthHandler(t, &buf)
	rt := login(t, h, "foo", "foo")
	rtID := jti(t, rt)
	scope := "repository:some-image:pull"
	form := func(kv ...string) url.Values {
		f := url.Values{"client_id": {"test"}, "service": {"Authentication"}, "scope": {scope}}
		for i := 0; i < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	type want struct {
		user, grantType, service string
		status                   float64
		reason                   string
		refreshID                string // "new": a jti other than rtID
		granted                  int
	}
	badCredentials := "incorrect username or password"
	cases := []struct {
		name string
		send func()
		want want
	}{
		{"GET anonymous", func() { do(t, h, "GET", tokenURL(scope), "", "") },
			want{"", "", "Authentication", 200, "", "", 1}},
		{"GET password", func() { do(t, h, "GET", tokenURL(scope), "foo", "foo") },
			want{"foo", "password", "Authentication", 200, "", "", 1}},
		{"GET wrong password", func() { do(t, h, "GET", tokenURL(scope), "foo", "wrong") },
			want{"foo", "password", "Authentication", 401, badCredentials, "", 0}},
		{"GET empty user, not a token", func() { do(t, h, "GET", tokenURL(scope), "", "not-a-token") },
			want{"", "refresh_token", "Authentication", 401, "invalid refresh token", "", 0}},
		{"GET identity token", func() { do(t, h, "GET", tokenURL(scope), "<token>", rt) },
			want{"foo", "refresh_token", "Authentication", 200, "", rtID, 1}},
		{"GET identity token for another service", func() {
			do(t, h, "GET", "/v2/token?service=other&scope="+scope, "", rt)
		}, want{"", "", "", 400, `unknown service "other"`, "", 0}},
		{"GET docker login", func() { do(t, h, "GET", tokenURL()+"&offline_token=true", "foo", "foo") },
			want{"foo", "password", "Authentication", 200, "", "new", 0}},
		{"GET login without credentials", func() { do(t, h, "GET", tokenURL(scope)+"&offline_token=true", "", "") },
			want{"", "", "Authentication", 401, errLoginWithoutCredentials.Message, "", 0}},
		{"POST password", func() { postForm(t, h, form("grant_type", "password", "username", "foo", "password", "foo")) },
			want{"foo", "password", "Authentication", 200, "", "", 1}},
		{"POST password without a password", func() { postForm(t, h, form("grant_type", "password", "username", "foo")) },
			want{"", "password", "Authentication", 400, "username and password are required for grant_type=password", "", 0}},
		{"POST without client_id", func() {
			f := form("grant_type", "password", "username", "foo", "password", "foo")
			f.Del("client_id")
			postForm(t, h, f)
		}, want{"", "password", "", 400, "client_id is required", "", 0}},
		{"POST unsupported grant", func() { postForm(t, h, form("grant_type", "client_credentials")) },
			want{"", "unsupported", "", 400, errUnsupportedGrant.Message, "", 0}},
		{"POST without grant_type", func() { postForm(t, h, form()) },
			want{"", "", "", 400, "grant_type is required", "", 0}},
		{"POST refresh", func() {
			postForm(t, h, form("grant_type", "refresh_token", "refresh_token", rt, "access_type", "offline"))
		},
			want{"foo", "refresh_token", "Authentication", 200, "", rtID, 1}},
		{"POST refresh, garbage", func() { postForm(t, h, form("grant_type", "refresh_token", "refresh_token", "a.b.c")) },
			want{"", "refresh_token", "Authentication", 401, "invalid refresh token", "", 0}},
		{"PUT", func() { do(t, h, "PUT", tokenURL(scope), "foo", "foo") },
			want{"", "", "", 405, "use GET or POST", "", 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.send()
			line := lastAuditLine(t, &buf)
			got := want{user: line["user"].(string), grantType: line["grant_type"].(string), service: line["service"].(string),
				status: line["status"].(float64), reason: line["reason"].(string), granted: len(line["granted"].([]any))}
			if id, _ := line["refresh_id"].(string); id != "" {
				got.refreshID = id
				if id != rtID {
					got.refreshID = "new"
				}
				if issued := line["refresh_issued"].(bool); issued != (got.refreshID == "new") {
					t.Errorf("refresh_issued %v for refresh_id %s", issued, id)
				}
			}
			if got != c.want {
				t.Errorf("audit line %v\n got %+v\nwant %+v", line, got, c.want)
			}
		})
	}
}

// A throttled login is logged with the user it was for, and refused before
// any check.
func TestAuditLineWhenThrottled(t *testing.T) {
	var buf bytes.Buffer
	l := throttle.New(throttle.Policy{PairThreshold: 1, AddressThreshold: 100, Tarpit: time.Millisecond})
	h := New(testState(t), Options{Verifier: authn.New(authn.Options{}), Throttle: l, Audit: &buf})
	do(t, h, "GET", tokenURL(), "foo", "wrong")
	res := do(t, h, "GET", tokenURL(), "foo", "foo")
	if res.status != 429 || res.header.Get("Retry-After") == "" || res.body["error"] != "slow_down" {
		t.Fatalf("throttled login: %d %v %s", res.status, res.header, res.raw)
	}
	line := lastAuditLine(t, &buf)
	if line["user"] != "foo" || line["grant_type"] != "password" || line["status"] != float64(429) ||
		!strings.HasPrefix(line["reason"].(string), "too many failed logins; retry after ") {
		t.Errorf("audit line %v", line)
	}
}
