package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
)

func TestParsePrivateKey(t *testing.T) {
	p256 := ecKey(t, elliptic.P256())
	p384 := ecKey(t, elliptic.P384())
	p224 := ecKey(t, elliptic.P224())
	rsa2048 := rsaKey(t, 2048)
	rsa1024 := rsaKey(t, 1024)
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1 := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pemBlock("EC PRIVATE KEY", der)
	}
	// What `openssl ecparam -genkey` writes: parameters, then the key.
	withParams := append(pemBlock("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}), sec1(p256)...)
	certFirst := append(pemBlock("CERTIFICATE", selfSigned(t, p256).Raw), sec1(p256)...)
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{
		"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00000000000000000000000000000000"}, Bytes: []byte{1, 2, 3}})

	tests := []struct {
		name string
		pem  []byte
		want any // the private key expected, when no error
		err  error
	}{
		{name: "SEC 1 P-256", pem: sec1(p256), want: p256},
		{name: "SEC 1 after EC PARAMETERS", pem: withParams, want: p256},
		{name: "after a certificate", pem: certFirst, want: p256},
		{name: "PKCS #8 P-384", pem: pkcs8PEM(t, p384), want: p384},
		{name: "PKCS #1 RSA-2048", pem: pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048)), want: rsa2048},
		{name: "PKCS #8 RSA-2048", pem: pkcs8PEM(t, rsa2048), want: rsa2048},
		{name: "RSA-1024", pem: pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa1024)), err: ErrWeakKey},
		{name: "PKCS #8 RSA-1024", pem: pkcs8PEM(t, rsa1024), err: ErrWeakKey},
		{name: "Ed25519", pem: pkcs8PEM(t, ed), want: ed},
		{name: "P-224", pem: pkcs8PEM(t, p224), err: ErrUnsupportedKey},
		{name: "empty", pem: nil, err: ErrNoPrivateKey},
		{name: "not PEM", pem: []byte("hello"), err: ErrNoPrivateKey},
		{name: "certificate only", pem: pemBlock("CERTIFICATE", selfSigned(t, p256).Raw), err: ErrNoPrivateKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := ParsePrivateKey(tt.pem)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want.(interface {
				Equal(x crypto.PrivateKey) bool
			})
			if !want.Equal(key) {
				t.Fatalf("parsed key differs from the encoded one")
			}
		})
	}

	for name, data := range map[string][]byte{
		"legacy encrypted PEM":  encrypted,
		"ENCRYPTED PRIVATE KEY": pemBlock("ENCRYPTED PRIVATE KEY", []byte{1}),
		"corrupt DER":           pemBlock("EC PRIVATE KEY", []byte{1, 2, 3}),
	} {
		if _, err := ParsePrivateKey(data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseCertificates(t *testing.T) {
	rootKey := ecKey(t, elliptic.P256())
	root := newCert(t, "root", rootKey.Public(), nil, rootKey, true)
	leafKey := ecKey(t, elliptic.P256())
	leaf := newCert(t, "leaf", leafKey.Public(), root, rootKey, false)

	keyDER, err := x509.MarshalECPrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	var bundle []byte
	bundle = append(bundle, pemBlock("CERTIFICATE", leaf.Raw)...)
	bundle = append(bundle, pemBlock("EC PRIVATE KEY", keyDER)...)
	bundle = append(bundle, pemBlock("CERTIFICATE", root.Raw)...)

	certs, err := ParseCertificates(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || !certs[0].Equal(leaf) || !certs[1].Equal(root) {
		t.Fatalf("got %d certificates, want leaf then root", len(certs))
	}

	if _, err := ParseCertificates(pemBlock("EC PRIVATE KEY", keyDER)); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("key only: error = %v, want ErrNoCertificate", err)
	}
	if _, err := ParseCertificates(nil); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("empty: error = %v, want ErrNoCertificate", err)
	}
	if _, err := ParseCertificates(pemBlock("CERTIFICATE", []byte{1, 2, 3})); err == nil {
		t.Errorf("corrupt certificate: no error")
	}
}

// Compile-time check that the keys compared above have Equal(crypto.PrivateKey).
var _ = []interface {
	Equal(x crypto.PrivateKey) bool
}{(*ecdsa.PrivateKey)(nil), (*rsa.PrivateKey)(nil)}
