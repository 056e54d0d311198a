package registrycheck

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	_ "crypto/sha256" // the hashes of RS256/ES256 and friends
	_ "crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/regtoken/regtoken/pkg/token"
)

// Verdict says whether one registry version accepts a token.
type Verdict struct {
	Registry string // "distribution 2.8", "distribution 3.1", "zot"
	Accepts  bool
	Why      string // why not; empty when it accepts
}

func (v Verdict) String() string {
	if v.Accepts {
		return v.Registry + " would accept regtoken's tokens"
	}
	return v.Registry + " would REFUSE regtoken's tokens: " + v.Why
}

// leeway is distribution's allowance on exp and nbf (both versions); zot
// has none, and it checks iat too.
const leeway = 60 * time.Second

// Verify checks sample, a token regtoken signed for the registry's service,
// the way each version of the registry would at time now: both
// distribution versions for a config.yml (they share the format), zot for
// a zot configuration. It checks the signature, the key lookup and the
// time and audience claims, not the access claim.
func Verify(reg *Registry, sample string, now time.Time) []Verdict {
	t, err := parseJWS(sample)
	if reg.Flavor == Zot {
		return []Verdict{verdict("zot", err, func() error { return verifyZot(reg, t, now) })}
	}
	bundle, bundleErr := readBundle(reg)
	if err == nil {
		err = bundleErr
	}
	return []Verdict{
		verdict("distribution 2.8", err, func() error { return verify28(reg, t, bundle, now) }),
		verdict("distribution 3.1", err, func() error { return verify31(reg, t, bundle, now) }),
	}
}

func verdict(name string, early error, check func() error) Verdict {
	err := early
	if err == nil {
		err = check()
	}
	if err != nil {
		return Verdict{Registry: name, Why: err.Error()}
	}
	return Verdict{Registry: name, Accepts: true}
}

// jws is a compact JWS taken apart.
type jws struct {
	header struct {
		Alg string          `json:"alg"`
		Kid string          `json:"kid"`
		X5c []string        `json:"x5c"`
		JWK json.RawMessage `json:"jwk"`
	}
	payload []byte
	input   []byte // the signing input: header.payload
	sig     []byte
}

func parseJWS(compact string) (*jws, error) {
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		return nil, errors.New("malformed token: not a compact JWS")
	}
	var t jws
	h, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err == nil {
		err = json.Unmarshal(h, &t.header)
	}
	if err == nil {
		t.payload, err = base64.RawURLEncoding.DecodeString(parts[1])
	}
	if err == nil {
		t.sig, err = base64.RawURLEncoding.DecodeString(parts[2])
	}
	if err != nil {
		return nil, fmt.Errorf("malformed token: %v", err)
	}
	t.input = []byte(parts[0] + "." + parts[1])
	return &t, nil
}

// verify28 is distribution 2.8's Verify and VerifySigningKey: claims
// decoded into a struct whose aud is a string (a list is a malformed
// token), iss and aud compared, exp and nbf with leeway, then the key from
// x5c (verified to the bundle), else from the kid among the libtrust IDs of
// the bundle's certificates. libtrust knows RS* and ES* only.
func verify28(reg *Registry, t *jws, bundle []*x509.Certificate, now time.Time) error {
	var c struct {
		Iss string `json:"iss"`
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Nbf int64  `json:"nbf"`
		Iat int64  `json:"iat"`
	}
	if err := json.Unmarshal(t.payload, &c); err != nil {
		return fmt.Errorf("malformed token: %v", err)
	}
	if err := checkClaims(reg, c.Iss, []string{c.Aud}, c.Exp, c.Nbf, now); err != nil {
		return err
	}
	var pub crypto.PublicKey
	switch {
	case len(t.header.X5c) > 0:
		chain, err := decodeX5c(t.header.X5c)
		if err == nil {
			pub, err = verifyChain(chain, bundle, now)
		}
		if err != nil {
			return err
		}
	case len(t.header.JWK) > 0:
		return errors.New("the token carries a jwk header, which regtoken never sends")
	case t.header.Kid != "":
		for _, cert := range bundle {
			if id, err := token.LibtrustKeyID(cert.PublicKey); err == nil && id == t.header.Kid {
				pub = cert.PublicKey
			}
		}
		if pub == nil {
			return fmt.Errorf("token signed by untrusted key with ID: %q (no certificate of the bundle has that libtrust ID)", t.header.Kid)
		}
	default:
		return errors.New("unable to get token signing key")
	}
	if !slices.Contains([]string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"}, t.header.Alg) {
		return fmt.Errorf("signing algorithm %q not supported by registry 2.8", t.header.Alg)
	}
	return verifySignature(pub, t)
}

// defaultAlgorithms31 is what distribution 3.x accepts without
// signingalgorithms (HS* cannot verify with public keys, so it does not
// matter here).
var defaultAlgorithms31 = []string{"EdDSA", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
	"ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}

// verify31 is distribution 3.1's: the algorithm must be allowed, the key
// comes from x5c verified to the bundle (no fallback when that fails), and
// only without x5c from the kid, looked up among the 3.1 thumbprints of the
// bundle's certificates and the kids of the jwks file. aud may be a string
// or a list.
func verify31(reg *Registry, t *jws, bundle []*x509.Certificate, now time.Time) error {
	algs := reg.SigningAlgorithms
	if len(algs) == 0 {
		algs = defaultAlgorithms31
	}
	if !slices.Contains(algs, t.header.Alg) {
		return fmt.Errorf("malformed token: algorithm %q is not in %s", t.header.Alg, orDefault(reg.SigningAlgorithmsKey))
	}
	pub, err := keyFor31(reg, t, bundle, now)
	if err != nil {
		return err
	}
	if err := verifySignature(pub, t); err != nil {
		return err
	}
	var c struct {
		Iss string       `json:"iss"`
		Aud audienceList `json:"aud"`
		Exp int64        `json:"exp"`
		Nbf int64        `json:"nbf"`
	}
	if err := json.Unmarshal(t.payload, &c); err != nil {
		return fmt.Errorf("malformed token: %v", err)
	}
	return checkClaims(reg, c.Iss, c.Aud, c.Exp, c.Nbf, now)
}

func orDefault(key string) string {
	if key == "" {
		return "the default signing algorithms"
	}
	return key
}

func keyFor31(reg *Registry, t *jws, bundle []*x509.Certificate, now time.Time) (crypto.PublicKey, error) {
	switch {
	case len(t.header.X5c) > 0:
		chain, err := decodeX5c(t.header.X5c)
		if err != nil {
			return nil, err
		}
		return verifyChain(chain, bundle, now)
	case len(t.header.JWK) > 0:
		return nil, errors.New("the token carries a jwk header, which regtoken never sends")
	case t.header.Kid == "":
		return nil, errors.New("invalid token: neither x5c nor kid")
	}
	for _, cert := range bundle {
		if id, err := token.ThumbprintKeyID(cert.PublicKey); err == nil && id == t.header.Kid {
			return cert.PublicKey, nil
		}
	}
	if reg.JWKS.Set {
		if pub := jwksKey(reg.JWKS.Value, t.header.Kid); pub != nil {
			return pub, nil
		}
	}
	return nil, fmt.Errorf("token signed by untrusted key with ID: %q (neither a thumbprint of the bundle's certificates nor a kid of the jwks file)", t.header.Kid)
}

// audienceList decodes aud as 3.x does: a string or a list of strings.
type audienceList []string

func (a *audienceList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// checkClaims checks iss, aud, exp and nbf as both distribution versions
// do. A missing exp reads as 0, so a token without one is always expired.
func checkClaims(reg *Registry, iss string, aud []string, exp, nbf int64, now time.Time) error {
	switch {
	case iss != reg.Issuer.Value:
		return fmt.Errorf("token from untrusted issuer: %q (%s says %q)", iss, reg.Issuer.Key, reg.Issuer.Value)
	case !slices.Contains(aud, reg.Service.Value):
		return fmt.Errorf("token intended for another audience: %q (%s says %q)", aud, reg.Service.Key, reg.Service.Value)
	case now.After(time.Unix(exp, 0).Add(leeway)):
		return errors.New("token has expired")
	case now.Before(time.Unix(nbf, 0).Add(-leeway)):
		return errors.New("token used before time (nbf)")
	}
	return nil
}

// zotAlgorithms are the algorithms zot's bearer authorizer allows.
var zotAlgorithms = []string{"EdDSA", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}

// verifyZot is zot's bearer check: the one key of its cert file, whatever
// kid or x5c say; no iss or aud check; exp, nbf and iat without leeway, iat
// not in the future.
func verifyZot(reg *Registry, t *jws, now time.Time) error {
	if !reg.Bundle.Set {
		return errors.New("http.auth.bearer.cert is not set")
	}
	pub, err := zotKey(reg.Bundle.Value)
	if err != nil {
		return err
	}
	if !slices.Contains(zotAlgorithms, t.header.Alg) {
		return fmt.Errorf("signing method %s is invalid", t.header.Alg)
	}
	if err := verifySignature(pub, t); err != nil {
		return err
	}
	var c struct {
		Exp *int64 `json:"exp"`
		Nbf *int64 `json:"nbf"`
		Iat *int64 `json:"iat"`
	}
	if err := json.Unmarshal(t.payload, &c); err != nil {
		return fmt.Errorf("token is malformed: %v", err)
	}
	sec := now.Unix()
	switch {
	case c.Exp != nil && sec > *c.Exp:
		return errors.New("token is expired")
	case c.Nbf != nil && sec < *c.Nbf:
		return errors.New("token is not valid yet (nbf)")
	case c.Iat != nil && sec < *c.Iat:
		return fmt.Errorf("token used before issued: iat is %d s ahead of the registry's clock (zot allows no leeway; set [token] clock_skew)", *c.Iat-sec)
	}
	return nil
}

// zotKey reads zot's cert file as zot does: a PEM certificate, a PEM public
// key (PKIX or PKCS #1), or a JWKS holding exactly one key.
func zotKey(path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%v (run check where the registry's files are)", err)
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		set, err := jwk.Parse(data)
		if err != nil || set.Len() != 1 {
			return nil, fmt.Errorf("%s: not a JWKS with exactly one key", path)
		}
		k, _ := set.Key(0)
		return rawPublicKey(k)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	switch block.Type {
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	}
	return nil, fmt.Errorf("%s: a PEM %q, not a certificate or public key", path, block.Type)
}

// jwksKey returns the key of the jwks file whose kid member is kid: 3.x
// takes the kid as written, whatever its format.
func jwksKey(path, kid string) crypto.PublicKey {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	set, err := jwk.Parse(data)
	if err != nil {
		return nil
	}
	k, ok := set.LookupKeyID(kid)
	if !ok {
		return nil
	}
	pub, err := rawPublicKey(k)
	if err != nil {
		return nil
	}
	return pub
}

// jwksHasKid reports whether the jwks file lists pub under kid.
func jwksHasKid(path, kid string, pub crypto.PublicKey) bool {
	k := jwksKey(path, kid)
	return k != nil && samePublicKey(k, pub)
}

func rawPublicKey(k jwk.Key) (crypto.PublicKey, error) {
	pk, err := k.PublicKey()
	if err != nil {
		return nil, err
	}
	var raw any
	if err := pk.Raw(&raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// decodeX5c decodes the x5c header: standard base64 with padding, as both
// distribution versions require.
func decodeX5c(x5c []string) ([]*x509.Certificate, error) {
	chain := make([]*x509.Certificate, 0, len(x5c))
	for i, s := range x5c {
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("x5c[%d] is not standard base64: %v", i, err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("x5c[%d]: %v", i, err)
		}
		chain = append(chain, cert)
	}
	return chain, nil
}

// verifyChain verifies chain[0] to the roots with chain[1:] as
// intermediates and any key usage, and returns its key.
func verifyChain(chain, roots []*x509.Certificate, now time.Time) (crypto.PublicKey, error) {
	if len(chain) == 0 {
		return nil, errors.New("empty x5c")
	}
	rootPool, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range roots {
		rootPool.AddCert(c)
	}
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: rootPool, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return nil, fmt.Errorf("unable to verify certificate chain: %v", err)
	}
	return chain[0].PublicKey, nil
}

// verifySignature checks the JWS signature with pub. The algorithm must fit
// the key: ES256 only with P-256 and so on, and ECDSA signatures are raw
// R||S of the curve's size, as every registry requires.
func verifySignature(pub crypto.PublicKey, t *jws) error {
	alg := t.header.Alg
	hashes := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}
	bad := fmt.Errorf("signature does not verify with the registry's key (%s)", alg)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		h, ok := hashes[strings.TrimLeft(alg, "RSP")]
		if !ok || len(alg) != 5 || (alg[:2] != "RS" && alg[:2] != "PS") {
			return fmt.Errorf("algorithm %s does not fit an RSA key", alg)
		}
		d := h.New()
		d.Write(t.input)
		var err error
		if alg[:2] == "RS" {
			err = rsa.VerifyPKCS1v15(k, h, d.Sum(nil), t.sig)
		} else {
			err = rsa.VerifyPSS(k, h, d.Sum(nil), t.sig, nil)
		}
		if err != nil {
			return bad
		}
	case *ecdsa.PublicKey:
		want := map[elliptic.Curve]string{elliptic.P256(): "ES256", elliptic.P384(): "ES384", elliptic.P521(): "ES512"}[k.Curve]
		if alg != want {
			return fmt.Errorf("algorithm %s does not fit the key's curve (%s)", alg, want)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(t.sig) != 2*size {
			return bad
		}
		d := hashes[alg[2:]].New()
		d.Write(t.input)
		r, s := new(big.Int).SetBytes(t.sig[:size]), new(big.Int).SetBytes(t.sig[size:])
		if !ecdsa.Verify(k, d.Sum(nil), r, s) {
			return bad
		}
	case ed25519.PublicKey:
		if alg != "EdDSA" || !ed25519.Verify(k, t.input, t.sig) {
			return bad
		}
	default:
		return fmt.Errorf("unsupported key type %T", pub)
	}
	return nil
}
