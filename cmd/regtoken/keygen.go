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

var keygenUsage = usage{
	synopsis: "regtoken keygen [-dir certs] [-cn localhost] [-days 1024] [-force]",
	about: "Make a P-256 signing key (RootCA.key, mode 0600) and a self-signed certificate for it (RootCA.crt),\n" +
		"as the original service's two openssl commands did. The certificate goes into the registry's\n" +
		"auth.token.rootcertbundle; the key stays with regtoken.",
	example: "regtoken keygen -dir /etc/regtoken -cn registry.example.org -days 730",
	exit:    []string{"0  both files were written", "1  they could not be written (or exist, without -force)", "2  bad command line"},
}

// runKeygen does what the original README's two openssl commands do: a P-256
// key and a self-signed SHA-256 certificate for it.
func runKeygen(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("keygen", stdout, stderr)
	dir := fs.String("dir", "certs", "`DIR` for RootCA.key and RootCA.crt")
	cn := fs.String("cn", "localhost", "certificate common `NAME`")
	days := fs.Int("days", 1024, "certificate validity in `DAYS`, at least 1")
	force := fs.Bool("force", false, "overwrite existing files")
	if _, code, ok := fs.parse(args, 0, 0); !ok {
		return code
	}
	if *days < 1 {
		fs.errorf("-days %d: a certificate must be valid for at least a day", *days)
		return exitUsage
	}
	keyPath, certPath := filepath.Join(*dir, "RootCA.key"), filepath.Join(*dir, "RootCA.crt")
	if err := keygen(keyPath, certPath, *cn, *days, *force); err != nil {
		fmt.Fprintln(stderr, "regtoken keygen:", err)
		return exitProblem
	}
	fmt.Fprintf(stdout, "wrote %s (mode 0600) and %s\n", keyPath, certPath)
	return exitOK
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
