package registrycheck

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/token"
)

// Regtoken is what regtoken's configuration says, as far as a registry
// cares: the issuer, the services, and how tokens for a service are signed.
type Regtoken struct {
	File     string // regtoken's configuration file, for the findings
	Issuer   string
	Services []string
	// Signing returns how tokens for service are signed; it is asked about
	// the registry's own service, even when regtoken does not serve it.
	Signing func(service string) Signing
	// Listeners are regtoken's sockets, to tell a realm that names one of
	// them directly.
	Listeners []Listener
	// Lifetime and ClockSkew shape the sample token as they shape every
	// token (exp, and the backdated nbf and iat).
	Lifetime, ClockSkew time.Duration
}

// Listener is one of regtoken's sockets: its protocol (scgi, uwsgi,
// fastcgi, http) and address (tcp:HOST:PORT, unix:PATH, systemd:NAME).
type Listener struct {
	Protocol, Address string
}

// Signing is one signing key of regtoken and the configuration keys that
// name it.
type Signing struct {
	Signer   *token.Signer
	KeyFile  string // the key file, and the configuration key naming it
	KeyKey   string // "token.key" or "token.service.NAME.key"
	CertFile string // "" for a kid-only setup
	CertKey  string
	// SharedWith are the other services whose tokens this key signs.
	SharedWith []string
}

// Finding is one line of the report: a mismatch that stops the registry
// from accepting regtoken's tokens, or a warning about one that may.
type Finding struct {
	Mismatch bool // false: a warning
	Text     string
}

func (f Finding) String() string {
	if f.Mismatch {
		return "MISMATCH " + f.Text
	}
	return "WARNING " + f.Text
}

// Compare reports, as of now, every difference between the registry's configuration
// and regtoken's that makes, or may make, the registry refuse regtoken's
// tokens. Each finding names the registry's file and key and, where there
// is one, regtoken's.
func Compare(reg *Registry, rt Regtoken, now time.Time) []Finding {
	var out []Finding
	add := func(mismatch bool, format string, args ...any) {
		out = append(out, Finding{Mismatch: mismatch, Text: fmt.Sprintf(format, args...)})
	}
	for _, s := range []Setting{reg.Realm, reg.Service, reg.Issuer, reg.Bundle, reg.JWKS} {
		if s.NotAString != "" {
			add(true, "%s: %s is %s, not a string: the registry refuses to start (a registry takes one service; "+
				"give each service its own registry configuration)", s.File, s.Key, s.NotAString)
		}
	}
	out = append(out, compareNames(reg, rt)...)
	out = append(out, checkRealm(reg)...)
	out = append(out, checkRealmListener(reg, rt)...)
	if reg.Service.Value == "" {
		return out
	}
	sg := rt.Signing(reg.Service.Value)
	out = append(out, compareKeys(reg, rt, sg, now)...)
	if reg.Flavor == Zot && len(sg.SharedWith) > 0 {
		add(true, "%s: zot does not check aud: it accepts tokens %s signs for %s too, because %s: %s (%s) signs them all; "+
			"give service %q its own key ([token.service.%s] key and certificate)",
			reg.File, rt.File, quoteList(sg.SharedWith), rt.File, sg.KeyKey, sg.KeyFile, reg.Service.Value, reg.Service.Value)
	}
	return out
}

// compareNames checks that the registry's issuer and service are regtoken's.
func compareNames(reg *Registry, rt Regtoken) []Finding {
	var out []Finding
	issuerKey := "token.issuer"
	switch {
	case reg.Flavor == Zot:
		// zot has no issuer setting and checks no iss.
	case !reg.Issuer.Set:
		out = append(out, Finding{true, fmt.Sprintf("%s: auth.token.issuer is not set: the registry refuses to start; set it to %s: %s %q",
			reg.File, rt.File, issuerKey, rt.Issuer)})
	case reg.Issuer.Value != rt.Issuer:
		out = append(out, Finding{true, fmt.Sprintf("%s: %s %q is not %s: %s %q: the registry refuses every token (iss)",
			reg.Issuer.File, reg.Issuer.Key, reg.Issuer.Value, rt.File, issuerKey, rt.Issuer)})
	}
	switch {
	case !reg.Service.Set:
		out = append(out, Finding{true, fmt.Sprintf("%s: %s is not set: the registry asks clients for no service, and regtoken "+
			"refuses token requests without one; set it to one of %s: token.services %s", reg.File, serviceKey(reg), rt.File, quoteList(rt.Services))})
	case reg.Service.Value != "" && !slices.Contains(rt.Services, reg.Service.Value):
		out = append(out, Finding{true, fmt.Sprintf("%s: %s %q is not among %s: token.services %s: regtoken refuses its clients' token requests (unknown service)",
			reg.Service.File, reg.Service.Key, reg.Service.Value, rt.File, quoteList(rt.Services))})
	}
	return out
}

func serviceKey(reg *Registry) string {
	if reg.Flavor == Zot {
		return "http.auth.bearer.service"
	}
	return "auth.token.service"
}

// checkRealm checks what clients do with the realm: it must be an absolute
// http(s) URL; crane (go-containerregistry 0.21.4 and later) refuses a realm
// that is an IP literal in a loopback or private range unless it is the
// registry's own host, and every client sends passwords to it, so plain
// http is only for a host that never leaves the machine.
func checkRealm(reg *Registry) []Finding {
	if reg.AutoRedirect || !reg.Realm.Set || reg.Realm.NotAString != "" {
		if !reg.Realm.Set && !reg.AutoRedirect {
			return []Finding{{true, fmt.Sprintf("%s: %s is not set: clients do not know where to ask for tokens", reg.File, realmKey(reg))}}
		}
		return nil
	}
	r := reg.Realm
	u, err := url.Parse(r.Value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return []Finding{{true, fmt.Sprintf("%s: %s %q is not an absolute http(s) URL: clients cannot ask for tokens", r.File, r.Key, r.Value)}}
	}
	var out []Finding
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()) {
		out = append(out, Finding{false, fmt.Sprintf("%s: %s %q names a private IP address: crane and other "+
			"go-containerregistry clients refuse such a realm unless it is the registry's own address; use a host name", r.File, r.Key, r.Value)})
	}
	if u.Scheme == "http" && host != "localhost" && !strings.HasSuffix(host, ".localhost") && !isLoopback(host) {
		out = append(out, Finding{false, fmt.Sprintf("%s: %s %q is plain http: clients send passwords there in the clear", r.File, r.Key, r.Value)})
	}
	return out
}

// checkRealmListener finds a realm that names one of regtoken's TCP
// listeners directly: clients speak HTTP to the realm, so that listener
// must be an http one; the gateway protocols (SCGI, uwsgi, FastCGI) need a
// front end, whose address the realm should name instead.
func checkRealmListener(reg *Registry, rt Regtoken) []Finding {
	if reg.AutoRedirect || reg.Realm.Value == "" {
		return nil
	}
	u, err := url.Parse(reg.Realm.Value)
	if err != nil || u.Host == "" {
		return nil
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	for i, l := range rt.Listeners {
		hostPort, ok := strings.CutPrefix(l.Address, "tcp:")
		if !ok {
			continue
		}
		host, lport, err := net.SplitHostPort(hostPort)
		if err != nil || lport != port || !sameHost(host, u.Hostname()) {
			continue
		}
		switch {
		case l.Protocol != "http":
			return []Finding{{true, fmt.Sprintf("%s: %s %q names %s: listen[%d] (%s on %s), which speaks %s, not HTTP: "+
				"point the realm at the front end (nginx) that passes to it", reg.Realm.File, reg.Realm.Key, reg.Realm.Value,
				rt.File, i, l.Protocol, l.Address, strings.ToUpper(l.Protocol))}}
		case u.Scheme == "https":
			return []Finding{{true, fmt.Sprintf("%s: %s %q is https, but %s: listen[%d] (%s) serves plain HTTP: "+
				"put a TLS front end there, or the realm cannot be reached", reg.Realm.File, reg.Realm.Key, reg.Realm.Value,
				rt.File, i, l.Address)}}
		}
	}
	return nil
}

// sameHost reports whether a listener bound to host answers for realmHost:
// the same name, or a wildcard bind.
func sameHost(host, realmHost string) bool {
	return host == realmHost || host == "" || host == "0.0.0.0" || host == "::" ||
		(isLoopback(host) && (realmHost == "localhost" || isLoopback(realmHost)))
}

func realmKey(reg *Registry) string {
	if reg.Flavor == Zot {
		return "http.auth.bearer.realm"
	}
	return "auth.token.realm"
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// compareKeys checks that the registry trusts the key regtoken signs the
// registry's service with.
func compareKeys(reg *Registry, rt Regtoken, sg Signing, now time.Time) []Finding {
	if reg.Bundle.NotAString != "" || reg.JWKS.NotAString != "" {
		return nil
	}
	if reg.Flavor == Zot {
		return compareZotKey(reg, rt, sg)
	}
	var out []Finding
	if !reg.Bundle.Set && !reg.JWKS.Set {
		return []Finding{{true, fmt.Sprintf("%s: auth.token.rootcertbundle is not set: the registry refuses to start; "+
			"point it at %s: %s (%s)", reg.File, rt.File, certOrKey(sg), certOrKeyFile(sg))}}
	}
	bundle, err := readBundle(reg)
	if err != nil {
		return []Finding{{true, err.Error()}}
	}
	chain := sg.Signer.Certificates()
	switch {
	case len(chain) > 0 && reg.Bundle.Set && !chainsTo(chain, bundle, now):
		out = append(out, Finding{true, fmt.Sprintf("%s: %s (%s) holds neither %s: %s (%s) nor a root it chains to: "+
			"the registry refuses every token (x5c)", reg.Bundle.File, reg.Bundle.Key, reg.Bundle.Value, rt.File, sg.CertKey, sg.CertFile)})
	case len(chain) > 0 && !reg.Bundle.Set:
		out = append(out, Finding{true, fmt.Sprintf("%s: auth.token.rootcertbundle is not set: registry 3.x checks x5c chains only "+
			"against it, never against auth.token.jwks; add %s: %s (%s) to a bundle", reg.File, rt.File, sg.CertKey, sg.CertFile)})
	case len(chain) == 0:
		out = append(out, compareKidOnly(reg, rt, sg, bundle)...)
	}
	return out
}

// compareKidOnly checks a setup without x5c: registry 2.x finds the key by
// the libtrust kid of a bundle certificate, 3.x by the RFC 7638 thumbprint
// of one (computed its own way) or by a kid listed in the jwks file.
func compareKidOnly(reg *Registry, rt Regtoken, sg Signing, bundle []*x509.Certificate) []Finding {
	pub := sg.Signer.PublicKey()
	var out []Finding
	if !hasKey(bundle, pub) {
		out = append(out, Finding{true, fmt.Sprintf("%s: %s (%s) holds no certificate of %s: %s (%s): "+
			"registry 2.x refuses every token (it finds a kid-only key among the bundle's certificates)",
			reg.File, bundleKey(reg), reg.Bundle.Value, rt.File, sg.KeyKey, sg.KeyFile)})
	}
	kid := sg.Signer.KeyID()
	if thumb, _ := token.ThumbprintKeyID(pub); hasKey(bundle, pub) && kid == thumb {
		return out
	}
	if !reg.JWKS.Set {
		out = append(out, Finding{true, fmt.Sprintf("%s: auth.token.jwks is not set, and %s sends only a kid (%q, no token.certificate): "+
			"registry 3.x refuses every token; set token.certificate (x5c works on every version), or list the key under that kid in a jwks file",
			reg.File, rt.File, kid)})
		return out
	}
	if !jwksHasKid(reg.JWKS.Value, kid, pub) {
		out = append(out, Finding{true, fmt.Sprintf("%s: %s (%s) lists no key with kid %q, the kid %s: %s signs with: registry 3.x refuses every token",
			reg.JWKS.File, reg.JWKS.Key, reg.JWKS.Value, kid, rt.File, sg.KeyKey)})
	}
	return out
}

func bundleKey(reg *Registry) string {
	if reg.Bundle.Key != "" {
		return reg.Bundle.Key
	}
	return "auth.token.rootcertbundle"
}

// compareZotKey checks zot's cert: the certificate or public key of the
// signing key, since zot verifies with that one key and nothing else.
func compareZotKey(reg *Registry, rt Regtoken, sg Signing) []Finding {
	if !reg.Bundle.Set {
		return []Finding{{true, fmt.Sprintf("%s: http.auth.bearer.cert is not set: zot turns bearer auth off; "+
			"point it at %s: %s (%s)", reg.File, rt.File, certOrKey(sg), certOrKeyFile(sg))}}
	}
	pub, err := zotKey(reg.Bundle.Value)
	if err != nil {
		return []Finding{{true, fmt.Sprintf("%s: %s (%s): %v", reg.Bundle.File, reg.Bundle.Key, reg.Bundle.Value, err)}}
	}
	if !samePublicKey(pub, sg.Signer.PublicKey()) {
		return []Finding{{true, fmt.Sprintf("%s: %s (%s) is not the key of %s: %s (%s): zot refuses every token",
			reg.Bundle.File, reg.Bundle.Key, reg.Bundle.Value, rt.File, sg.KeyKey, sg.KeyFile)}}
	}
	return nil
}

func certOrKey(sg Signing) string {
	if sg.CertKey != "" {
		return sg.CertKey
	}
	return sg.KeyKey + "'s public key"
}

func certOrKeyFile(sg Signing) string {
	if sg.CertFile != "" {
		return sg.CertFile
	}
	return sg.KeyFile
}

// readBundle reads the registry's rootcertbundle; "" (3.x with jwks only)
// is an empty bundle.
func readBundle(reg *Registry) ([]*x509.Certificate, error) {
	if !reg.Bundle.Set {
		return nil, nil
	}
	data, err := os.ReadFile(reg.Bundle.Value)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %v (run check where the registry's files are)", reg.Bundle.File, reg.Bundle.Key, err)
	}
	certs, err := token.ParseCertificates(data)
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("%s: %s (%s) holds no PEM certificate: the registry refuses to start", reg.Bundle.File, reg.Bundle.Key, reg.Bundle.Value)
	}
	return certs, nil
}

// chainsTo reports whether chain[0] verifies against roots with chain[1:]
// as intermediates, as both distribution versions check x5c (any key usage).
func chainsTo(chain, roots []*x509.Certificate, now time.Time) bool {
	_, err := verifyChain(chain, roots, now)
	return err == nil
}

func hasKey(certs []*x509.Certificate, pub crypto.PublicKey) bool {
	for _, c := range certs {
		if samePublicKey(c.PublicKey, pub) {
			return true
		}
	}
	return false
}

func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
