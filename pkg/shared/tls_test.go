package shared

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate and its key as dir/name.pem
// and dir/name.key (mode 0600), and returns their paths and the key's PEM.
func writeCert(t *testing.T, dir, name string) (certPath, keyPath, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	certPath, keyPath = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	write(t, certPath, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), 0o644)
	write(t, keyPath, keyPEM, 0o600)
	return certPath, keyPath, keyPEM
}

func write(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
}

// The TLS options reach go-redis's configuration for one server, a
// Sentinel set and a cluster alike.
func TestTLSOptionsApplied(t *testing.T) {
	dir := t.TempDir()
	ca, _, _ := writeCert(t, dir, "ca")
	cert, key, _ := writeCert(t, dir, "client")
	for _, url := range []string{
		"rediss://10.0.0.5:6380/0",
		"valkeys://10.0.0.5:26379/0?master_name=m&addr=10.0.0.6:26379",
		"rediss://10.0.0.5:7000?cluster=true&addr=10.0.0.6:7000",
	} {
		o := Options{URL: url, SecretFile: "/s", CAFile: ca, CertFile: cert, KeyFile: key, ServerName: "valkey.internal"}
		if err := o.Validate(); err != nil {
			t.Errorf("%s: %v", url, err)
			continue
		}
		uo, err := o.universal("")
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		c := uo.TLSConfig
		switch {
		case c == nil:
			t.Errorf("%s: no TLS", url)
		case c.MinVersion != tls.VersionTLS12 || c.ServerName != "valkey.internal" || c.RootCAs == nil ||
			len(c.Certificates) != 1 || c.InsecureSkipVerify:
			t.Errorf("%s: TLS config %+v", url, c)
		}
	}
	// Without the options: the system's roots, the URL's host, no client
	// certificate, TLS 1.2 at least all the same.
	uo, err := Options{URL: "rediss://cache.example.org:6380", SecretFile: "/s"}.universal("")
	if c := uo.TLSConfig; err != nil || c == nil || c.RootCAs != nil || c.ServerName != "cache.example.org" ||
		c.Certificates != nil || c.MinVersion != tls.VersionTLS12 {
		t.Errorf("plain rediss: %+v, %v", uo.TLSConfig, err)
	}
}

// Each problem with the TLS options or their files is an error that names
// the key and the file, and never shows the private key.
func TestTLSOptionsProblems(t *testing.T) {
	dir := t.TempDir()
	ca, _, _ := writeCert(t, dir, "ca")
	cert, key, keyPEM := writeCert(t, dir, "client")
	_, otherKey, _ := writeCert(t, dir, "other")
	exposed := filepath.Join(dir, "exposed.key")
	write(t, exposed, keyPEM, 0o644)
	notPEM := filepath.Join(dir, "junk.pem")
	write(t, notPEM, "not a certificate\n", 0o644)
	missing := filepath.Join(dir, "missing.pem")
	certPEM, _ := os.ReadFile(cert)
	certAsKey := filepath.Join(dir, "cert-as.key")
	write(t, certAsKey, string(certPEM), 0o600)
	tlsURL := "rediss://127.0.0.1:6380"
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{URL: "redis://127.0.0.1:6379", CAFile: ca}, "need TLS: use a rediss:// or valkeys:// url"},
		{Options{URL: "valkey://127.0.0.1:6379", ServerName: "x"}, "need TLS"},
		{Options{URL: "redis://127.0.0.1:6379", CertFile: cert, KeyFile: key}, "need TLS"},
		{Options{URL: tlsURL, CAFile: missing}, "ca_file: open " + missing},
		{Options{URL: tlsURL, CAFile: notPEM}, "ca_file: " + notPEM + " holds no PEM certificate"},
		{Options{URL: tlsURL, CertFile: cert}, "cert_file and key_file: set both"},
		{Options{URL: tlsURL, KeyFile: key}, "cert_file and key_file: set both"},
		{Options{URL: tlsURL, CertFile: missing, KeyFile: key}, "cert_file: open " + missing},
		{Options{URL: tlsURL, CertFile: cert, KeyFile: exposed}, "key_file: " + exposed + " is readable by others (mode 0644)"},
		{Options{URL: tlsURL, CertFile: cert, KeyFile: otherKey}, "cert_file " + cert + ", key_file " + otherKey + ": tls: private key does not match public key"},
		{Options{URL: tlsURL, CertFile: cert, KeyFile: certAsKey}, "key_file " + certAsKey + ": tls: found a certificate rather than a key"},
		{Options{URL: tlsURL, CertFile: notPEM, KeyFile: key}, "cert_file " + notPEM},
	} {
		c.o.SecretFile = "/s"
		err := c.o.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.o, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), keyPEM[40:80]) {
			t.Errorf("the error shows the key: %v", err)
		}
		if _, err := New(c.o, Secrets{Key: secret}, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v): error %v, want %q", c.o, err, c.want)
		}
	}
}
