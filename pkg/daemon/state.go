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
	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/endpoint"
	"github.com/regtoken/regtoken/pkg/ldapauth"
	"github.com/regtoken/regtoken/pkg/oidc"
	"github.com/regtoken/regtoken/pkg/token"
	"golang.org/x/crypto/bcrypt"
)

// errKeyPermissions means the private key file can be read by group or others.
var errKeyPermissions = errors.New("private key is readable by group or others (chmod 600, as OpenSSH requires)")

// loadState reads the key, certificate, rule, robots and OIDC key files cfg
// names and returns the State the endpoint serves with, which authenticates
// directory users with dir (nil: no directory); keys keeps the issuers' keys
// across reloads (nil only for a configuration without issuers). It changes
// nothing when any file is bad.
func loadState(cfg *config.Config, keys *oidc.Keys, dir *ldapauth.Directory) (*endpoint.State, error) {
	signer, err := LoadSigner(cfg.Token)
	if err != nil {
		return nil, err
	}
	serviceSigners, err := LoadServiceSigners(cfg.Token)
	if err != nil {
		return nil, err
	}
	rules, err := acl.Load(cfg.ACL)
	if err != nil {
		return nil, err
	}
	robots, err := LoadRobots(cfg.Robots.File, rules)
	if err != nil {
		return nil, err
	}
	issuers, err := loadIssuers(cfg, keys)
	if err != nil {
		return nil, err
	}
	st := &endpoint.State{
		Robots:          robots,
		Issuers:         issuers,
		Rules:           rules,
		Signer:          signer,
		ServiceSigners:  serviceSigners,
		Issuer:          cfg.Token.Issuer,
		Services:        cfg.Token.Services,
		Lifetime:        cfg.Token.Lifetime,
		ClockSkew:       cfg.Token.ClockSkew,
		Realm:           cfg.Token.Issuer,
		MaxScopes:       cfg.Limits.MaxScopes,
		Refresh:         cfg.Refresh.Enabled,
		RefreshLifetime: cfg.Refresh.Lifetime,
		LegacyRefresh:   cfg.Refresh.AcceptLegacy,
	}
	if st.Refresh {
		if st.RefreshMAC, err = signer.MACSigner(); err != nil {
			return nil, fmt.Errorf("%s: refresh tokens: %w", cfg.Token.Key, err)
		}
	}
	if dir != nil {
		st.Directory = dir.Authn()
	}
	return st, nil
}

// LoadSigner reads the signing key and its certificate chain: the key of
// every service without one of its own.
func LoadSigner(t config.Token) (*token.Signer, error) {
	return loadSigner(config.KeyFiles{Key: t.Key, Certificate: t.Certificate}, t)
}

// LoadServiceSigners reads the keys of the services that have their own
// ([token.service.NAME]); nil when none has.
func LoadServiceSigners(t config.Token) (map[string]*token.Signer, error) {
	if len(t.ServiceKeys) == 0 {
		return nil, nil
	}
	out := make(map[string]*token.Signer, len(t.ServiceKeys))
	for name, files := range t.ServiceKeys {
		s, err := loadSigner(files, t)
		if err != nil {
			return nil, fmt.Errorf("service %q: %w", name, err)
		}
		out[name] = s
	}
	return out, nil
}

// loadSigner reads one key and its optional certificate chain; the kid
// format and the key file's permission rule are t's.
func loadSigner(files config.KeyFiles, t config.Token) (*token.Signer, error) {
	keyPEM, err := readKey(files.Key, t.AllowReadableKey)
	if err != nil {
		return nil, err
	}
	key, err := token.ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", files.Key, err)
	}
	var chain []*x509.Certificate
	if files.Certificate != "" {
		certPEM, err := os.ReadFile(files.Certificate)
		if err != nil {
			return nil, err
		}
		if chain, err = token.ParseCertificates(certPEM); err != nil {
			return nil, fmt.Errorf("%s: %w", files.Certificate, err)
		}
	}
	s, err := token.NewSigner(key, chain, token.KeyIDFormat(t.KeyID))
	if err != nil {
		return nil, fmt.Errorf("%s and %s: %w", files.Key, files.Certificate, err)
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
	warnSignerCertificate(log, st.Signer, "", now)
	for service, sg := range st.ServiceSigners {
		warnSignerCertificate(log, sg, service, now)
	}
}

// firstToExpire returns, of the signing certificates of every key (the
// main one and the services' own), the one that expires first; nil when no
// key has a certificate.
func firstToExpire(st *endpoint.State) *x509.Certificate {
	var first *x509.Certificate
	consider := func(sg *token.Signer) {
		if certs := sg.Certificates(); len(certs) > 0 && (first == nil || certs[0].NotAfter.Before(first.NotAfter)) {
			first = certs[0]
		}
	}
	consider(st.Signer)
	for _, sg := range st.ServiceSigners {
		consider(sg)
	}
	return first
}

// warnSignerCertificate warns about one signer's certificate; service is
// "" for the key of every service without its own.
func warnSignerCertificate(log *slog.Logger, sg *token.Signer, service string, now time.Time) {
	certs := sg.Certificates()
	if len(certs) == 0 {
		return
	}
	if service != "" {
		log = log.With("service", service)
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
