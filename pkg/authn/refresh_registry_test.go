package authn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/registrycheck"
	"github.com/regtoken/regtoken/pkg/token"
)

// TestRefreshTokenRefusedByRegistries: a registry holding the signing
// certificate refuses a refresh token, checked the way distribution 2.8,
// 3.1 and zot verify (package registrycheck). zot checks neither aud nor
// iss, so only the signature can keep it out: a refresh token signed with
// the access tokens' key, as earlier versions did, passed zot's /v2/ check.
// An access token of the same key, as a control, passes all three.
func TestRefreshTokenRefusedByRegistries(t *testing.T) {
	a, c := newTestAuthenticator(nil)
	src := testSource(t)
	certFile := withCertificate(t, src)
	_, rt := login(t, a, src, "foo", "foo")

	setting := func(key, value string) registrycheck.Setting {
		return registrycheck.Setting{Value: value, Key: key, File: "config", Set: true}
	}
	registries := []*registrycheck.Registry{
		{Flavor: registrycheck.Distribution, Issuer: setting("auth.token.issuer", src.Issuer),
			Service: setting("auth.token.service", "registry"), Bundle: setting("auth.token.rootcertbundle", certFile)},
		{Flavor: registrycheck.Zot, Service: setting("http.auth.bearer.service", "registry"),
			Bundle: setting("http.auth.bearer.cert", certFile)},
	}
	access, err := src.Signer.Sign(token.NewClaims(src.Issuer, "foo", "registry", nil, c.t, time.Hour, token.DefaultClockSkew))
	if err != nil {
		t.Fatal(err)
	}
	// What the MAC fixes: the same claims signed with the access tokens'
	// key pass zot, which checks nothing but the signature and the times.
	legacy := legacyRefreshToken(t, src, "foo", "registry", c.t, "legacy")
	if v := registrycheck.Verify(registries[1], legacy, c.t)[0]; !v.Accepts {
		t.Errorf("control: zot refuses a key-signed refresh token (%s); this test no longer shows the problem", v.Why)
	}
	for _, reg := range registries {
		for _, v := range registrycheck.Verify(reg, rt.Token, c.t) {
			if v.Accepts {
				t.Errorf("%s accepts a refresh token", v.Registry)
			} else {
				t.Logf("%s refuses the refresh token: %s", v.Registry, v.Why)
			}
		}
		for _, v := range registrycheck.Verify(reg, access, c.t) {
			if !v.Accepts {
				t.Errorf("control: %s refuses an access token of the same key: %s", v.Registry, v.Why)
			}
		}
	}
}

// withCertificate gives src's key a self-signed certificate, as a registry's
// bundle holds it, and returns the certificate's file.
func withCertificate(t *testing.T, src *Source) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "regtoken test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	if src.Signer, err = token.NewSigner(key, []*x509.Certificate{cert}, ""); err != nil {
		t.Fatal(err)
	}
	if src.RefreshMAC, err = src.Signer.MACSigner(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "signing.crt")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
