package token

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

func base64URLDecode(s string) ([]byte, error) {
	if strings.ContainsAny(s, "=+/") {
		return nil, errors.New("not unpadded base64url")
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// splitToken decodes a compact JWS, failing on anything but three unpadded
// base64url segments.
func splitToken(t *testing.T, tok string) (header map[string]json.RawMessage, payload, sig []byte, signingInput string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	var raw [3][]byte
	for i, p := range parts {
		b, err := base64URLDecode(p)
		if err != nil {
			t.Fatalf("segment %d %q: %v", i, p, err)
		}
		raw[i] = b
	}
	if err := json.Unmarshal(raw[0], &header); err != nil {
		t.Fatalf("header %s: %v", raw[0], err)
	}
	return header, raw[1], raw[2], parts[0] + "." + parts[1]
}

func headerString(t *testing.T, h map[string]json.RawMessage, name string) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(h[name], &s); err != nil {
		t.Fatalf("header %q = %s is not a string: %v", name, h[name], err)
	}
	return s
}

// verifyDirect checks sig with the standard library alone, the way
// registries do: raw R||S of fixed size for ECDSA, PKCS #1 v1.5 for RSA.
func verifyDirect(t *testing.T, pub crypto.PublicKey, signingInput string, sig []byte) {
	t.Helper()
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			t.Fatalf("ECDSA signature is %d bytes, want raw R||S of %d", len(sig), 2*size)
		}
		var digest []byte
		switch size {
		case 32:
			d := sha256.Sum256([]byte(signingInput))
			digest = d[:]
		case 48:
			d := sha512.Sum384([]byte(signingInput))
			digest = d[:]
		default:
			d := sha512.Sum512([]byte(signingInput))
			digest = d[:]
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(pub, digest, r, s) {
			t.Fatal("crypto/ecdsa rejects the signature")
		}
	case *rsa.PublicKey:
		d := sha256.Sum256([]byte(signingInput))
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig); err != nil {
			t.Fatalf("crypto/rsa rejects the signature: %v", err)
		}
	default:
		t.Fatalf("unexpected key %T", pub)
	}
}

func TestSign(t *testing.T) {
	tests := []struct {
		name string
		key  crypto.Signer
		alg  string
	}{
		{"P-256", ecKey(t, elliptic.P256()), "ES256"},
		{"P-384", ecKey(t, elliptic.P384()), "ES384"},
		{"P-521", ecKey(t, elliptic.P521()), "ES512"},
		{"RSA-2048", rsaKey(t, 2048), "RS256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert := selfSigned(t, tt.key)
			s, err := NewSigner(tt.key, []*x509.Certificate{cert}, "")
			if err != nil {
				t.Fatal(err)
			}
			wantKID, err := ThumbprintKeyID(tt.key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if s.Algorithm() != tt.alg || s.KeyID() != wantKID {
				t.Fatalf("Algorithm, KeyID = %s, %s; want %s, %s", s.Algorithm(), s.KeyID(), tt.alg, wantKID)
			}
			if c := s.Certificates(); len(c) != 1 || !c[0].Equal(cert) {
				t.Fatal("Certificates() is not the chain given")
			}
			if !tt.key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(s.PublicKey()) {
				t.Fatal("PublicKey() is not the key's")
			}

			now := time.Now()
			access := []ResourceActions{
				{Type: "repository", Name: "localhost:5000/team/app", Actions: []string{"pull", "push"}},
				{Type: "repository", Name: "team/src", Actions: nil},
			}
			tok, err := s.Sign(NewClaims("regtoken", "alice", "registry.example", access, now, 5*time.Minute, DefaultClockSkew))
			if err != nil {
				t.Fatal(err)
			}
			header, payload, sig, input := splitToken(t, tok)
			checkHeader(t, header, tt.alg, wantKID, []*x509.Certificate{cert})
			checkPayload(t, payload, now)

			got, err := jws.Verify([]byte(tok), jws.WithKey(jwa.SignatureAlgorithm(tt.alg), tt.key.Public()))
			if err != nil {
				t.Fatalf("jws.Verify: %v", err)
			}
			if !bytes.Equal(got, payload) {
				t.Fatal("jws.Verify returned another payload")
			}
			verifyDirect(t, tt.key.Public(), input, sig)
			if got, err := s.Verify(tok); err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("Signer.Verify = %s, %v", got, err)
			}
		})
	}
}

// checkHeader checks the JOSE header: exactly alg, typ, kid and x5c, with
// x5c in padded standard base64, and never jwk.
func checkHeader(t *testing.T, h map[string]json.RawMessage, alg, kid string, chain []*x509.Certificate) {
	t.Helper()
	want := []string{"alg", "kid", "typ"}
	if len(chain) > 0 {
		want = append(want, "x5c")
	}
	if got := slices.Sorted(mapKeys(h)); !slices.Equal(got, want) {
		t.Fatalf("header members %v, want %v", got, want)
	}
	if got := headerString(t, h, "alg"); got != alg {
		t.Errorf("alg = %q, want %q", got, alg)
	}
	if got := headerString(t, h, "typ"); got != "JWT" {
		t.Errorf("typ = %q, want JWT", got)
	}
	if got := headerString(t, h, "kid"); got != kid {
		t.Errorf("kid = %q, want %q", got, kid)
	}
	if len(chain) == 0 {
		return
	}
	var x5c []string
	if err := json.Unmarshal(h["x5c"], &x5c); err != nil {
		t.Fatalf("x5c: %v", err)
	}
	if len(x5c) != len(chain) {
		t.Fatalf("x5c has %d entries, want %d", len(x5c), len(chain))
	}
	for i, enc := range x5c {
		der, err := base64.StdEncoding.Strict().DecodeString(enc)
		if err != nil {
			t.Fatalf("x5c[%d] is not padded standard base64: %v", i, err)
		}
		if !bytes.Equal(der, chain[i].Raw) {
			t.Fatalf("x5c[%d] is not the DER of chain[%d]", i, i)
		}
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// checkPayload checks what registry 2.8 insists on: aud a string, exp, nbf,
// iat integers, access an array.
func checkPayload(t *testing.T, payload []byte, now time.Time) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var c map[string]any
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("payload %s: %v", payload, err)
	}
	if aud, ok := c["aud"].(string); !ok || aud != "registry.example" {
		t.Errorf("aud = %#v, want the string registry.example", c["aud"])
	}
	times := map[string]int64{}
	for _, name := range []string{"exp", "nbf", "iat"} {
		n, ok := c[name].(json.Number)
		if !ok {
			t.Fatalf("%s = %#v is not a number", name, c[name])
		}
		v, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			t.Fatalf("%s = %s is not an integer", name, n)
		}
		times[name] = v
	}
	backdated := now.Add(-DefaultClockSkew).Unix()
	if times["iat"] != backdated || times["exp"] != now.Add(5*time.Minute).Unix() || times["nbf"] != backdated {
		t.Errorf("exp, nbf, iat = %d, %d, %d for now %d", times["exp"], times["nbf"], times["iat"], now.Unix())
	}
	if !bytes.Contains(payload, []byte(`"access":[{"type":"repository","name":"localhost:5000/team/app","actions":["pull","push"]},`+
		`{"type":"repository","name":"team/src","actions":[]}]`)) {
		t.Errorf("access claim not as expected in %s", payload)
	}
}

// TestSignChain checks an x5c of leaf and intermediate the way the registry
// does: verify x5c[0] with x5c[1:] as intermediates against its root bundle.
func TestSignChain(t *testing.T) {
	rootKey := ecKey(t, elliptic.P256())
	root := newCert(t, "root", rootKey.Public(), nil, rootKey, true)
	interKey := ecKey(t, elliptic.P384())
	inter := newCert(t, "intermediate", interKey.Public(), root, rootKey, true)
	leafKey := rsaKey(t, 2048)
	leaf := newCert(t, "leaf", leafKey.Public(), inter, interKey, false)

	s, err := NewSigner(leafKey, []*x509.Certificate{leaf, inter}, KeyIDLibtrust)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Sign(NewClaims("i", "", "svc", nil, time.Now(), time.Minute, DefaultClockSkew))
	if err != nil {
		t.Fatal(err)
	}
	header, _, _, _ := splitToken(t, tok)
	kid, _ := LibtrustKeyID(leafKey.Public())
	checkHeader(t, header, "RS256", kid, []*x509.Certificate{leaf, inter})

	var x5c []string
	if err := json.Unmarshal(header["x5c"], &x5c); err != nil {
		t.Fatal(err)
	}
	var certs []*x509.Certificate
	for _, enc := range x5c {
		der, _ := base64.StdEncoding.DecodeString(enc)
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	opts := x509.VerifyOptions{Roots: x509.NewCertPool(), Intermediates: x509.NewCertPool(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	opts.Roots.AddCert(root)
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := certs[0].Verify(opts); err != nil {
		t.Fatalf("x5c chain does not verify against the root: %v", err)
	}
}

func TestSignerKeyIDDefaults(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	cert := selfSigned(t, key)
	libtrust, _ := LibtrustKeyID(key.Public())
	thumb, _ := ThumbprintKeyID(key.Public())
	tests := []struct {
		name   string
		chain  []*x509.Certificate
		format KeyIDFormat
		want   string
	}{
		{"no chain, default", nil, "", libtrust},
		{"no chain, thumbprint", nil, KeyIDThumbprint, thumb},
		{"chain, default", []*x509.Certificate{cert}, "", thumb},
		{"chain, libtrust", []*x509.Certificate{cert}, KeyIDLibtrust, libtrust},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSigner(key, tt.chain, tt.format)
			if err != nil {
				t.Fatal(err)
			}
			if s.KeyID() != tt.want {
				t.Fatalf("kid = %q, want %q", s.KeyID(), tt.want)
			}
			tok, err := s.Sign(&ClaimSet{})
			if err != nil {
				t.Fatal(err)
			}
			header, _, _, _ := splitToken(t, tok)
			checkHeader(t, header, "ES256", tt.want, tt.chain)
			if tt.chain == nil && s.Certificates() != nil {
				t.Fatal("Certificates() without a chain is not nil")
			}
		})
	}
	if _, err := NewSigner(key, nil, "x509"); !errors.Is(err, ErrUnknownKeyIDFormat) {
		t.Fatalf("unknown kid format: error = %v", err)
	}
}

func TestNewSignerErrors(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	other := ecKey(t, elliptic.P256())
	weak := rsaKey(t, 1024)
	tests := []struct {
		name  string
		key   crypto.Signer
		chain []*x509.Certificate
		err   error
	}{
		{"certificate of another key", key, []*x509.Certificate{selfSigned(t, other)}, ErrKeyMismatch},
		{"RSA certificate for EC key", key, []*x509.Certificate{selfSigned(t, rsaKey(t, 2048))}, ErrKeyMismatch},
		{"RSA-1024", weak, nil, ErrWeakKey},
		{"P-224", ecKey(t, elliptic.P224()), nil, ErrUnsupportedKey},
		{"nil key", nil, nil, ErrUnsupportedKey},
	}
	for _, tt := range tests {
		if _, err := NewSigner(tt.key, tt.chain, ""); !errors.Is(err, tt.err) {
			t.Errorf("%s: error = %v, want %v", tt.name, err, tt.err)
		}
	}
	if _, err := NewSigner(key, []*x509.Certificate{nil}, ""); err == nil {
		t.Error("nil certificate: no error")
	}
}

func TestVerify(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	s, err := NewSigner(key, []*x509.Certificate{selfSigned(t, key)}, "")
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"sub":"alice","aud":"svc","kind":"refresh"}`)
	tok, err := s.SignJSON(payload)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Verify(tok); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("Verify = %s, %v; want the payload back", got, err)
	}

	otherKey := ecKey(t, elliptic.P256())
	other, err := NewSigner(otherKey, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := other.SignJSON(payload)
	rsaSigner, err := NewSigner(rsaKey(t, 2048), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	rsaTok, _ := rsaSigner.SignJSON(payload)

	parts := strings.Split(tok, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"root"}`)) + "." + parts[2]

	bad := map[string]string{
		"empty":                        "",
		"two segments":                 parts[0] + "." + parts[1],
		"too long":                     parts[0] + "." + strings.Repeat("A", 70000) + "." + parts[2],
		"four segments":                tok + ".x",
		"JSON serialization":           `{"payload":"e30","signatures":[]}`,
		"tampered payload":             tampered,
		"another key":                  foreign,
		"RSA token":                    rsaTok,
		"header claims ES384":          resign(t, s, `{"alg":"ES384","typ":"JWT"}`, payload),
		"header alg none":              resign(t, s, `{"alg":"none"}`, payload),
		"unencoded payload (RFC 7797)": resignUnencoded(t, s, `{"alg":"ES256","b64":false,"crit":["b64"]}`, payload),
	}
	for name, tok := range bad {
		if _, err := s.Verify(tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: error = %v, want ErrInvalidToken", name, err)
		}
	}
}

// resign builds a token with an arbitrary header, correctly signed with s's
// key and algorithm, to test that Verify looks at the header.
func resign(t *testing.T, s *Signer, header string, payload []byte) string {
	t.Helper()
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := s.jwsSigner.Sign([]byte(input), s.signKey)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// resignUnencoded is resign for RFC 7797 tokens, whose signing input and
// middle segment hold the payload as is.
func resignUnencoded(t *testing.T, s *Signer, header string, payload []byte) string {
	t.Helper()
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + string(payload)
	sig, err := s.jwsSigner.Sign([]byte(input), s.signKey)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestSignJSONRejectsInvalid(t *testing.T) {
	s, err := NewSigner(ecKey(t, elliptic.P256()), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", "{", `{"a":1}x`, "\xff"} {
		if _, err := s.SignJSON([]byte(p)); !errors.Is(err, ErrInvalidPayload) {
			t.Errorf("SignJSON(%q): error = %v, want ErrInvalidPayload", p, err)
		}
	}
	if _, err := s.Sign(nil); err == nil {
		t.Error("Sign(nil): no error")
	}
}

// TestSignConcurrent shares one Signer between goroutines, as the token
// endpoint does; run with -race it checks the buffer pool.
func TestSignConcurrent(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	s, err := NewSigner(key, []*x509.Certificate{selfSigned(t, key)}, "")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	tokens := make([][]string, 4)
	for g := range tokens {
		wg.Go(func() {
			for i := range 50 {
				sub := strconv.Itoa(g*1000 + i)
				tok, err := s.Sign(NewClaims("i", sub, "svc", nil, time.Now(), time.Minute, DefaultClockSkew))
				if err != nil {
					t.Error(err)
					return
				}
				tokens[g] = append(tokens[g], tok)
			}
		})
	}
	wg.Wait()
	for g, list := range tokens {
		for i, tok := range list {
			payload, err := s.Verify(tok)
			if err != nil {
				t.Fatalf("token %d/%d: %v", g, i, err)
			}
			var c ClaimSet
			if err := json.Unmarshal(payload, &c); err != nil || c.Subject != strconv.Itoa(g*1000+i) {
				t.Fatalf("token %d/%d carries subject %q (%v)", g, i, c.Subject, err)
			}
		}
	}
}

func BenchmarkSignES256(b *testing.B) {
	key := ecKey(b, elliptic.P256())
	s, err := NewSigner(key, []*x509.Certificate{selfSigned(b, key)}, "")
	if err != nil {
		b.Fatal(err)
	}
	claims := NewClaims("regtoken", "alice", "registry.example", []ResourceActions{
		{Type: "repository", Name: "team/app", Actions: []string{"pull", "push"}},
	}, time.Now(), 5*time.Minute, DefaultClockSkew)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(claims); err != nil {
			b.Fatal(err)
		}
	}
}

// Two signers of one key are the same key whatever their certificates and
// kid formats; another key is not.
func TestSameKey(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	withCert, err := NewSigner(key, []*x509.Certificate{selfSigned(t, key)}, "")
	if err != nil {
		t.Fatal(err)
	}
	bare, _ := NewSigner(key, nil, KeyIDThumbprint)
	other, _ := NewSigner(ecKey(t, elliptic.P256()), nil, "")
	if !withCert.SameKey(bare) || withCert.SameKey(other) {
		t.Errorf("same key: %v; another key: %v", withCert.SameKey(bare), withCert.SameKey(other))
	}
}
