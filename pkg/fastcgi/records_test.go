package fastcgi

import (
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
)

func TestPairsRoundTrip(t *testing.T) {
	in := []pair{{"A", ""}, {"LONG", strings.Repeat("v", 200)}, {strings.Repeat("N", 130), "x"}}
	recs := encodeParamRecords(9, in)
	var stream []byte
	var s recordScanner
	var types []uint8
	for len(recs) > 0 { // walk the records by hand
		n := int(binary.BigEndian.Uint16(recs[4:6]))
		stream = append(stream, recs[8:8+n]...)
		recs = recs[8+n:]
	}
	out, err := decodePairs(stream)
	if err != nil || !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip: %v %v", out, err)
	}
	for _, b := range encodeParamRecords(9, in) { // one byte at a time
		s.scan([]byte{b}, func(typ uint8, id uint16) {
			if id != 9 {
				t.Errorf("id %d", id)
			}
			types = append(types, typ)
		})
	}
	if !reflect.DeepEqual(types, []uint8{typeParams, typeParams}) {
		t.Errorf("scanner saw %v, want two PARAMS records", types)
	}
}

func TestDecodePairsRejectsTruncation(t *testing.T) {
	for _, b := range [][]byte{{5}, {1, 1, 'a'}, {0x80, 0, 0}, {2, 0, 'a'}} {
		if _, err := decodePairs(b); err != ErrBadParams {
			t.Errorf("%v: got %v", b, err)
		}
	}
}

func TestNormalizeParams(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in, want []pair
	}{
		{"fold and drop", []pair{
			{"REQUEST_METHOD", "GET"},
			{"SERVER_PROTOCOL", "HTTP/1.0"},
			{"HTTP_HOST", "reg.example"},
			{"HTTP_X_DUP", "a"},
			{"HTTP_COOKIE", "k=1"},
			{"SCRIPT_NAME", "/included"},
			{"HTTP_X_DUP", "b"},
			{"HTTP_COOKIE", "l=2"},
			{"SCRIPT_NAME", "/override"},
			{"HTTP_CONNECTION", "close"},
			{"HTTP_TRANSFER_ENCODING", "chunked"},
			{"HTTP_CONTENT_LENGTH", "3"},
			{"HTTP_CONTENT_TYPE", "text/plain"},
			{"CONTENT_TYPE", "text/plain"},
			{"CONTENT_LENGTH", ""},
		}, []pair{
			{"REQUEST_METHOD", "GET"},
			{"SERVER_PROTOCOL", "HTTP/1.0"},
			{"HTTP_HOST", "reg.example"},
			{"HTTP_X_DUP", "a, b"},
			{"HTTP_COOKIE", "k=1; l=2"},
			{"SCRIPT_NAME", "/override"},
			{"HTTP_CONTENT_LENGTH", "3"}, // kept: CONTENT_LENGTH is empty
			{"CONTENT_TYPE", "text/plain"},
			{"CONTENT_LENGTH", ""},
		}},
		{"defaults", []pair{
			{"REQUEST_METHOD", "GET"},
			{"SERVER_PROTOCOL", ""},
			{"SERVER_NAME", "reg.example"},
		}, []pair{
			{"REQUEST_METHOD", "GET"},
			{"SERVER_PROTOCOL", "HTTP/1.1"},
			{"SERVER_NAME", "reg.example"},
			{"HTTP_HOST", "reg.example"},
		}},
		{"no server name", []pair{{"REQUEST_METHOD", "GET"}, {"HTTP_HOST", ""}},
			[]pair{{"REQUEST_METHOD", "GET"}, {"HTTP_HOST", ""}, {"SERVER_PROTOCOL", "HTTP/1.1"}}},
	} {
		if got := normalizeParams(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\ngot  %v\nwant %v", tc.name, got, tc.want)
		}
	}
}
