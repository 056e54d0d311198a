package fastcgi

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/regtoken/regtoken/pkg/gateway"
	"github.com/regtoken/regtoken/pkg/limits"
)

// testLimits are small enough for the fuzzer to reach.
var testLimits = limits.Transport{MaxHeaderBytes: 1 << 10, MaxBodyBytes: 64, MaxConnections: 8}.WithDefaults()

// readAll feeds stream to a session as one connection and collects every
// request it reads, answering each, until the stream ends or fails.
func readAll(stream []byte, lim limits.Transport) (reqs []readResult, out []byte, err error) {
	var w bytes.Buffer
	s := newSession(&w, bufio.NewReader(bytes.NewReader(stream)), lim)
	defer s.Close()
	for {
		env, body, size, err := s.ReadRequest()
		if err != nil {
			return reqs, w.Bytes(), err
		}
		reqs = append(reqs, readResult{env, string(body), size, s.id, s.keep})
		if keep, err := s.WriteResponse([]byte("Status: 204 No Content\r\n\r\n"), nil); err != nil || !keep {
			return reqs, w.Bytes(), err
		}
	}
}

type readResult struct {
	env  map[string]string
	body string
	size int64
	id   uint16
	keep bool
}

func TestPairs(t *testing.T) {
	t.Parallel()
	in := []pair{{"A", ""}, {"LONG", strings.Repeat("v", 200)}, {strings.Repeat("N", 130), "x"}, {"B", "1"}}
	var got []pair
	if err := pairs(string(encodePairs(in)), func(n, v string) error { got = append(got, pair{n, v}); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, in) {
		t.Errorf("decoded %v", got)
	}
	var enc []byte
	for _, p := range in {
		enc = appendPair(enc, p.name, p.value)
	}
	if !bytes.Equal(enc, encodePairs(in)) {
		t.Errorf("appendPair encodes %x, want %x", enc, encodePairs(in))
	}
	for _, bad := range []string{"\x05", "\x01\x01a", "\x80\x00\x00", "\x02\x00a", "\x01\x80\x00\x00", "\x81\x00\x00\x00\x00"} {
		if err := pairs(bad, func(string, string) error { return nil }); err != ErrBadParams {
			t.Errorf("%q: %v, want ErrBadParams", bad, err)
		}
	}
}

// appendStream splits long content into records of at most maxChunk bytes,
// each padded to 8, and ends the stream with an empty record.
func TestAppendStream(t *testing.T) {
	t.Parallel()
	head, body := []byte("Status: 200 OK\r\n\r\n"), bytes.Repeat([]byte("b"), 2*maxChunk+5)
	out := appendStream(nil, typeStdout, 9, head, body)
	var content []byte
	var lengths []int
	r := bytes.NewReader(out)
	for r.Len() > 0 {
		if (len(out)-r.Len())%8 != 0 {
			t.Fatalf("record at offset %d is not 8-aligned", len(out)-r.Len())
		}
		rec, err := readRecord(r)
		if err != nil || rec.typ != typeStdout || rec.id != 9 {
			t.Fatalf("record %v, %v", rec, err)
		}
		content = append(content, rec.content...)
		lengths = append(lengths, len(rec.content))
	}
	if want := append(append([]byte{}, head...), body...); !bytes.Equal(content, want) {
		t.Errorf("content differs: %d bytes, want %d", len(content), len(want))
	}
	if want := []int{maxChunk, maxChunk, len(head) + 5, 0}; !reflect.DeepEqual(lengths, want) {
		t.Errorf("record lengths %v, want %v", lengths, want)
	}
}

// Padding, records for other IDs and management records between the records
// of a request change nothing about it.
func TestReadRequestIgnoresWhatIsNotTheRequest(t *testing.T) {
	t.Parallel()
	params := encodePairs([]pair{{"REQUEST_METHOD", "POST"}, {"HTTP_X", "a"}, {"HTTP_X", "b"}})
	padded := func(typ byte, id uint16, content []byte) []byte {
		b := record(typ, id, content)
		b[6] = 5
		return append(b, 0, 0, 0, 0, 0)
	}
	var stream []byte
	for _, rec := range [][]byte{
		padded(typeBeginRequest, 3, beginBody(roleResponder, 0)),
		record(typeParams, 4, []byte("not ours")),
		padded(typeParams, 3, params[:5]),
		record(typeGetValues, 0, encodePairs([]pair{{"FCGI_MPXS_CONNS", ""}})),
		record(typeParams, 3, params[5:]),
		record(typeParams, 3, nil),
		record(typeData, 3, []byte("filter data")),
		padded(typeStdin, 3, []byte("ab")),
		record(typeStdin, 4, []byte("not ours")),
		record(typeStdin, 3, []byte("c")),
		record(typeStdin, 3, nil),
	} {
		stream = append(stream, rec...)
	}
	reqs, out, err := readAll(stream, testLimits)
	if err != nil || len(reqs) != 1 {
		t.Fatalf("%d requests, %v", len(reqs), err)
	}
	r := reqs[0]
	if r.id != 3 || r.keep || r.body != "abc" || r.size != 3 || r.env["HTTP_X"] != "a, b" || r.env["REQUEST_METHOD"] != "POST" {
		t.Errorf("request %+v", r)
	}
	if rec, _ := readRecord(bytes.NewReader(out)); rec.typ != typeGetValuesResult {
		t.Errorf("first record out %v, want the GET_VALUES_RESULT", rec)
	}
}

func TestReadRequestLimits(t *testing.T) {
	t.Parallel()
	big := encodePairs([]pair{{"HTTP_COOKIE", strings.Repeat("c", testLimits.MaxHeaderBytes)}})
	stream := append(record(typeBeginRequest, 1, beginBody(1, 0)), record(typeParams, 1, big)...)
	if _, _, err := readAll(stream, testLimits); err != gateway.ErrHeaderTooLarge {
		t.Errorf("params over MaxHeaderBytes: %v", err)
	}
	// A body over the limit is counted, not kept.
	stream = append(record(typeBeginRequest, 1, beginBody(1, 0)), record(typeParams, 1, nil)...)
	for range 3 {
		stream = append(stream, record(typeStdin, 1, bytes.Repeat([]byte("x"), 50))...)
	}
	stream = append(stream, record(typeStdin, 1, nil)...)
	reqs, _, err := readAll(stream, testLimits)
	if err != nil || len(reqs) != 1 || reqs[0].size != 150 || len(reqs[0].body) != int(testLimits.MaxBodyBytes) {
		t.Errorf("body over the limit: %+v, %v", reqs, err)
	}
}

// testdata holds what nginx 1.22.1 (fastcgi_keep_conn off and on) and
// Apache 2.4 mod_proxy_fcgi send, recorded by pkg/e2e's
// TestFastCGICaptures; every file is also a fuzz seed.
const testdata = "testdata"

func captures(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(testdata, "*.fcgi"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in %s: %v", testdata, err)
	}
	return files
}

func FuzzFastCGIReadRequest(f *testing.F) {
	for _, path := range captures(f) {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(append(record(typeBeginRequest, 1, beginBody(1, 1)), record(typeAbortRequest, 1, nil)...))
	f.Add(record(typeGetValues, 0, encodePairs([]pair{{"FCGI_MAX_CONNS", ""}})))
	f.Fuzz(func(t *testing.T, stream []byte) {
		reqs, out, _ := readAll(stream, testLimits)
		for _, r := range reqs {
			if r.id == 0 || len(r.body) > int(testLimits.MaxBodyBytes) || r.size < int64(len(r.body)) {
				t.Fatalf("request %+v", r)
			}
			for k := range r.env {
				if k == "" {
					t.Fatalf("empty variable name in %q", r.env)
				}
			}
		}
		// Every reply answers a record of at least 8 bytes with at most 24
		// (END_REQUEST) or a GET_VALUES_RESULT of three known values.
		if len(out) > 4*len(stream)+256*len(reqs)+128 {
			t.Fatalf("%d bytes out for %d in", len(out), len(stream))
		}
	})
}
