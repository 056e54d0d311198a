package uwsgi

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata holds nginx 1.22.1 captures (nginx-1.22-*.uwsgi, recorded from
// uwsgi_pass with Debian's uwsgi_params; the modifier30 one with an old
// uWSGI-style block: uwsgi_modifier1 30, UWSGI_SCHEME, SCRIPT_NAME) and the
// malformed streams below (bad-*.uwsgi, written by -update). Every file is
// also a fuzz seed.
const testdata = "testdata"

var update = flag.Bool("update", false, "rewrite testdata/bad-*.uwsgi from the table in this file")

// vars encodes key, value pairs as a uwsgi vars block.
func vars(pairs ...string) string {
	var b []byte
	for _, s := range pairs {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	return string(b)
}

// packet prefixes a vars block with the 4-byte uwsgi header.
func packet(modifier1 byte, block string) string {
	return string([]byte{modifier1, byte(len(block)), byte(len(block) >> 8), 0}) + block
}

var get = packet(0, vars("REQUEST_METHOD", "GET", "REQUEST_URI", "/v2/token", "CONTENT_LENGTH", ""))

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
		file   string
		want   map[string]string
		absent []string
		body   string
	}{
		{"nginx-1.22-get.uwsgi", map[string]string{
			"CONTENT_LENGTH":     "", // uwsgi_params sends $content_length, empty on GET
			"REQUEST_METHOD":     "GET",
			"REQUEST_URI":        "/uwsgi/v2/token?service=reg&scope=repository:alice/app:pull",
			"PATH_INFO":          "/uwsgi/v2/token",
			"HTTP_AUTHORIZATION": "Basic YWxpY2U6c2VjcmV0",
		}, []string{"HTTPS"}, ""},
		{"nginx-1.22-chunked-post.uwsgi", map[string]string{
			"CONTENT_LENGTH":         "41",
			"HTTP_TRANSFER_ENCODING": "chunked",
		}, nil, "grant_type=password&username=alice&x=1234"},
		{"nginx-1.22-modifier30-dup.uwsgi", map[string]string{
			"SCRIPT_NAME": "/uwsgi30",
			"HTTPS":       "on", // from UWSGI_SCHEME=https
			"HTTP_X_DUP":  "a, b",
		}, []string{"UWSGI_SCHEME"}, ""},
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
			for _, k := range tt.absent {
				if v, ok := env[k]; ok {
					t.Errorf("%s = %q, want it absent", k, v)
				}
			}
			if rest, _ := io.ReadAll(br); string(rest) != tt.body {
				t.Errorf("reader left at %q, want the body %q", rest, tt.body)
			}
		})
	}
}

func TestReadHeadersIgnoresModifier2AndUWSGIVars(t *testing.T) {
	t.Parallel()
	stream := []byte(packet(0, vars("REQUEST_METHOD", "GET", "UWSGI_APPID", "app", "UWSGI_SCHEME", "http")))
	stream[3] = 7 // modifier2
	env, _, err := parse(stream, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(env) != 1 || env["REQUEST_METHOD"] != "GET" {
		t.Errorf("env = %q, want only REQUEST_METHOD", env)
	}
}

// malformed lists streams ReadHeaders must reject; -update writes each to
// testdata as bad-<name>.uwsgi.
var malformed = []struct {
	name     string
	stream   string
	maxBytes int
	want     error
}{
	{"modifier1-5", packet(5, vars("REQUEST_METHOD", "GET")), 0, ErrBadModifier},
	{"modifier1-72-response", packet(72, vars("REQUEST_METHOD", "GET")), 0, ErrBadModifier},
	{"http-request", "GET /v2/token HTTP/1.1\r\nHost: reg\r\n\r\n", 0, ErrBadModifier},
	{"truncated-header", "\x00\x10", 0, io.ErrUnexpectedEOF},
	{"truncated-vars", get[:len(get)-5], 0, io.ErrUnexpectedEOF},
	{"key-length-past-end", packet(0, vars("REQUEST_METHOD", "GET")+"\x64\x00KEY"), 0, ErrBadVars},
	{"value-length-past-end", packet(0, vars("REQUEST_METHOD", "GET")+"\x03\x00KEY\xff\x00v"), 0, ErrBadVars},
	{"key-size-cut-off", packet(0, vars("REQUEST_METHOD", "GET")+"\x03"), 0, ErrBadVars},
	{"value-size-cut-off", packet(0, vars("REQUEST_METHOD", "GET")+"\x03\x00KEY\x01"), 0, ErrBadVars},
	{"empty-key", packet(0, vars("REQUEST_METHOD", "GET", "", "v")), 0, ErrBadVars},
	{"content-length-conflict", packet(0, vars("CONTENT_LENGTH", "3", "CONTENT_LENGTH", "4")), 0,
		ErrConflictingContentLength},
	{"over-cap", get, 16, ErrHeaderTooLarge},
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
				path := filepath.Join(testdata, "bad-"+tt.name+".uwsgi")
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
	files, err := filepath.Glob(filepath.Join(testdata, "*.uwsgi"))
	if err != nil || len(files) < len(malformed) {
		t.Fatalf("found %d seed files (%v); run go test -update", len(files), err)
	}
	for _, path := range files {
		stream, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		maxBytes := 0
		for _, tt := range malformed {
			if filepath.Base(path) == "bad-"+tt.name+".uwsgi" {
				maxBytes = tt.maxBytes
			}
		}
		bad := strings.HasPrefix(filepath.Base(path), "bad-")
		if _, _, err := parse(stream, maxBytes); (err != nil) != bad {
			t.Errorf("%s: err = %v", filepath.Base(path), err)
		}
	}
}

func FuzzUWSGIReadHeaders(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(testdata, "*.uwsgi"))
	for _, path := range files {
		f.Add(readFile(f, filepath.Base(path)))
	}
	for _, tt := range malformed {
		f.Add([]byte(tt.stream))
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		env, br, err := parse(stream, 0)
		if err != nil {
			if env != nil {
				t.Fatalf("error %v with variables", err)
			}
			return
		}
		if m := stream[0]; m != 0 && m != 30 {
			t.Fatalf("accepted modifier1 %d", m)
		}
		size := int(binary.LittleEndian.Uint16(stream[1:3]))
		if rest, _ := io.ReadAll(br); len(rest) != len(stream)-4-size {
			t.Fatalf("reader left %d bytes, want %d after a %d-byte block", len(rest), len(stream)-4-size, size)
		}
		for k := range env {
			if k == "" || strings.HasPrefix(k, "UWSGI_") {
				t.Fatalf("accepted variable %q", k)
			}
		}
	})
}

func BenchmarkUWSGIParse(b *testing.B) {
	stream := readFile(b, "nginx-1.22-get.uwsgi")
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
