package daemon

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/endpoint"
	"github.com/regtoken/regtoken/pkg/token"
)

// writeKeyPair writes a new key (P-256, or Ed25519 when ed) and a
// self-signed certificate for it as dir/name.key and dir/name.crt.
func writeKeyPair(t *testing.T, dir, name string, ed bool) crypto.PublicKey {
	t.Helper()
	var key crypto.Signer
	var err error
	if ed {
		_, key, err = ed25519.GenerateKey(rand.Reader)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	return key.Public()
}

// rotationFixture is the fixture with a next key (Ed25519) and a previous
// certificate.
func rotationFixture(t *testing.T) (path string, next, previous crypto.PublicKey) {
	t.Helper()
	path = fixture(t, 0o600)
	dir := filepath.Dir(path)
	next = writeKeyPair(t, dir, "next", true)
	previous = writeKeyPair(t, dir, "old", false)
	conf, _ := os.ReadFile(path)
	conf = append(conf, []byte("[token.next]\nkey = \"next.key\"\ncertificate = \"next.crt\"\n")...)
	conf = []byte(string(conf)[:len("[token]\n")] + "previous = [\"old.crt\"]\npromoted_at = \"2026-12-01T00:00:00Z\"\n" + string(conf)[len("[token]\n"):])
	os.WriteFile(path, conf, 0o644)
	return path, next, previous
}

func TestKeySetsLoadAndServe(t *testing.T) {
	path, next, previous := rotationFixture(t)
	cfg := load(t, path)
	st, err := loadState(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Keys == nil || st.Keys.Current != st.Signer || st.Keys.Next == nil || len(st.Keys.Previous) != 1 {
		t.Fatalf("key set %+v", st.Keys)
	}
	dir := filepath.Dir(path)
	files := watchedFiles(path, cfg)
	for _, f := range []string{"next.key", "next.crt", "old.crt"} {
		if !slices.Contains(files, filepath.Join(dir, f)) {
			t.Errorf("%s is not watched: %v", f, files)
		}
	}

	mux := http.NewServeMux()
	addKeyHandlers(mux, endpoint.New(st, endpoint.Options{}))
	get := func(url string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", url, nil))
		return w
	}
	w := get("/bundle.pem")
	certs, err := token.ParseCertificates(w.Body.Bytes())
	if err != nil || len(certs) != 3 {
		t.Fatalf("bundle: %d certificates, %v", len(certs), err)
	}
	for i, pub := range []crypto.PublicKey{st.Signer.PublicKey(), next, previous} {
		if !certs[i].PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Errorf("bundle certificate %d is not the expected key's", i)
		}
	}
	w = get("/jwks.json?service=Authentication")
	var set token.JWKS
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil || len(set.Keys) != 3 {
		t.Fatalf("jwks: %s (%v)", w.Body, err)
	}
	if kid, _ := token.RFC7638Thumbprint(next); set.Keys[1].Kid != kid || set.Keys[1].Alg != "EdDSA" {
		t.Errorf("next key in the JWKS: %+v, want kid %s EdDSA", set.Keys[1], kid)
	}
	if w.Header().Get("Content-Type") != "application/jwk-set+json" {
		t.Errorf("content type %q", w.Header().Get("Content-Type"))
	}
	if w := get("/jwks.json?service=nope"); w.Code != http.StatusNotFound {
		t.Errorf("unknown service: %d", w.Code)
	}
}

// refresh.key keeps refresh tokens verifying when the signing key changes.
func TestRefreshKey(t *testing.T) {
	path := fixture(t, 0o600)
	dir := filepath.Dir(path)
	writeKeyPair(t, dir, "other", false)
	before, err := loadState(load(t, path), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	refresh, err := before.RefreshMAC.SignJSON([]byte(`{"sub":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	// Promotion: other.key signs, RootCA.key keeps the refresh tokens.
	conf, _ := os.ReadFile(path)
	os.WriteFile(path, append(conf, []byte("[refresh]\nkey = \"RootCA.key\"\n")...), 0o644)
	conf, _ = os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(conf), "key = \"RootCA.key\"\ncertificate = \"RootCA.crt\"", "key = \"other.key\"\ncertificate = \"other.crt\"", 1)), 0o644)
	after, err := loadState(load(t, path), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if after.Signer.SameKey(before.Signer) {
		t.Fatal("the signing key did not change")
	}
	if _, err := after.RefreshMAC.Verify(refresh); err != nil {
		t.Errorf("a refresh token of the old key fails after the rotation: %v", err)
	}
}

// ?service= serves a service's own key set, with its own next key; a
// service without one gets the main set.
func TestKeySetOfService(t *testing.T) {
	path := fixture(t, 0o600)
	dir := filepath.Dir(path)
	writeKeyPair(t, dir, "zot", false)
	zotNext := writeKeyPair(t, dir, "zot-next", false)
	conf, _ := os.ReadFile(path)
	conf = []byte(strings.Replace(string(conf), `services = ["Authentication"]`, `services = ["Authentication", "zot", "other"]`, 1) +
		"[token.service.zot]\nkey = \"zot.key\"\ncertificate = \"zot.crt\"\n[token.service.zot.next]\nkey = \"zot-next.key\"\ncertificate = \"zot-next.crt\"\n")
	os.WriteFile(path, conf, 0o644)
	st, err := loadState(load(t, path), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	addKeyHandlers(mux, endpoint.New(st, endpoint.Options{}))
	jwks := func(service string) token.JWKS {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", "/jwks.json?service="+service, nil))
		var set token.JWKS
		if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil {
			t.Fatalf("service %s: %s", service, w.Body)
		}
		return set
	}
	zot, other := jwks("zot"), jwks("other")
	wantNext, _ := token.RFC7638Thumbprint(zotNext)
	wantMain, _ := token.RFC7638Thumbprint(st.Signer.PublicKey())
	if len(zot.Keys) != 2 || zot.Keys[1].Kid != wantNext || zot.Keys[0].Kid == wantMain {
		t.Errorf("zot's JWKS %+v: want zot's key and its next %s", zot.Keys, wantNext)
	}
	if len(other.Keys) != 1 || other.Keys[0].Kid != wantMain {
		t.Errorf("a service without a key of its own: %+v, want the main key %s", other.Keys, wantMain)
	}
}
