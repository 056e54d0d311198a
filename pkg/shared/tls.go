package shared

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/regtoken/regtoken/pkg/secretfile"
)

// errPlainTLS is the error of TLS options on a URL without TLS.
var errPlainTLS = errors.New("ca_file, cert_file, key_file and server_name need TLS: use a rediss:// or valkeys:// url")

// secure applies the TLS options to c, the configuration go-redis made
// from a rediss:// or valkeys:// URL (nil for redis:// and valkey://):
// TLS 1.2 at least, the CA file's certificates as the only roots, the
// client certificate, the server name. It reads the files each time, so
// Validate reports what New would meet. Errors name the key and the file,
// never what the key file holds.
func (o Options) secure(c *tls.Config) error {
	if c == nil {
		if o.CAFile != "" || o.CertFile != "" || o.KeyFile != "" || o.ServerName != "" {
			return errPlainTLS
		}
		return nil
	}
	c.MinVersion = tls.VersionTLS12
	if o.ServerName != "" {
		c.ServerName = o.ServerName
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("ca_file: %s holds no PEM certificate", o.CAFile)
		}
		c.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return errors.New("cert_file and key_file: set both (a client certificate and its key) or neither")
	}
	if o.CertFile == "" {
		return nil
	}
	certPEM, err := os.ReadFile(o.CertFile)
	if err != nil {
		return fmt.Errorf("cert_file: %w", err)
	}
	keyPEM, err := secretfile.Read("key_file", o.KeyFile)
	if err != nil {
		return err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// crypto/tls's errors say what is wrong (no PEM, no key, a key
		// that does not match), never what the key is.
		return fmt.Errorf("cert_file %s, key_file %s: %v", o.CertFile, o.KeyFile, err)
	}
	c.Certificates = []tls.Certificate{cert}
	return nil
}
