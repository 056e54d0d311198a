package token

import (
	"bytes"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestVerifyRemembersAcceptedTokensOnly(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	s, err := NewSigner(key, []*x509.Certificate{selfSigned(t, key)}, "")
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"sub":"alice","token_use":"refresh"}`)
	tok, err := s.SignJSON(payload)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"root","token_use":"refresh"}`)) + "." + parts[2]
	if _, err := s.Verify(forged); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("forged token: %v", err)
	}
	if n := s.verified.len(); n != 0 {
		t.Fatalf("a rejected token was remembered (%d entries)", n)
	}
	for i := range 3 {
		got, err := s.Verify(tok)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("Verify #%d = %s, %v", i, got, err)
		}
		got[0] = 'X' // the caller's copy is its own
		if n := s.verified.len(); n != 1 {
			t.Fatalf("after Verify #%d the memo holds %d tokens, want 1", i, n)
		}
	}
	// The memo is keyed by the whole token: the forgery, sharing header
	// and signature with a remembered token, is still checked and refused.
	if _, err := s.Verify(forged); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("forged token after the genuine one was remembered: %v", err)
	}
	other, _ := NewSigner(ecKey(t, elliptic.P256()), nil, "")
	if _, err := other.Verify(tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("another signer accepted the token: %v", err)
	}
}

func TestVerifiedMemoIsBounded(t *testing.T) {
	m := newVerifiedMemo(10)
	for i := range 95 {
		m.put(sha256.Sum256([]byte(fmt.Sprint(i))), []byte("{}"))
		if n := m.len(); n > 10 {
			t.Fatalf("memo holds %d entries, limit 10", n)
		}
	}
	if _, ok := m.get(sha256.Sum256([]byte("94"))); !ok {
		t.Error("the newest entry was dropped")
	}
}

// BenchmarkVerifyES256 is the first presentation of a refresh token: a
// full signature check.
func BenchmarkVerifyES256(b *testing.B) {
	key := ecKey(b, elliptic.P256())
	s, err := NewSigner(key, []*x509.Certificate{selfSigned(b, key)}, "")
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := s.SignJSON([]byte(`{"sub":"alice","token_use":"refresh","exp":1900000000}`))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyRemembered is every later presentation.
func BenchmarkVerifyRemembered(b *testing.B) {
	key := ecKey(b, elliptic.P256())
	s, err := NewSigner(key, []*x509.Certificate{selfSigned(b, key)}, "")
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := s.SignJSON([]byte(`{"sub":"alice","token_use":"refresh","exp":1900000000}`))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
