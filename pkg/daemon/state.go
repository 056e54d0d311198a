package daemon

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/endpoint"
	"github.com/regtoken/regtoken/pkg/ldapauth"
	"github.com/regtoken/regtoken/pkg/token"
	"golang.org/x/crypto/bcrypt"
)

// errKeyPermissions means the private key file can be read by group or others.
var errKeyPermissions = errors.New("private key is readable by group or others (chmod 600, as OpenSSH requires)")

// loadState reads the key, certificate and rule files cfg names and returns the
// State the endpoint serves with, which authenticates with dir (nil: no
// directory). It changes nothing when any file is bad.
func loadState(cfg *config.Config, dir *ldapauth.Directory) (*endpoint.State, error) {
	signer, err := LoadSigner(cfg.Token)
	if err != nil {
		return nil, err
	}
	rules, err := acl.Load(cfg.ACL)
	if err != nil {
		return nil, err
	}
	var directory *authn.Directory
	if dir != nil {
		directory = dir.Authn()
	}
	return &endpoint.State{
		Directory:       directory,
		Rules:           rules,
		Signer:          signer,
		Issuer:          cfg.Token.Issuer,
		Services:        cfg.Token.Services,
		Lifetime:        cfg.Token.Lifetime,
		Realm:           cfg.Token.Issuer,
		MaxScopes:       cfg.Limits.MaxScopes,
		Refresh:         cfg.Refresh.Enabled,
		RefreshLifetime: cfg.Refresh.Lifetime,
	}, nil
}

// LoadSigner reads the signing key and its certificate chain.
func LoadSigner(t config.Token) (*token.Signer, error) {
	keyPEM, err := readKey(t.Key, t.AllowReadableKey)
	if err != nil {
		return nil, err
	}
	key, err := token.ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Key, err)
	}
	var chain []*x509.Certificate
	if t.Certificate != "" {
		certPEM, err := os.ReadFile(t.Certificate)
		if err != nil {
			return nil, err
		}
		if chain, err = token.ParseCertificates(certPEM); err != nil {
			return nil, fmt.Errorf("%s: %w", t.Certificate, err)
		}
	}
	s, err := token.NewSigner(key, chain, token.KeyIDFormat(t.KeyID))
	if err != nil {
		return nil, fmt.Errorf("%s and %s: %w", t.Key, t.Certificate, err)
	}
	return s, nil
}

// readKey reads the private key file, refusing one that others can read.
func readKey(path string, allowReadable bool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 && !allowReadable {
		return nil, fmt.Errorf("%s: %w (mode %04o)", path, errKeyPermissions, fi.Mode().Perm())
	}
	return io.ReadAll(f)
}

// typicalCost is the bcrypt cost most users' hashes have: the comparison run for
// unknown users uses it, so a wrong user name takes as long as a wrong password.
func typicalCost(rules *acl.Rules) int {
	counts := map[int]int{}
	best, bestCount := bcrypt.DefaultCost, 0
	for _, name := range rules.Users() {
		u, _ := rules.User(name)
		c, err := bcrypt.Cost(u.PassHash)
		if err != nil {
			continue
		}
		counts[c]++
		if counts[c] > bestCount {
			best, bestCount = c, counts[c]
		}
	}
	return best
}

// CertificateWarnBefore is how long before the signing certificate expires
// regtoken starts warning (log, /healthz, check).
const CertificateWarnBefore = 30 * 24 * time.Hour

// warnCertificate logs when the signing certificate is expired or about to
// expire: registries reject tokens whose x5c certificate is not valid.
func warnCertificate(log *slog.Logger, st *endpoint.State, now time.Time) {
	certs := st.Signer.Certificates()
	if len(certs) == 0 {
		return
	}
	left := certs[0].NotAfter.Sub(now)
	switch {
	case left <= 0:
		log.Error("the signing certificate has expired: registries reject every token", "not_after", certs[0].NotAfter)
	case left < CertificateWarnBefore:
		log.Warn("the signing certificate expires soon: make a new one and add it to the registries' rootcertbundle",
			"not_after", certs[0].NotAfter, "days_left", int(left.Hours()/24))
	}
}
