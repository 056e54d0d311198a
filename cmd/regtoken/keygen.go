package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// runKeygen does what the original README's two openssl commands do: a P-256
// key and a self-signed SHA-256 certificate for it.
func runKeygen(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("keygen", stderr)
	dir := fs.String("dir", "certs", "directory for RootCA.key and RootCA.crt")
	cn := fs.String("cn", "localhost", "certificate common name")
	days := fs.Int("days", 1024, "certificate validity in days")
	force := fs.Bool("force", false, "overwrite existing files")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	keyPath, certPath := filepath.Join(*dir, "RootCA.key"), filepath.Join(*dir, "RootCA.crt")
	if err := keygen(keyPath, certPath, *cn, *days, *force); err != nil {
		fmt.Fprintln(stderr, "regtoken keygen:", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s (mode 0600) and %s\n", keyPath, certPath)
	return 0
}

func keygen(keyPath, certPath, cn string, days int, force bool) error {
	if !force {
		for _, p := range []string{keyPath, certPath} {
			if _, err := os.Stat(p); err == nil {
				return fmt.Errorf("%s exists (use -force to replace it)", p)
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"regtoken"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(0, 0, days),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(keyPath), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	if err := os.Chmod(keyPath, 0o600); err != nil { // WriteFile keeps the mode of an existing file
		return err
	}
	return os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}
