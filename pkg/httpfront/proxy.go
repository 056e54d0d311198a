package httpfront

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// proxyHeaders are the headers a proxy uses to describe the client.
var proxyHeaders = []string{"X-Real-Ip", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded"}

// dropProxyHeaders removes what an untrusted client may have forged.
func dropProxyHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, name := range proxyHeaders {
			r.Header.Del(name)
		}
		h.ServeHTTP(w, r)
	})
}

// useProxyHeaders rewrites RemoteAddr (port 0, as net/http/cgi does when
// REMOTE_PORT is missing) and TLS from the proxy's headers. A header that
// does not hold an IP address leaves RemoteAddr alone.
func useProxyHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ip, ok := clientIP(r.Header); ok {
			r.RemoteAddr = net.JoinHostPort(ip.String(), "0")
		}
		if strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") && r.TLS == nil {
			r.TLS = &tls.ConnectionState{HandshakeComplete: true}
		}
		h.ServeHTTP(w, r)
	})
}

// clientIP prefers X-Real-IP (nginx: $remote_addr) and falls back to the
// last X-Forwarded-For entry: $proxy_add_x_forwarded_for appends the
// address nginx saw, while the entries before it came from the client and
// prove nothing.
func clientIP(h http.Header) (netip.Addr, bool) {
	if v := strings.TrimSpace(h.Get("X-Real-Ip")); v != "" {
		return parseIP(v)
	}
	lines := h.Values("X-Forwarded-For")
	if len(lines) == 0 {
		return netip.Addr{}, false
	}
	last := lines[len(lines)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return parseIP(strings.TrimSpace(last))
}

func parseIP(s string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}
