package listen

import (
	"errors"
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
