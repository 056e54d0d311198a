package token

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestParseScope(t *testing.T) {
	long := "a" + strings.Repeat("/b", 127) // 255 bytes: the longest valid name
	tests := []struct {
		in   string
		want Scope
		err  error
	}{
		{in: "repository:foo:pull", want: Scope{"repository", "foo", []string{"pull"}}},
		{in: "repository:localhost:5000/team/app:pull,push", want: Scope{"repository", "localhost:5000/team/app", []string{"pull", "push"}}},
		{in: "repository:[::1]:5000/team/app:pull", want: Scope{"repository", "[::1]:5000/team/app", []string{"pull"}}},
		{in: "repository:Example.COM:443/foo:pull", want: Scope{"repository", "Example.COM:443/foo", []string{"pull"}}},
		{in: "repository(plugin):x:pull", want: Scope{"repository", "x", []string{"pull"}}},
		{in: "registry:catalog:*", want: Scope{"registry", "catalog", []string{"*"}}},
		{in: "repository:foo:*", want: Scope{"repository", "foo", []string{"*"}}},
		{in: "repository:foo:", want: Scope{"repository", "foo", nil}},
		{in: "repository:foo:pull,,push,", want: Scope{"repository", "foo", []string{"pull", "push"}}},
		{in: "repository:foo:push,pull,push,pull", want: Scope{"repository", "foo", []string{"push", "pull"}}},
		{in: "repository:team/app.v2/api_x:pull", want: Scope{"repository", "team/app.v2/api_x", []string{"pull"}}},
		{in: "repository:a__b/c---d:pull", want: Scope{"repository", "a__b/c---d", []string{"pull"}}},
		{in: "repository:" + long + ":pull", want: Scope{"repository", long, []string{"pull"}}},
		{in: "registry:any:thing:*", want: Scope{"registry", "any:thing", []string{"*"}}},
		// zot's catalog scope, and names the rules will grant nothing: they
		// parse, so that they cannot fail the other scopes of a request.
		{in: "repository::pull", want: Scope{"repository", "", []string{"pull"}}},
		{in: "registry::*", want: Scope{"registry", "", []string{"*"}}},
		{in: "repository:UPPER:pull", want: Scope{"repository", "UPPER", []string{"pull"}}},
		{in: "repository:foo..bar:pull", want: Scope{"repository", "foo..bar", []string{"pull"}}},
		{in: "repository:foo/../bar:pull", want: Scope{"repository", "foo/../bar", []string{"pull"}}},
		{in: "repository:foo:bar:pull", want: Scope{"repository", "foo:bar", []string{"pull"}}},
		{in: "repository:" + long + "c:pull", want: Scope{"repository", long + "c", []string{"pull"}}},

		{in: "", err: ErrMalformedScope},
		{in: "foo", err: ErrMalformedScope},
		{in: "foo:bar", err: ErrMalformedScope},
		{in: ":foo:pull", err: ErrMalformedScope},
		{in: "Repository:foo:pull", err: ErrMalformedScope},
		{in: "repository():foo:pull", err: ErrMalformedScope},
		{in: "repository(plugin:foo:pull", err: ErrMalformedScope},
		{in: "repository(plugin)x:foo:pull", err: ErrMalformedScope},
		{in: "(plugin):foo:pull", err: ErrMalformedScope},
		{in: "repository:foo:PULL", err: ErrMalformedScope},
		{in: "repository:foo:pu ll", err: ErrMalformedScope},
		{in: "registry:cat alog:*", err: ErrMalformedScope},
		{in: "registry:cat\x00alog:*", err: ErrMalformedScope},
		{in: "registry:cat\xffalog:*", err: ErrMalformedScope},
		{in: "repository:fo\to:pull", err: ErrMalformedScope},
	}
	for _, tt := range tests {
		got, err := ParseScope(tt.in)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("ParseScope(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseScope(%q) error = %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseScope(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestScopeString(t *testing.T) {
	tests := []struct {
		in   Scope
		want string
	}{
		{Scope{"repository", "foo", []string{"pull"}}, "repository:foo:pull"},
		{Scope{"repository", "localhost:5000/a", []string{"pull", "push"}}, "repository:localhost:5000/a:pull,push"},
		{Scope{"registry", "catalog", []string{"*"}}, "registry:catalog:*"},
		{Scope{"repository", "foo", nil}, "repository:foo:"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseScopes(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []Scope
		err  error
	}{
		{name: "none", in: nil, want: nil},
		{name: "empty values", in: []string{"", " ", "   "}, want: nil},
		{name: "one", in: []string{"repository:foo:pull"},
			want: []Scope{{"repository", "foo", []string{"pull"}}}},
		{name: "several in one value (ggcr)", in: []string{"repository:dst:push,pull repository:src:pull"},
			want: []Scope{{"repository", "dst", []string{"push", "pull"}}, {"repository", "src", []string{"pull"}}}},
		{name: "extra spaces", in: []string{"  repository:a:pull   registry:catalog:*  "},
			want: []Scope{{"repository", "a", []string{"pull"}}, {"registry", "catalog", []string{"*"}}}},
		{name: "repeated values", in: []string{"repository:a:pull", "repository:a:pull"},
			want: []Scope{{"repository", "a", []string{"pull"}}}},
		{name: "merge keeps first-seen order", in: []string{"repository:a:pull", "repository:b:pull", "repository:a:push,pull,delete"},
			want: []Scope{{"repository", "a", []string{"pull", "push", "delete"}}, {"repository", "b", []string{"pull"}}}},
		{name: "class ignored when merging", in: []string{"repository(plugin):a:pull repository:a:push"},
			want: []Scope{{"repository", "a", []string{"pull", "push"}}}},
		{name: "type distinguishes", in: []string{"repository:catalog:pull registry:catalog:*"},
			want: []Scope{{"repository", "catalog", []string{"pull"}}, {"registry", "catalog", []string{"*"}}}},
		{name: "empty actions merge", in: []string{"repository:a:", "repository:a:pull"},
			want: []Scope{{"repository", "a", []string{"pull"}}}},
		{name: "junk", in: []string{"repository:a:pull", "foo"}, err: ErrMalformedScope},
		{name: "junk in second scope of a value", in: []string{"repository:a:pull repository:a:PULL"}, err: ErrMalformedScope},
		{name: "zot's catalog scope beside crane's", in: []string{"registry:catalog:*", "repository::pull"},
			want: []Scope{{"registry", "catalog", []string{"*"}}, {"repository", "", []string{"pull"}}}},
		{name: "a name nobody is granted beside a good one", in: []string{"repository:a:pull repository:UPPER:pull"},
			want: []Scope{{"repository", "a", []string{"pull"}}, {"repository", "UPPER", []string{"pull"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseScopes(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || got != nil {
					t.Fatalf("ParseScopes(%q) = %v, %v; want nil, %v", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseScopes(%q) error = %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseScopes(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseScopesErrorNamesScope(t *testing.T) {
	_, err := ParseScopes([]string{"repository:ok:pull repository:bad:Pull"})
	if err == nil || !strings.Contains(err.Error(), `"repository:bad:Pull"`) {
		t.Fatalf("error %v does not quote the offending scope", err)
	}
	_, err = ParseScopes([]string{"x" + strings.Repeat("y", 10000)})
	if err == nil || len(err.Error()) > 300 {
		t.Fatalf("error for a huge scope is not clipped: %d bytes", len(err.Error()))
	}
}

// TestParseScopesManyDistinct runs the map-indexed paths: many scopes and
// many actions, beyond smallSetLimit.
func TestParseScopesManyDistinct(t *testing.T) {
	var in []string
	var actions []string
	for i := range 50 {
		name := "r" + strings.Repeat("x", i)
		in = append(in, "repository:"+name+":pull", "repository:"+name+":push")
		actions = append(actions, "a"+strings.Repeat("b", i))
	}
	in = append(in, "repository:r:"+strings.Join(actions, ","), "repository:r:"+strings.Join(actions, ",")+",zz")
	got, err := ParseScopes(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 50 {
		t.Fatalf("got %d scopes, want 50", len(got))
	}
	for _, s := range got[1:] {
		if !slices.Equal(s.Actions, []string{"pull", "push"}) {
			t.Fatalf("%v: actions not merged", s)
		}
	}
	want := append([]string{"pull", "push"}, actions...)
	want = append(want, "zz")
	if !slices.Equal(got[0].Actions, want) {
		t.Fatalf("first scope actions = %v, want %v", got[0].Actions, want)
	}
}

func TestValidRepositoryName(t *testing.T) {
	valid := []string{
		"foo", "library/ubuntu", "team/app.v2/api_x", "a__b", "a-b", "a---b", "a.b_c", "0", "a/b/c/d",
		"localhost/foo", "localhost:5000/foo", "example.com/foo", "Example.COM:443/a/b", "sub-1.example.com/x",
		"192.168.0.1:5000/x", "Foo/bar", "exa_mple.com/foo", "[::1]/foo", "[fe80::1]:5000/foo",
		"a" + strings.Repeat("/b", 127),
	}
	invalid := []string{
		"", "UPPER", "Foo", "foo/Bar", "foo..bar", "foo/../bar", ".foo", "foo.", "_foo", "foo_", "a___b",
		"a._b", "-foo", "foo-", "/foo", "foo/", "foo//bar", "foo bar", "foo:bar", "localhost:5000",
		"localhost:/foo", "localhost:x/foo", "-example.com/foo", "example-.com/foo", "exa_mple.com:80/foo",
		"example..com/foo", "[::1/foo", "[]/foo", "[::g]/foo", "[::1]x/foo", "a" + strings.Repeat("/b", 128),
	}
	for _, n := range valid {
		if !ValidRepositoryName(n) {
			t.Errorf("ValidRepositoryName(%q) = false, want true", n)
		}
		if got := referenceNameRegexp.MatchString(n) && len(n) <= 255; !got {
			t.Errorf("test table disagrees with distribution's regexp on %q", n)
		}
	}
	for _, n := range invalid {
		if ValidRepositoryName(n) {
			t.Errorf("ValidRepositoryName(%q) = true, want false", n)
		}
		if got := referenceNameRegexp.MatchString(n) && len(n) <= 255; got {
			t.Errorf("test table disagrees with distribution's regexp on %q", n)
		}
	}
}

// referenceNameRegexp is NameRegexp of github.com/distribution/reference
// (regexp.go), anchored: the oracle for ValidRepositoryName.
var referenceNameRegexp = func() *regexp.Regexp {
	const (
		alphanumeric        = `[a-z0-9]+`
		separator           = `(?:[._]|__|[-]+)`
		domainNameComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
		optionalPort        = `(?::[0-9]+)?`
		ipv6address         = `\[(?:[a-fA-F0-9:]+)\]`
		domainName          = domainNameComponent + `(?:\.` + domainNameComponent + `)*`
		host                = `(?:` + domainName + `|` + ipv6address + `)`
		domainAndPort       = host + optionalPort
		pathComponent       = alphanumeric + `(?:` + separator + alphanumeric + `)*`
		remoteName          = pathComponent + `(?:/` + pathComponent + `)*`
	)
	return regexp.MustCompile(`^(?:` + domainAndPort + `/)?` + remoteName + `$`)
}()

// FuzzValidRepositoryName checks the hand-written matcher against
// distribution's regexp.
func FuzzValidRepositoryName(f *testing.F) {
	for _, s := range []string{"foo", "a/b", "localhost:5000/a", "[::1]:1/a", "a__b", "a-.b", "A.b/c", "a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		want := referenceNameRegexp.MatchString(name) && len(name) <= 255
		if got := ValidRepositoryName(name); got != want {
			t.Fatalf("ValidRepositoryName(%q) = %v, distribution's regexp says %v", name, got, want)
		}
	})
}

// scopeSeeds reads testdata/scope-seeds.txt.
func scopeSeeds(tb testing.TB) []string {
	tb.Helper()
	data, err := os.ReadFile("testdata/scope-seeds.txt")
	if err != nil {
		tb.Fatalf("reading seed corpus: %v", err)
	}
	var seeds []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
		case line == "<empty>":
			seeds = append(seeds, "")
		default:
			seeds = append(seeds, line)
		}
	}
	if len(seeds) < 10 {
		tb.Fatalf("seed corpus has only %d entries", len(seeds))
	}
	return seeds
}

// FuzzParseScopes: ParseScopes never panics, and every scope it accepts is
// well-formed and round-trips through String and ParseScope.
func FuzzParseScopes(f *testing.F) {
	seeds := scopeSeeds(f)
	for i, s := range seeds {
		f.Add(s, seeds[(i+1)%len(seeds)])
	}
	f.Fuzz(func(t *testing.T, v1, v2 string) {
		scopes, err := ParseScopes([]string{v1, v2})
		if err != nil {
			if scopes != nil {
				t.Fatalf("scopes %v returned with error %v", scopes, err)
			}
			if !errors.Is(err, ErrMalformedScope) {
				t.Fatalf("error %v is not ErrMalformedScope", err)
			}
			return
		}
		seen := make(map[[2]string]bool)
		for _, s := range scopes {
			key := [2]string{s.Type, s.Name}
			if seen[key] {
				t.Fatalf("resource %v not merged in %v", key, scopes)
			}
			seen[key] = true
			if strings.ContainsFunc(s.Name, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
				t.Fatalf("accepted a name with space or control characters: %q", s.Name)
			}
			if len(slices.Compact(slices.Sorted(slices.Values(s.Actions)))) != len(s.Actions) {
				t.Fatalf("duplicate actions in %v", s.Actions)
			}
			again, err := ParseScope(s.String())
			if err != nil {
				t.Fatalf("ParseScope(%q) of an accepted scope: %v", s.String(), err)
			}
			if again.Type != s.Type || again.Name != s.Name || !slices.Equal(again.Actions, s.Actions) {
				t.Fatalf("round trip %q: got %#v, want %#v", s.String(), again, s)
			}
		}
	})
}

func BenchmarkParseScopes(b *testing.B) {
	values := []string{"repository:team/app:push,pull", "repository:localhost:5000/team/base:pull"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseScopes(values); err != nil {
			b.Fatal(err)
		}
	}
}
