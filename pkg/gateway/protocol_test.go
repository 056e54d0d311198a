package gateway

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestAppendStatusLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix string
		code   int
		want   string
	}{
		{"Status: ", 200, "Status: 200 OK\r\n"},
		{"Status: ", 401, "Status: 401 Unauthorized\r\n"},
		{"HTTP/1.1 ", 401, "HTTP/1.1 401 Unauthorized\r\n"},
		{"HTTP/1.1 ", 299, "HTTP/1.1 299 status code 299\r\n"},
	}
	for _, tt := range tests {
		if got := string(appendStatusLine(nil, tt.prefix, tt.code)); got != tt.want {
			t.Errorf("appendStatusLine(%q, %d) = %q, want %q", tt.prefix, tt.code, got, tt.want)
		}
	}
}

func TestReadString(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("0123456789", 20) // longer than the 16-byte reader below
	br := bufio.NewReaderSize(strings.NewReader(long+"rest"), 16)
	got, err := ReadString(br, len(long))
	if err != nil || got != long {
		t.Fatalf("ReadString = %q, %v; want the first %d bytes", got, err, len(long))
	}
	if rest, _ := io.ReadAll(br); string(rest) != "rest" {
		t.Errorf("reader left at %q, want %q", rest, "rest")
	}

	br = bufio.NewReader(strings.NewReader("short"))
	if _, err := ReadString(br, 10); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short input: err = %v, want io.ErrUnexpectedEOF", err)
	}
	if got, err := ReadString(br, 0); got != "" || err != nil {
		t.Errorf("ReadString(0) = %q, %v", got, err)
	}
}

func TestAddVarFolds(t *testing.T) {
	t.Parallel()
	type kv struct{ k, v string }
	tests := []struct {
		name    string
		in      []kv
		want    map[string]string
		wantErr error
	}{
		{"header repeated by nginx 1.22", []kv{{"HTTP_X_DUP", "a"}, {"HTTP_X_DUP", "b"}},
			map[string]string{"HTTP_X_DUP": "a, b"}, nil},
		{"cookie joined with semicolon", []kv{{"HTTP_COOKIE", "a=1"}, {"HTTP_COOKIE", "b=2"}},
			map[string]string{"HTTP_COOKIE": "a=1; b=2"}, nil},
		{"same content length twice", []kv{{"CONTENT_LENGTH", "0"}, {"CONTENT_LENGTH", ""}},
			map[string]string{"CONTENT_LENGTH": "0"}, nil},
		{"conflicting content length", []kv{{"CONTENT_LENGTH", "5"}, {"CONTENT_LENGTH", "6"}},
			nil, ErrConflictingContentLength},
		{"bad second content length", []kv{{"CONTENT_LENGTH", "5"}, {"CONTENT_LENGTH", "-5"}},
			nil, ErrConflictingContentLength},
		{"later param wins", []kv{{"SERVER_NAME", "a"}, {"SERVER_NAME", "b"}},
			map[string]string{"SERVER_NAME": "b"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			var err error
			for _, p := range tt.in {
				if err = AddVar(env, p.k, p.v); err != nil {
					break
				}
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if len(env) != len(tt.want) {
				t.Fatalf("env = %q, want %q", env, tt.want)
			}
			for k, v := range tt.want {
				if env[k] != v {
					t.Errorf("env[%s] = %q, want %q", k, env[k], v)
				}
			}
		})
	}
}
