package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/regtoken/regtoken/pkg/token"
)

var keygenUsage = usage{
	synopsis: "regtoken keygen [-dir certs] [-name RootCA] [-type ec256|ec384|ed25519|rsa3072] [-cn localhost] [-days 1024]\n" +
		"                      [-make-ca | -ca CA.crt -ca-key CA.key] [-force]",
	about: "Make a signing key (NAME.key, mode 0600) and a certificate for it (NAME.crt): self-signed by default,\n" +
		"as the original service's two openssl commands did, or issued by a CA (-ca, -ca-key), or a CA of its\n" +
		"own (-make-ca). With a CA, registries trust the CA certificate once (auth.token.rootcertbundle) and\n" +
		"every key it issues, so rotating the signing key needs no registry change: the recommended setup,\n" +
		"see docs/keys.md. An issued NAME.crt holds the key's certificate, then the CA's. EC keys whose\n" +
		"coordinates begin with a zero byte are skipped, so every registry computes the same kid as the JWKS.\n" +
		"ed25519 is for distribution 3.x and zot only: distribution 2.8 refuses it.",
	example: "regtoken keygen -dir /etc/regtoken/ca -name CA -make-ca -days 3650\n" +
		"regtoken keygen -dir /etc/regtoken -name next -ca /etc/regtoken/ca/CA.crt -ca-key /etc/regtoken/ca/CA.key",
	exit: []string{"0  both files were written", "1  they could not be written (or exist, without -force)", "2  bad command line"},
}

// keygenOptions are keygen's flags.
type keygenOptions struct {
	dir, name, keyType, cn string
	days                   int
	force, makeCA          bool
	caCert, caKey          string
}

// runKeygen makes a key and a certificate for it, self-signed, issued by
// a CA, or a CA's own.
func runKeygen(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("keygen", stdout, stderr)
	var o keygenOptions
	fs.StringVar(&o.dir, "dir", "certs", "`DIR` for NAME.key and NAME.crt")
	fs.StringVar(&o.name, "name", "RootCA", "file `NAME` of the key and the certificate")
	fs.StringVar(&o.keyType, "type", "ec256", "key `TYPE`: ec256 (ES256), ec384 (ES384), ed25519 (EdDSA, not for registry 2.8) or rsa3072 (RS256)")
	fs.StringVar(&o.cn, "cn", "localhost", "certificate common `NAME`")
	fs.IntVar(&o.days, "days", 1024, "certificate validity in `DAYS`, at least 1")
	fs.BoolVar(&o.force, "force", false, "overwrite existing files")
	fs.BoolVar(&o.makeCA, "make-ca", false, "make a CA key and certificate (default NAME CA), to issue signing keys with -ca and -ca-key")
	fs.StringVar(&o.caCert, "ca", "", "issue the certificate from the CA certificate `FILE` (with -ca-key)")
	fs.StringVar(&o.caKey, "ca-key", "", "the CA's private key `FILE` (with -ca)")
	if _, code, ok := fs.parse(args, 0, 0); !ok {
		return code
	}
	switch {
	case o.days < 1:
		fs.errorf("-days %d: a certificate must be valid for at least a day", o.days)
		return exitUsage
	case (o.caCert == "") != (o.caKey == ""):
		fs.errorf("-ca and -ca-key go together")
		return exitUsage
	case o.makeCA && o.caCert != "":
		fs.errorf("-make-ca makes a self-signed CA; it takes no -ca")
		return exitUsage
	}
	if o.makeCA && !fs.flagSet("name") {
		o.name = "CA"
	}
	if o.makeCA && !fs.flagSet("cn") {
		o.cn = "regtoken token signing CA"
	}
	if o.makeCA && o.keyType == "ed25519" {
		fs.errorf("-make-ca -type ed25519: registry 2.8 refuses to start with an Ed25519 certificate in its rootcertbundle; use ec256")
		return exitUsage
	}
	if _, ok := keyMakers[o.keyType]; !ok {
		fs.errorf("-type %q: want ec256, ec384, ed25519 or rsa3072", o.keyType)
		return exitUsage
	}
	keyPath, certPath := filepath.Join(o.dir, o.name+".key"), filepath.Join(o.dir, o.name+".crt")
	if err := keygen(keyPath, certPath, o); err != nil {
		fmt.Fprintln(stderr, "regtoken keygen:", err)
		return exitProblem
	}
	fmt.Fprintf(stdout, "wrote %s (mode 0600) and %s\n", keyPath, certPath)
	return exitOK
}

// keyMakers make a key of each -type.
var keyMakers = map[string]func() (crypto.Signer, error){
	"ec256":   func() (crypto.Signer, error) { return ecKey(elliptic.P256()) },
	"ec384":   func() (crypto.Signer, error) { return ecKey(elliptic.P384()) },
	"ed25519": func() (crypto.Signer, error) { _, k, err := ed25519.GenerateKey(rand.Reader); return k, err },
	"rsa3072": func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 3072) },
}

// ecKey makes an EC key whose coordinates begin with no zero byte: for
// the others (one in 128 for P-256), distribution 3.1 computes a kid from
// the certificate that differs from the standard RFC 7638 one of the JWKS.
func ecKey(curve elliptic.Curve) (crypto.Signer, error) {
	for {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			return nil, err
		}
		std, err1 := token.RFC7638Thumbprint(k.Public())
		v31, err2 := token.ThumbprintKeyID(k.Public())
		if err1 == nil && err2 == nil && std == v31 {
			return k, nil
		}
	}
}

func keygen(keyPath, certPath string, o keygenOptions) error {
	if !o.force {
		for _, p := range []string{keyPath, certPath} {
			if _, err := os.Stat(p); err == nil {
				return fmt.Errorf("%s exists (use -force to replace it)", p)
			}
		}
	}
	key, err := keyMakers[o.keyType]()
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
		Subject:               pkix.Name{CommonName: o.cn, Organization: []string{"regtoken"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(0, 0, o.days),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true, // a self-signed leaf is its own root, as the original openssl commands made it
	}
	parent, parentKey := tmpl, key
	var chain []*x509.Certificate
	if o.caCert != "" {
		if parent, parentKey, err = loadCA(o.caCert, o.caKey); err != nil {
			return err
		}
		tmpl.IsCA, tmpl.KeyUsage = false, x509.KeyUsageDigitalSignature
		tmpl.NotAfter = minTime(tmpl.NotAfter, parent.NotAfter)
		chain = []*x509.Certificate{parent}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(keyPath), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	if err := os.Chmod(keyPath, 0o600); err != nil { // WriteFile keeps the mode of an existing file
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for _, c := range chain {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return os.WriteFile(certPath, certPEM, 0o644)
}

// loadCA reads a CA certificate and its key, which must match and be
// allowed to sign certificates.
func loadCA(certFile, keyFile string) (*x509.Certificate, crypto.Signer, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, err
	}
	certs, err := token.ParseCertificates(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", certFile, err)
	}
	ca := certs[0]
	if !ca.IsCA || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, nil, fmt.Errorf("%s is not a CA certificate (make one with -make-ca)", certFile)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, err
	}
	key, err := token.ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(ca.PublicKey) {
		return nil, nil, fmt.Errorf("%s is not the key of %s", keyFile, certFile)
	}
	return ca, key, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
