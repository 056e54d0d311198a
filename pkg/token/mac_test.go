package token

import (
	"crypto"
	"crypto/elliptic"
	"errors"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

func TestMACSignerRoundTripAndReplicas(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	m, err := NewMACSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := m.SignJSON([]byte(`{"token_use":"refresh","sub":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !IsMACToken(tok) {
		t.Errorf("IsMACToken(%.20s...) = false", tok)
	}
	// A replica loads the same key from its PEM file: it must derive the
	// same MAC key without anything else shared.
	again, err := ParsePrivateKey(pkcs8PEM(t, key))
	if err != nil {
		t.Fatal(err)
	}
	replica, err := NewMACSigner(again)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := replica.Verify(tok)
	if err != nil || string(payload) != `{"token_use":"refresh","sub":"alice"}` {
		t.Fatalf("replica Verify = %q, %v", payload, err)
	}
	other, err := NewMACSigner(ecKey(t, elliptic.P256()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Verify(tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("a MAC signer of another key accepted the token: %v", err)
	}
	if _, err := m.SignJSON([]byte("{")); !errors.Is(err, ErrInvalidPayload) {
		t.Errorf("SignJSON of invalid JSON: %v", err)
	}
}

func TestMACSignerRefusesTampering(t *testing.T) {
	key := rsaKey(t, 2048)
	m, err := NewMACSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := m.SignJSON([]byte(`{"sub":"alice"}`))
	parts := strings.Split(tok, ".")
	// The access-token signer's own token is no MAC token.
	s, err := NewSigner(key, nil, KeyIDLibtrust)
	if err != nil {
		t.Fatal(err)
	}
	signed, _ := s.SignJSON([]byte(`{"sub":"alice"}`))
	for name, bad := range map[string]string{
		"payload changed":         parts[0] + "." + b64url([]byte(`{"sub":"admin"}`)) + "." + parts[2],
		"alg none":                b64url([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".",
		"header reordered":        b64url([]byte(`{"typ":"JWT","alg":"HS256"}`)) + "." + parts[1] + "." + parts[2],
		"signature cut":           parts[0] + "." + parts[1] + "." + parts[2][:10],
		"extra segment":           tok + ".x",
		"signed with the RSA key": signed,
	} {
		if _, err := m.Verify(bad); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: Verify = %v, want ErrInvalidToken", name, err)
		}
	}
}

// TestMACTokenRefusedWithThePublicKey: a verifier that holds the signing
// key's certificate, as every registry does, cannot accept a MAC token,
// whatever algorithm it tries.
func TestMACTokenRefusedWithThePublicKey(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	m, _ := NewMACSigner(key)
	tok, _ := m.SignJSON([]byte(`{"aud":"registry","access":[]}`))
	cert := selfSigned(t, key)
	for _, alg := range []jwa.SignatureAlgorithm{jwa.HS256, jwa.ES256} {
		if _, err := jws.Verify([]byte(tok), jws.WithKey(alg, cert.PublicKey)); err == nil {
			t.Errorf("jws.Verify with the certificate's key and %s accepted a MAC token", alg)
		}
	}
}

// opaqueKey stands for an HSM key: a crypto.Signer without a readable
// private half.
type opaqueKey struct{ crypto.Signer }

func TestMACSignerNeedsAReadableKey(t *testing.T) {
	if _, err := NewMACSigner(opaqueKey{ecKey(t, elliptic.P256())}); !errors.Is(err, ErrKeyNotExportable) {
		t.Errorf("NewMACSigner of an opaque key: %v, want ErrKeyNotExportable", err)
	}
}
