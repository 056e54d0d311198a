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

func TestFoldParams(t *testing.T) {
	got := foldParams([]pair{
		{"REQUEST_METHOD", "GET"},
		{"HTTP_X_DUP", "a"},
		{"HTTP_COOKIE", "k=1"},
		{"REQUEST_METHOD", "POST"},
		{"HTTP_X_DUP", "b"},
		{"HTTP_COOKIE", "l=2"},
		{"HTTP_CONNECTION", "close"},
		{"HTTP_TRANSFER_ENCODING", "chunked"},
		{"HTTP_CONTENT_LENGTH", "3"},
		{"HTTP_CONTENT_TYPE", "text/plain"},
		{"CONTENT_TYPE", "text/plain"},
	})
	want := []pair{
		{"REQUEST_METHOD", "GET"},
		{"HTTP_X_DUP", "a, b"},
		{"HTTP_COOKIE", "k=1; l=2"},
		{"HTTP_CONTENT_LENGTH", "3"}, // kept: no CONTENT_LENGTH to shadow it
		{"CONTENT_TYPE", "text/plain"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}
