package token

import (
	"crypto"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRFC7638Vectors checks the thumbprints against the examples of the
// RFCs: the RSA key of RFC 7638 §3.1 and the Ed25519 key of RFC 8037 §A.3.
func TestRFC7638Vectors(t *testing.T) {
	rsaPub := &rsa.PublicKey{
		N: new(big.Int).SetBytes(b64(t, "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")),
		E: 65537,
	}
	edPub := ed25519.PublicKey(b64(t, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"))
	for _, tt := range []struct {
		name string
		pub  crypto.PublicKey
		want string
	}{
		{"RFC 7638 §3.1 RSA", rsaPub, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
		{"RFC 8037 §A.3 Ed25519", edPub, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},
		{"jwt.md EC P-256", jwtMDKey(t), "8qjioA3ZA7ti2JIE7c-U8smBFuZolQZvhSHDPU3hhB8"},
	} {
		for format, f := range map[string]func(crypto.PublicKey) (string, error){
			"RFC7638Thumbprint": RFC7638Thumbprint, "ThumbprintKeyID": ThumbprintKeyID,
		} {
			got, err := f(tt.pub)
			if err != nil || got != tt.want {
				t.Errorf("%s: %s = %q, %v; want %q", tt.name, format, got, err, tt.want)
			}
		}
		jwk, err := PublicJWK(tt.pub)
		if err != nil || jwk.Kid != tt.want || jwk.Use != "sig" {
			t.Errorf("%s: JWK %+v, %v; want kid %q, use sig", tt.name, jwk, err, tt.want)
		}
	}
}

func TestEd25519Signs(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(key, []*x509.Certificate{selfSigned(t, key)}, KeyIDRFC7638)
	if err != nil {
		t.Fatal(err)
	}
	if s.Algorithm() != "EdDSA" {
		t.Fatalf("algorithm = %q, want EdDSA", s.Algorithm())
	}
	compact, err := s.SignJSON([]byte(`{"sub":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := jws.Verify([]byte(compact), jws.WithKey(jwa.EdDSA, key.Public()))
	if err != nil || string(payload) != `{"sub":"alice"}` {
		t.Fatalf("jwx verification: %q, %v", payload, err)
	}
	if want, _ := RFC7638Thumbprint(key.Public()); s.KeyID() != want {
		t.Errorf("kid = %q, want the RFC 7638 thumbprint %q", s.KeyID(), want)
	}
	if Registry28Verifies(key.Public()) || !Registry28Verifies(ecKey(t, elliptic.P256()).Public()) {
		t.Error("Registry28Verifies: want false for Ed25519, true for P-256")
	}
}

func signerFor(t *testing.T, key crypto.Signer, chain ...*x509.Certificate) *Signer {
	t.Helper()
	s, err := NewSigner(key, chain, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestKeySet checks the bundle and the JWKS of a set with a current key
// issued by a CA, a next key (Ed25519), a previous certificate and a
// previous bare public key; the current key listed again as previous
// appears once.
func TestKeySet(t *testing.T) {
	caKey := ecKey(t, elliptic.P256())
	ca := newCert(t, "regtoken CA", caKey.Public(), nil, caKey, true)
	cur := ecKey(t, elliptic.P384())
	curLeaf := newCert(t, "current", cur.Public(), ca, caKey, false)
	_, next, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	prev := rsaKey(t, 2048)
	prevCert := selfSigned(t, prev)
	bare := ecKey(t, elliptic.P256())
	pubDER, err := x509.MarshalPKIXPublicKey(bare.Public())
	if err != nil {
		t.Fatal(err)
	}
	bareKey, err := ParsePublishedKey(pemBlock("PUBLIC KEY", pubDER))
	if err != nil {
		t.Fatal(err)
	}
	prevKey, err := ParsePublishedKey(pemBlock("CERTIFICATE", prevCert.Raw))
	if err != nil {
		t.Fatal(err)
	}
	if fromPrivate, err := ParsePublishedKey(pkcs8PEM(t, bare)); err != nil || !samePublic(fromPrivate.Public, bare.Public()) {
		t.Fatalf("a private key file as a published key: %v", err)
	}
	set := &KeySet{
		Current:  signerFor(t, cur, curLeaf, ca),
		Next:     signerFor(t, next, selfSigned(t, next)),
		Previous: []PublishedKey{prevKey, bareKey, {Public: cur.Public(), Certificates: []*x509.Certificate{curLeaf}}},
	}

	certs, err := ParseCertificates(set.Bundle())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range certs {
		names = append(names, c.Subject.CommonName)
	}
	if got := strings.Join(names, ","); got != "current,regtoken CA,regtoken test,regtoken test" {
		t.Errorf("bundle holds %s; want current, the CA, next, previous", got)
	}

	raw, err := set.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwk.Parse(raw)
	if err != nil {
		t.Fatalf("jwx cannot read the JWKS: %v\n%s", err, raw)
	}
	var doc JWKS
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	wantPubs := []crypto.PublicKey{cur.Public(), next.Public(), prev.Public(), bare.Public()}
	wantAlgs := []string{"ES384", "EdDSA", "RS256", "ES256"}
	if parsed.Len() != len(wantPubs) || len(doc.Keys) != len(wantPubs) {
		t.Fatalf("JWKS has %d keys, want %d:\n%s", parsed.Len(), len(wantPubs), raw)
	}
	for i, pub := range wantPubs {
		k, _ := parsed.Key(i)
		if want := jwxThumbprint(t, pub); k.KeyID() != want || doc.Keys[i].Kid != want {
			t.Errorf("key %d: kid %q, want jwx's thumbprint %q", i, k.KeyID(), want)
		}
		if doc.Keys[i].Alg != wantAlgs[i] || doc.Keys[i].Use != "sig" {
			t.Errorf("key %d: alg %q use %q, want %s sig", i, doc.Keys[i].Alg, doc.Keys[i].Use, wantAlgs[i])
		}
		var got any
		if err := k.Raw(&got); err != nil || !samePublic(pub, got) {
			t.Errorf("key %d: JWKS key differs from the published one (%v)", i, err)
		}
	}
}

func TestParsePublishedKeyErrors(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":   nil,
		"corrupt": pemBlock("PUBLIC KEY", []byte{1, 2, 3}),
		"P-224 public": func() []byte {
			d, _ := x509.MarshalPKIXPublicKey(ecKey(t, elliptic.P224()).Public())
			return pemBlock("PUBLIC KEY", d)
		}(),
	} {
		if _, err := ParsePublishedKey(data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
