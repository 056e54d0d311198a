package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

var (
	// ErrKeyMismatch reports a certificate whose public key is not the
	// signing key's: registries would answer "token signed by untrusted key".
	ErrKeyMismatch = errors.New("token: certificate does not match the signing key")
	// ErrWeakKey reports an RSA key shorter than 2048 bits.
	ErrWeakKey = errors.New("token: RSA key shorter than 2048 bits")
	// ErrUnsupportedKey reports a key regtoken cannot sign with: anything
	// but ECDSA P-256/384/521, RSA and Ed25519.
	ErrUnsupportedKey = errors.New("token: unsupported key type (want ECDSA P-256/384/521, RSA or Ed25519)")
	// ErrNoPrivateKey reports PEM data without a private key block.
	ErrNoPrivateKey = errors.New("token: no private key in PEM data")
	// ErrNoCertificate reports PEM data without a CERTIFICATE block.
	ErrNoCertificate = errors.New("token: no certificate in PEM data")
)

// minRSABits is the smallest RSA modulus accepted for signing.
const minRSABits = 2048

// ParsePrivateKey reads the first private key block of pemBytes:
// "EC PRIVATE KEY" (SEC 1), "PRIVATE KEY" (PKCS #8) or "RSA PRIVATE KEY"
// (PKCS #1). Other blocks are skipped, such as the "EC PARAMETERS" block
// that openssl ecparam writes first, or certificates in a combined file.
// It accepts ECDSA P-256/384/521, RSA of at least 2048 bits (ErrWeakKey
// below that) and Ed25519 (which registry 2.8 cannot verify, see
// Registry28Verifies); other keys give ErrUnsupportedKey.
// Encrypted keys are refused.
func ParsePrivateKey(pemBytes []byte) (crypto.Signer, error) {
	for rest := pemBytes; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, ErrNoPrivateKey
		}
		switch block.Type {
		case "EC PRIVATE KEY", "PRIVATE KEY", "RSA PRIVATE KEY":
			return parseKeyBlock(block)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("token: encrypted private keys are not supported")
		}
	}
}

func parseKeyBlock(block *pem.Block) (crypto.Signer, error) {
	if _, encrypted := block.Headers["DEK-Info"]; encrypted {
		return nil, errors.New("token: encrypted private keys are not supported")
	}
	var key any
	var err error
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("token: parsing %s: %w", block.Type, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %T", ErrUnsupportedKey, key)
	}
	if _, err := algorithmFor(signer.Public()); err != nil {
		return nil, err
	}
	return signer, nil
}

// algorithmFor returns the JWS algorithm for a public key, the one that
// distribution 2.8 (libtrust) ties to it: ES256/384/512 by curve, RS256;
// and EdDSA for Ed25519, which only registry 3.x and zot verify.
func algorithmFor(pub crypto.PublicKey) (string, error) {
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		case elliptic.P521():
			return "ES512", nil
		}
		return "", fmt.Errorf("%w: curve %s", ErrUnsupportedKey, pub.Curve.Params().Name)
	case *rsa.PublicKey:
		if bits := pub.N.BitLen(); bits < minRSABits {
			return "", fmt.Errorf("%w: %d bits", ErrWeakKey, bits)
		}
		return "RS256", nil
	case ed25519.PublicKey:
		return "EdDSA", nil
	}
	return "", fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
}

// Registry28Verifies reports whether distribution 2.8 can verify tokens
// signed by pub: libtrust knows ECDSA and RSA only, and an Ed25519
// certificate in its rootcertbundle stops it from starting.
func Registry28Verifies(pub crypto.PublicKey) bool {
	switch pub.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey:
		return true
	}
	return false
}

// ParseCertificates reads every CERTIFICATE block of pemBytes, in file
// order, which must be leaf first and then intermediates, as x5c wants
// them. Other blocks (a key in a combined file) are skipped. It does not
// check the chain: the registry does, against its rootcertbundle.
func ParseCertificates(pemBytes []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := pemBytes; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("token: parsing certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, ErrNoCertificate
	}
	return certs, nil
}
