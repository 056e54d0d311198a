package daemon

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
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
// names and returns the State the endpoint serves with; see buildState. It
// changes nothing when any file is bad, and its error names every one.
func loadState(cfg *config.Config, keys *oidc.Keys, dir *ldapauth.Directory) (*endpoint.State, error) {
	st, errs := buildState(cfg, keys, dir)
	return st, errors.Join(errs...)
}

// buildState reads every file cfg names and makes the State the endpoint
// serves with, which authenticates directory users with dir (nil: no
// directory). keys keeps the issuers' keys across reloads; without it
// (check's case) the issuers' files are read and checked but no key is
// fetched, and the State has no Issuers. It returns one error per part that
// did not load, each named as check reports it, and then no State: serve
// and every reload build their State here, and Preflight reports the errors.
func buildState(cfg *config.Config, keys *oidc.Keys, dir *ldapauth.Directory) (*endpoint.State, []error) {
	var errs []error
	fail := func(part string, err error) {
		for _, e := range unjoin(err) {
			errs = append(errs, fmt.Errorf("%s: %w", part, e))
		}
	}
	keySet, serviceKeys, err := LoadKeySets(cfg.Token)
	fail("key", err)
	var signer *token.Signer
	var serviceSigners map[string]*token.Signer
	if keySet != nil {
		signer = keySet.Current
		for name, set := range serviceKeys {
			if serviceSigners == nil {
				serviceSigners = make(map[string]*token.Signer, len(serviceKeys))
			}
			serviceSigners[name] = set.Current
		}
	}
	rules, err := acl.Load(cfg.ACL)
	fail("rules", err)
	robots, err := LoadRobots(cfg.Robots.File, rules) // names unchecked when the rules failed
	fail("robots", err)
	issuers, err := loadIssuers(cfg, keys)
	fail("oidc", err)
	var refreshMAC *token.MACSigner
	if signer != nil && cfg.Refresh.Enabled {
		refreshMAC, err = loadRefreshMAC(cfg, signer)
		fail("key", err)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	st := &endpoint.State{
		Robots:          robots,
		Issuers:         issuers,
		Rules:           rules,
		Signer:          signer,
		ServiceSigners:  serviceSigners,
		Keys:            keySet,
		ServiceKeys:     serviceKeys,
		Issuer:          cfg.Token.Issuer,
		Services:        cfg.Token.Services,
		Lifetimes:       cfg.Token.Lifetimes,
		ClockSkew:       cfg.Token.ClockSkew,
		Realm:           cfg.Token.Issuer,
		MaxScopes:       cfg.Limits.MaxScopes,
		Refresh:         cfg.Refresh.Enabled,
		RefreshLifetime: cfg.Refresh.Lifetime,
		RefreshMAC:      refreshMAC,
		LegacyRefresh:   cfg.Refresh.AcceptLegacy,
	}
	if dir != nil {
		st.Directory = dir.Authn()
	}
	return st, nil
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
	if exposed(fi.Mode()) && !allowReadable {
		return nil, fmt.Errorf("%s: %w (mode %04o)", path, errKeyPermissions, fi.Mode().Perm())
	}
	return io.ReadAll(f)
}

// exposed reports whether a key file with this mode is readable by group or others.
func exposed(mode os.FileMode) bool { return mode.Perm()&0o077 != 0 }

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

// CertificateWarnBefore is how long before a signing certificate expires
// regtoken starts warning (log, /healthz, check).
const CertificateWarnBefore = 30 * 24 * time.Hour

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
