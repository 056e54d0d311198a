package token

import (
	"crypto/x509"
	"encoding/base64"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const goldenDir = "testdata"

// TestGoldenRS256 pins the wire format byte for byte. RSA PKCS #1 v1.5
// signatures are deterministic, so a fixed key, certificate and claim set
// give a fixed token. The golden file holds the decoded header, the decoded
// payload and the token, one per line, so that a diff shows what changed.
func TestGoldenRS256(t *testing.T) {
	keyPEM := readGolden(t, "rs256-key.pem")
	certPEM := readGolden(t, "rs256-cert.pem")
	key, err := ParsePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := ParseCertificates(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(key, chain, "")
	if err != nil {
		t.Fatal(err)
	}
	claims := &ClaimSet{
		Issuer:     "regtoken",
		Subject:    "alice",
		Audience:   "registry.example:5000",
		Expiration: 1700000300,
		NotBefore:  1699999990,
		IssuedAt:   1700000000,
		JWTID:      "AAECAwQFBgcICQoLDA0ODw",
		Access: []ResourceActions{
			{Type: "repository", Name: "localhost:5000/team/app", Actions: []string{"pull", "push"}},
			{Type: "repository", Name: "team/src", Actions: nil},
			{Type: "registry", Name: "catalog", Actions: []string{"*"}},
		},
	}
	tok, err := s.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	got := string(header) + "\n" + string(payload) + "\n" + tok + "\n"

	path := filepath.Join(goldenDir, "rs256-token.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := string(readGolden(t, "rs256-token.golden"))
	if got != want {
		t.Fatalf("token differs from %s (run with -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(goldenDir, name))
	if err != nil {
		t.Fatalf("reading golden file: %v", err)
	}
	return data
}

// TestGoldenFixturesMatch guards the fixtures themselves: the certificate
// must belong to the key, or every golden comparison is meaningless.
func TestGoldenFixturesMatch(t *testing.T) {
	key, err := ParsePrivateKey(readGolden(t, "rs256-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ParseCertificates(readGolden(t, "rs256-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 1 || certs[0].PublicKeyAlgorithm != x509.RSA {
		t.Fatalf("want one RSA certificate, got %d", len(certs))
	}
	if err := checkChain(key.Public(), certs); err != nil {
		t.Fatal(err)
	}
}
