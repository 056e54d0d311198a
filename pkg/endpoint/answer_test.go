package endpoint

import (
	"encoding/json"
	"strings"
	"testing"
)

// The hand-written answer must be byte for byte what encoding/json writes.
func TestAnswerJSONMatchesEncodingJSON(t *testing.T) {
	jwt := "eyJhbGciOiJFUzI1NiJ9." + strings.Repeat("eyJzdWIiOiJhIn0", 40) + ".c2ln_-"
	answers := []tokenResponse{
		{Token: jwt, AccessToken: jwt, ExpiresIn: 300, IssuedAt: "2026-03-01T12:00:00Z", Scope: "repository:a/b:pull,push"},
		{Token: jwt, AccessToken: jwt, ExpiresIn: 0, IssuedAt: "2026-03-01T12:00:00Z", Scope: "", RefreshToken: jwt},
		{ExpiresIn: -5},
		{Token: `a"b\c`, AccessToken: "<&>", IssuedAt: "\x00\x1f\x7f", Scope: "repository:é/ü:pull \u2028"},
		{Token: "\xff\xfe", Scope: "registry:catalog:*", RefreshToken: "x"},
		{Token: jwt, AccessToken: jwt, ExpiresIn: 300, IssuedTokenType: tokenTypeAccessToken, TokenType: "Bearer"},
	}
	for _, a := range answers {
		want, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON\n got %s\nwant %s", got, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "abc", `"`, "\\", "<script>", "\u2028", "\xff", "\x7f", "a.b-c_d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}

func BenchmarkAnswerJSON(b *testing.B) {
	jwt := strings.Repeat("eyJzdWIiOiJhIn0", 80)
	a := tokenResponse{Token: jwt, AccessToken: jwt, ExpiresIn: 300, IssuedAt: "2026-03-01T12:00:00Z", Scope: "repository:a/b:pull"}
	b.Run("appendJSON", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			buf = a.appendJSON(buf[:0])
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal(a)
		}
	})
}
