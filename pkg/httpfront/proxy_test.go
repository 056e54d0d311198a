package httpfront

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestProxyHeaders(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trust   bool
		headers map[string][]string
		remote  string
		tls     bool
	}{
		{"real ip wins", true, map[string][]string{"X-Real-Ip": {"198.51.100.9"}, "X-Forwarded-For": {"10.0.0.1"}}, "198.51.100.9:0", false},
		{"last forwarded entry", true, map[string][]string{"X-Forwarded-For": {"6.6.6.6, 198.51.100.9"}}, "198.51.100.9:0", false},
		{"last of several lines", true, map[string][]string{"X-Forwarded-For": {"6.6.6.6", "7.7.7.7,2001:db8::1"}}, "[2001:db8::1]:0", false},
		{"mapped v4", true, map[string][]string{"X-Real-Ip": {"::ffff:192.0.2.1"}}, "192.0.2.1:0", false},
		{"garbage ignored", true, map[string][]string{"X-Real-Ip": {"evil.example"}}, "@", false},
		{"https", true, map[string][]string{"X-Real-Ip": {"192.0.2.1"}, "X-Forwarded-Proto": {"https"}}, "192.0.2.1:0", true},
		{"untrusted", false, map[string][]string{"X-Real-Ip": {"6.6.6.6"}, "X-Forwarded-For": {"6.6.6.6"}, "X-Forwarded-Proto": {"https"}}, "@", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen *http.Request
			record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r })
			h := dropProxyHeaders(record)
			if tc.trust {
				h = useProxyHeaders(record)
			}
			r := httptest.NewRequest("GET", "/v2/token", nil)
			r.RemoteAddr = "@" // what a unix socket gives
			for k, v := range tc.headers {
				r.Header[k] = v
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if seen.RemoteAddr != tc.remote {
				t.Errorf("RemoteAddr %q, want %q", seen.RemoteAddr, tc.remote)
			}
			if (seen.TLS != nil) != tc.tls {
				t.Errorf("TLS set: %v, want %v", seen.TLS != nil, tc.tls)
			}
			if !tc.trust {
				for _, name := range proxyHeaders {
					if v := seen.Header.Values(name); len(v) > 0 {
						t.Errorf("untrusted %s reached the handler: %q", name, v)
					}
				}
			}
		})
	}
}
