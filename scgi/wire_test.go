package scgi

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// testdata holds nginx 1.22.1 captures (nginx-1.22-*.scgi, recorded from
// scgi_pass with Debian's scgi_params) and the malformed streams below
// (bad-*.scgi, written by -update). Every file is also a fuzz seed.
const testdata = "testdata"

var update = flag.Bool("update", false, "rewrite testdata/bad-*.scgi from the table in this file")

// netstring builds an SCGI head from name, value pairs.
func netstring(pairs ...string) string {
	var b strings.Builder
	for _, s := range pairs {
		b.WriteString(s)
		b.WriteByte(0)
	}
	return frame(b.String())
}

// frame wraps any bytes as a netstring.
func frame(s string) string { return strconv.Itoa(len(s)) + ":" + s + "," }

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parse(stream []byte, maxBytes int) (map[string]string, *bufio.Reader, error) {
	br := bufio.NewReader(bytes.NewReader(stream))
	env, err := ReadHeaders(br, maxBytes)
	return env, br, err
}

func TestReadHeadersNginxCaptures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want map[string]string
		body string
	}{
		{"nginx-1.22-get.scgi", map[string]string{
			"CONTENT_LENGTH":     "0",
			"SCGI":               "1",
			"REQUEST_METHOD":     "GET",
			"REQUEST_URI":        "/scgi/v2/token?service=reg&scope=repository:alice/app:pull",
			"HTTP_AUTHORIZATION": "Basic YWxpY2U6c2VjcmV0",
			"CONTENT_TYPE":       "",
			"SERVER_NAME":        "reg.example",
		}, ""},
		{"nginx-1.22-dup-headers.scgi", map[string]string{
			"HTTP_X_DUP":  "a, b",
			"HTTP_COOKIE": "a=1; b=2",
		}, ""},
		{"nginx-1.22-chunked-post.scgi", map[string]string{
			"CONTENT_LENGTH":         "41",
			"REQUEST_METHOD":         "POST",
			"HTTP_TRANSFER_ENCODING": "chunked",
		}, "grant_type=password&username=alice&x=1234"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			env, br, err := parse(readFile(t, tt.file), 0)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if got, ok := env[k]; !ok || got != v {
					t.Errorf("%s = %q (present %v), want %q", k, got, ok, v)
				}
			}
			if rest, _ := io.ReadAll(br); string(rest) != tt.body {
				t.Errorf("reader left at %q, want the body %q", rest, tt.body)
			}
		})
	}
}

var head = netstring("CONTENT_LENGTH", "0", "SCGI", "1", "REQUEST_METHOD", "GET")

// malformed lists streams ReadHeaders must reject; -update writes each to
// testdata as bad-<name>.scgi.
var malformed = []struct {
	name     string
	stream   string
	maxBytes int
	want     error
}{
	{"missing-scgi", netstring("CONTENT_LENGTH", "0", "REQUEST_METHOD", "GET"), 0, ErrNotSCGI},
	{"scgi-not-1", netstring("CONTENT_LENGTH", "0", "SCGI", "2"), 0, ErrNotSCGI},
	{"content-length-not-first", netstring("SCGI", "1", "CONTENT_LENGTH", "0"), 0, ErrNoContentLength},
	{"content-length-signed", netstring("CONTENT_LENGTH", "-1", "SCGI", "1"), 0, ErrBadContentLength},
	{"content-length-empty", netstring("CONTENT_LENGTH", "", "SCGI", "1"), 0, ErrBadContentLength},
	{"content-length-conflict", netstring("CONTENT_LENGTH", "0", "SCGI", "1", "CONTENT_LENGTH", "5"), 0,
		ErrConflictingContentLength},
	{"empty-netstring", "0:,", 0, ErrNoContentLength},
	{"leading-zero-length", "0" + head, 0, ErrBadNetstring},
	{"eight-digit-length", "10000000:", 1 << 30, ErrBadNetstring},
	{"eight-digit-length-over-cap", "10000000:", 0, ErrHeaderTooLarge},
	{"over-cap", "70000:" + head[strings.IndexByte(head, ':')+1:], 0, ErrHeaderTooLarge},
	{"over-small-cap", head, 16, ErrHeaderTooLarge},
	{"no-length", head[strings.IndexByte(head, ':'):], 0, ErrBadNetstring},
	{"http-request", "GET /v2/token HTTP/1.1\r\nHost: reg\r\n\r\n", 0, ErrBadNetstring},
	{"truncated-length", "12", 0, io.ErrUnexpectedEOF},
	{"truncated-netstring", head[:len(head)-10], 0, io.ErrUnexpectedEOF},
	{"missing-comma-at-end", head[:len(head)-1], 0, io.ErrUnexpectedEOF},
	{"missing-comma", head[:len(head)-1] + ";", 0, ErrBadNetstring},
	{"odd-pair-count", frame("CONTENT_LENGTH\x000\x00SCGI\x001\x00EXTRA\x00"), 0, ErrBadHeaders},
	{"unterminated-name", frame("CONTENT_LENGTH\x000\x00SCGI\x001\x00EXTRA"), 0, ErrBadHeaders},
	{"empty-name", frame("CONTENT_LENGTH\x000\x00SCGI\x001\x00\x00v\x00"), 0, ErrBadHeaders},
	{"no-final-nul", frame("CONTENT_LENGTH\x000\x00SCGI\x001"), 0, ErrBadHeaders},
}

func TestReadHeadersRejects(t *testing.T) {
	t.Parallel()
	for _, tt := range malformed {
		t.Run(tt.name, func(t *testing.T) {
			env, _, err := parse([]byte(tt.stream), tt.maxBytes)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if env != nil {
				t.Errorf("rejected stream returned variables %q", env)
			}
			if *update {
				path := filepath.Join(testdata, "bad-"+tt.name+".scgi")
				if err := os.WriteFile(path, []byte(tt.stream), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestReadHeadersEmptyStreamIsEOF(t *testing.T) {
	t.Parallel()
	if _, _, err := parse(nil, 0); err != io.EOF {
		t.Errorf("empty stream: err = %v, want io.EOF exactly", err)
	}
}

// TestTestdataStreams keeps the seed files honest: captures parse,
// bad-* files do not.
func TestTestdataStreams(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(testdata, "*.scgi"))
	if err != nil || len(files) < len(malformed) {
		t.Fatalf("found %d seed files (%v); run go test -update", len(files), err)
	}
	for _, path := range files {
		stream, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		bad := strings.HasPrefix(filepath.Base(path), "bad-")
		maxBytes := 0
		for _, tt := range malformed {
			if filepath.Base(path) == "bad-"+tt.name+".scgi" {
				maxBytes = tt.maxBytes
			}
		}
		if _, _, err := parse(stream, maxBytes); (err != nil) != bad {
			t.Errorf("%s: err = %v", filepath.Base(path), err)
		}
	}
}

func FuzzSCGIReadHeaders(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(testdata, "*.scgi"))
	for _, path := range files {
		f.Add(readFile(f, filepath.Base(path)))
	}
	for _, tt := range malformed {
		f.Add([]byte(tt.stream))
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		env, _, err := parse(stream, 1<<10)
		if err != nil {
			if env != nil {
				t.Fatalf("error %v with variables", err)
			}
			return
		}
		if !isDecimal(env["CONTENT_LENGTH"]) || env["SCGI"] != "1" {
			t.Fatalf("accepted without CONTENT_LENGTH digits and SCGI=1: %q", env)
		}
		for k := range env {
			if k == "" || strings.IndexByte(k, 0) >= 0 || strings.IndexByte(env[k], 0) >= 0 {
				t.Fatalf("accepted a variable containing NUL or an empty name: %q", env)
			}
		}
	})
}

func BenchmarkSCGIParse(b *testing.B) {
	stream := readFile(b, "nginx-1.22-get.scgi")
	rd := bytes.NewReader(stream)
	br := bufio.NewReader(rd)
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		rd.Reset(stream)
		br.Reset(rd)
		if _, err := ReadHeaders(br, 0); err != nil {
			b.Fatal(err)
		}
	}
}
