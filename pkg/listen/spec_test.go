package listen

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestParseFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Spec
		err  error
	}{
		{"uwsgi=unix:/run/regtoken/uwsgi.sock", Spec{Protocol: UWSGI, Address: "unix:/run/regtoken/uwsgi.sock"}, nil},
		{"scgi=systemd:scgi", Spec{Protocol: SCGI, Address: "systemd:scgi"}, nil},
		{"fcgi=tcp:127.0.0.1:9000", Spec{Protocol: FastCGI, Address: "tcp:127.0.0.1:9000"}, nil},
		{"FastCGI=tcp:[::1]:9000", Spec{Protocol: FastCGI, Address: "tcp:[::1]:9000"}, nil},
		{"http=tcp::8080", Spec{Protocol: HTTP, Address: "tcp::8080"}, nil},
		{"http=unix:relative.sock", Spec{Protocol: HTTP, Address: "unix:relative.sock"}, nil},
		{"gopher=unix:/x", Spec{}, ErrUnknownProtocol},
		{"unix:/run/x.sock", Spec{}, ErrBadAddress},
		{"scgi=", Spec{}, ErrBadAddress},
		{"scgi=/run/x.sock", Spec{}, ErrBadAddress},
		{"scgi=unix:", Spec{}, ErrBadAddress},
		{"scgi=udp:1.2.3.4:5", Spec{}, ErrBadAddress},
		{"scgi=tcp:127.0.0.1", Spec{}, ErrBadAddress},
		{"scgi=tcp:127.0.0.1:http", Spec{}, ErrBadAddress},
		{"scgi=tcp:127.0.0.1:70000", Spec{}, ErrBadAddress},
		{"scgi=systemd:a:b", Spec{}, ErrBadAddress},
		{"scgi=unix:/" + strings.Repeat("x", 120), Spec{}, ErrBadAddress},
		// The options of a [[listen]] table, after "?".
		{"uwsgi=unix:/run/regtoken/uwsgi.sock?group=www-data&mode=0660",
			Spec{Protocol: UWSGI, Address: "unix:/run/regtoken/uwsgi.sock", Group: "www-data", Mode: 0o660}, nil},
		{"scgi=unix:/s?owner=regtoken&mode=600", Spec{Protocol: SCGI, Address: "unix:/s", Owner: "regtoken", Mode: 0o600}, nil},
		{"http=tcp:127.0.0.1:8080?trust_proxy_headers=true", Spec{Protocol: HTTP, Address: "tcp:127.0.0.1:8080", TrustProxyHeaders: true}, nil},
		{"http=unix:/h.sock?trust_proxy_headers", Spec{Protocol: HTTP, Address: "unix:/h.sock", TrustProxyHeaders: true}, nil},
		{"scgi=unix:/s?grp=x", Spec{}, ErrBadOption},
		{"scgi=unix:/s?mode=0999", Spec{}, ErrBadOption},
		{"scgi=unix:/s?mode=1777", Spec{}, ErrBadOption},
		{"scgi=unix:/s?group=a&group=b", Spec{}, ErrBadOption},
		{"http=tcp:127.0.0.1:1?trust_proxy_headers=maybe", Spec{}, strconv.ErrSyntax},
		{"scgi=tcp:127.0.0.1:1?group=www-data", Spec{}, ErrNotApplicable},
		{"scgi=unix:/s?trust_proxy_headers=true", Spec{}, ErrNotApplicable},
	} {
		got, err := ParseFlag(tc.in)
		if !errors.Is(err, tc.err) {
			t.Errorf("%q: error %v, want %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && got != tc.want {
			t.Errorf("%q: got %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestValidateOptions(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		err  error
	}{
		{Spec{Protocol: HTTP, Address: "unix:/s", Mode: 0o600, Owner: "root", Group: "www-data", TrustProxyHeaders: true}, nil},
		{Spec{Protocol: "fcgi", Address: "unix:/s"}, nil},
		{Spec{Protocol: SCGI, Address: "tcp:127.0.0.1:1", Mode: 0o600}, ErrNotApplicable},
		{Spec{Protocol: SCGI, Address: "systemd:scgi", Group: "www-data"}, ErrNotApplicable},
		{Spec{Protocol: SCGI, Address: "tcp:127.0.0.1:1", Owner: "root"}, ErrNotApplicable},
		{Spec{Protocol: SCGI, Address: "unix:/s", Mode: 0o4660}, ErrNotApplicable},
		{Spec{Protocol: SCGI, Address: "unix:/s", TrustProxyHeaders: true}, ErrNotApplicable},
		{Spec{Protocol: "", Address: "unix:/s"}, ErrUnknownProtocol},
	} {
		if err := tc.spec.Validate(); !errors.Is(err, tc.err) {
			t.Errorf("%+v: got %v, want %v", tc.spec, err, tc.err)
		}
	}
}

func TestSpecString(t *testing.T) {
	s, err := ParseFlag("fcgi=unix:/run/f.sock")
	if err != nil || s.String() != "fastcgi=unix:/run/f.sock" {
		t.Errorf("got %q, %v", s, err)
	}
}

// Validate reports every problem of a spec at once, so the configuration
// can name them all in one pass.
func TestValidateReportsEveryProblem(t *testing.T) {
	err := Spec{Protocol: "gopher", Address: "udp:1", Mode: 0o600}.Validate()
	for _, want := range []error{ErrUnknownProtocol, ErrBadAddress, ErrNotApplicable} {
		if !errors.Is(err, want) {
			t.Errorf("Validate() = %v, lacks %v", err, want)
		}
	}
}

// -listen names a [[listen]] table's options after "?".
func TestParseFlagOptionMessage(t *testing.T) {
	if _, err := ParseFlag("scgi=unix:/s?grp=x"); err == nil || !strings.Contains(err.Error(), `bad option "grp": want mode, owner, group or trust_proxy_headers (in "scgi=unix:/s?grp=x")`) {
		t.Errorf("unknown option: %v", err)
	}
}
