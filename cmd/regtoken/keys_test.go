package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/token"
)

// keysFixture is a directory with the check fixture's rule files, a
// current key (cur), a next key and an old key made by keygen, and a
// configuration whose [token] table is tokenTable.
func keysFixture(t *testing.T, tokenTable string) (dir, config string) {
	t.Helper()
	dir = t.TempDir()
	for _, f := range []string{"users.json", "repositories.json", "groups.json", "htpasswd"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	for _, name := range []string{"cur", "next", "old"} {
		var out bytes.Buffer
		if code := run([]string{"keygen", "-dir", filepath.Join(dir, name)}, &out, &out); code != 0 {
			t.Fatalf("keygen: %s", &out)
		}
	}
	config = filepath.Join(dir, "regtoken.toml")
	os.WriteFile(config, []byte("[token]\nissuer = \"i\"\nservices = [\"Authentication\"]\nkey = \"cur/RootCA.key\"\ncertificate = \"cur/RootCA.crt\"\n"+
		tokenTable+"\n[acl]\nusers = \"users.json\"\nrepositories = \"repositories.json\"\ngroups = \"groups.json\"\nhtpasswd = \"htpasswd\"\n"), 0o644)
	return dir, config
}

func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != exitOK {
		t.Fatalf("regtoken %s: exit %d\n%s%s", strings.Join(args, " "), code, &stdout, &stderr)
	}
	return stdout.String()
}

func TestBundleAndJWKSCommands(t *testing.T) {
	_, config := keysFixture(t, "previous = [\"old/RootCA.crt\"]\npromoted_at = \"2026-01-01T00:00:00Z\"\n[token.next]\nkey = \"next/RootCA.key\"\ncertificate = \"next/RootCA.crt\"\n")
	certs, err := token.ParseCertificates([]byte(runOK(t, "bundle", "-config", config)))
	if err != nil || len(certs) != 3 {
		t.Fatalf("bundle: %d certificates, %v", len(certs), err)
	}
	var set token.JWKS
	if err := json.Unmarshal([]byte(runOK(t, "jwks", "-config", config)), &set); err != nil || len(set.Keys) != 3 {
		t.Fatalf("jwks: %+v, %v", set, err)
	}
	for i, c := range certs {
		if kid, _ := token.RFC7638Thumbprint(c.PublicKey); set.Keys[i].Kid != kid {
			t.Errorf("JWKS key %d: kid %s, want the bundle's certificate %d's %s", i, set.Keys[i].Kid, i, kid)
		}
	}
	var out bytes.Buffer
	if code := run([]string{"jwks", "-config", config, "-service", "nope"}, &out, &out); code != exitUsage {
		t.Errorf("unknown service: exit %d: %s", code, &out)
	}
}

// check says at which step of a rotation the configuration is and what
// to do next.
func TestCheckRotationStage(t *testing.T) {
	recent := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	tests := []struct {
		name, table string
		want        []string
		not         []string
	}{
		{"steady", "", nil, []string{"rotation of"}},
		{"next published", "[token.next]\nkey = \"next/RootCA.key\"\ncertificate = \"next/RootCA.crt\"\n",
			[]string{"rotation of token.key: next published", "next key $DIR/next/RootCA.key: ES256", "then run regtoken key promote"}, nil},
		{"promoted, waiting", "previous = [\"old/RootCA.crt\"]\npromoted_at = \"" + recent + "\"\n[token.lifetime]\npush = \"30m\"\n",
			[]string{"rotation of token.key: promoted", "previous $DIR/old/RootCA.crt: published", "(promotion + the longest token lifetime 30m0s + 60 s), then run regtoken key retire"},
			[]string{"key promote"}},
		{"promoted long ago", "previous = [\"old/RootCA.crt\"]\npromoted_at = \"2026-01-01T00:00:00Z\"\n",
			[]string{"no token of the previous keys is valid any more: run regtoken key retire"}, nil},
		{"promoted, no time", "previous = [\"old/RootCA.crt\"]\n",
			[]string{"WARNING previous keys without promoted_at", "token.promoted_at is not set"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, config := keysFixture(t, tt.table)
			out := strings.ReplaceAll(runOK(t, "check", "-config", config), dir, "$DIR")
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("check lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(out, w) {
					t.Errorf("check says %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestKeygenTypesAndCA(t *testing.T) {
	dir := t.TempDir()
	runOK(t, "keygen", "-dir", dir, "-make-ca")
	caPEM, _ := os.ReadFile(filepath.Join(dir, "CA.crt"))
	cas, err := token.ParseCertificates(caPEM)
	if err != nil || !cas[0].IsCA {
		t.Fatalf("CA certificate: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cas[0])
	for typ, alg := range map[string]string{"ec256": "ES256", "ec384": "ES384", "ed25519": "EdDSA", "rsa3072": "RS256"} {
		runOK(t, "keygen", "-dir", dir, "-name", typ, "-type", typ, "-ca", filepath.Join(dir, "CA.crt"), "-ca-key", filepath.Join(dir, "CA.key"))
		keyPEM, _ := os.ReadFile(filepath.Join(dir, typ+".key"))
		certPEM, _ := os.ReadFile(filepath.Join(dir, typ+".crt"))
		key, err := token.ParsePrivateKey(keyPEM)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		chain, err := token.ParseCertificates(certPEM)
		if err != nil || len(chain) != 2 || !chain[1].Equal(cas[0]) {
			t.Fatalf("%s: the certificate file holds %d certificates (%v), want the key's and the CA's", typ, len(chain), err)
		}
		// What distribution does with x5c: verify the leaf up to the CA of its rootcertbundle.
		if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s: the certificate does not verify against the CA: %v", typ, err)
		}
		s, err := token.NewSigner(key, chain, "")
		if err != nil || s.Algorithm() != alg {
			t.Errorf("%s: signer %v, %v; want %s", typ, s, err, alg)
		}
		std, _ := token.RFC7638Thumbprint(key.Public())
		if v31, _ := token.ThumbprintKeyID(key.Public()); std != v31 {
			t.Errorf("%s: registry 3.1's kid %s differs from the JWKS's %s", typ, v31, std)
		}
	}
	var out bytes.Buffer
	if code := run([]string{"keygen", "-dir", dir, "-name", "x", "-ca", filepath.Join(dir, "ec256.crt"), "-ca-key", filepath.Join(dir, "ec256.key")}, &out, &out); code != exitProblem ||
		!strings.Contains(out.String(), "not a CA certificate") {
		t.Errorf("issuing from a leaf: exit %d: %s", code, &out)
	}
	if code := run([]string{"keygen", "-dir", dir, "-type", "dsa"}, &out, &out); code != exitUsage {
		t.Errorf("-type dsa: exit %d", code)
	}
}

// check warns that distribution 2.8 refuses an Ed25519 next key.
func TestCheckWarnsEd25519(t *testing.T) {
	dir, config := keysFixture(t, "[token.next]\nkey = \"ed/RootCA.key\"\ncertificate = \"ed/RootCA.crt\"\n")
	runOK(t, "keygen", "-dir", filepath.Join(dir, "ed"), "-type", "ed25519")
	if out := runOK(t, "check", "-config", config); !strings.Contains(out, "WARNING next key is EdDSA (Ed25519): distribution 2.8 refuses") {
		t.Errorf("check:\n%s", out)
	}
}

// key promote and retire edit the file in place; check follows.
func TestKeyPromoteRetireCommands(t *testing.T) {
	_, config := keysFixture(t, "[token.next]\nkey = \"next/RootCA.key\"\ncertificate = \"next/RootCA.crt\"\n")
	before, _ := os.ReadFile(config)
	runOK(t, "key", "promote", "-config", config, "-dry-run")
	if after, _ := os.ReadFile(config); !bytes.Equal(before, after) {
		t.Fatal("-dry-run changed the file")
	}
	runOK(t, "key", "promote", "-config", config)
	out := runOK(t, "check", "-config", config)
	if !strings.Contains(out, "rotation of token.key: promoted") || !strings.Contains(out, "next/RootCA.key: ES256") {
		t.Errorf("check after promote:\n%s", out)
	}
	var buf bytes.Buffer
	if code := run([]string{"key", "retire", "-config", config}, &buf, &buf); code != exitProblem || !strings.Contains(buf.String(), "too early") {
		t.Errorf("retire right after the promotion: exit %d: %s", code, &buf)
	}
	runOK(t, "key", "retire", "-config", config, "-force")
	if out := runOK(t, "check", "-config", config); strings.Contains(out, "rotation of") {
		t.Errorf("check after retire:\n%s", out)
	}
}

// check -registry says whether the registry's files trust the next key:
// not while its bundle holds the current certificate only, and once it
// holds regtoken bundle's output.
func TestCheckRegistryTrustsNextKey(t *testing.T) {
	dir, config := keysFixture(t, "[token.next]\nkey = \"next/RootCA.key\"\ncertificate = \"next/RootCA.crt\"\n")
	registry := filepath.Join(dir, "registry.yml")
	os.WriteFile(registry, []byte("version: 0.1\nauth:\n  token:\n    realm: https://r.example.com/v2/token\n    service: Authentication\n"+
		"    issuer: i\n    rootcertbundle: bundle.pem\n"), 0o644)
	b, _ := os.ReadFile(filepath.Join(dir, "cur", "RootCA.crt"))
	os.WriteFile(filepath.Join(dir, "bundle.pem"), b, 0o644)
	var out bytes.Buffer
	run([]string{"check", "-config", config, "-registry", registry}, &out, &out)
	if !strings.Contains(out.String(), "next key: distribution 2.8 would REFUSE the next key's tokens") ||
		!strings.Contains(out.String(), "does not trust the next key yet") {
		t.Errorf("check -registry, bundle without the next key:\n%s", &out)
	}
	os.WriteFile(filepath.Join(dir, "bundle.pem"), []byte(runOK(t, "bundle", "-config", config)), 0o644)
	out.Reset()
	if code := run([]string{"check", "-config", config, "-registry", registry}, &out, &out); code != exitOK ||
		!strings.Contains(out.String(), "next key: distribution 2.8 would accept the next key's tokens") ||
		strings.Contains(out.String(), "REFUSE") {
		t.Errorf("check -registry, bundle from regtoken bundle: exit %d\n%s", code, &out)
	}
}
