package registrycheck

import (
	"crypto/x509"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/token"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// checkNow is within the test certificates' validity (2026 to 2126).
var checkNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// regtokenSetup is regtoken's side in the tests: testdata/regtoken.key
// with testdata/regtoken.crt (x5c), or without a certificate (kid only);
// services beyond the first share the key.
func regtokenSetup(t *testing.T, withCert bool, services ...string) Regtoken {
	t.Helper()
	keyPEM, err := os.ReadFile("testdata/regtoken.key")
	if err != nil {
		t.Fatal(err)
	}
	key, err := token.ParsePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	var chain []*x509.Certificate
	sg := Signing{KeyFile: "testdata/regtoken.key", KeyKey: "token.key"}
	if withCert {
		certPEM, err := os.ReadFile("testdata/regtoken.crt")
		if err != nil {
			t.Fatal(err)
		}
		if chain, err = token.ParseCertificates(certPEM); err != nil {
			t.Fatal(err)
		}
		sg.CertFile, sg.CertKey = "testdata/regtoken.crt", "token.certificate"
	}
	if sg.Signer, err = token.NewSigner(key, chain, ""); err != nil {
		t.Fatal(err)
	}
	return Regtoken{
		File: "regtoken.toml", Issuer: "regtoken", Services: services,
		Listeners: []Listener{{"scgi", "unix:/run/regtoken/regtoken.sock"}, {"scgi", "tcp:127.0.0.1:5001"}},
		Lifetime:  5 * time.Minute, ClockSkew: token.DefaultClockSkew,
		Signing: func(service string) Signing {
			s := sg
			for _, other := range services {
				if other != service {
					s.SharedWith = append(s.SharedWith, other)
				}
			}
			return s
		},
	}
}

// TestGolden runs check against real configuration files of distribution
// 2.8 (Debian's), 3.1 (the registry image's) and zot: each correct one,
// and one for each kind of mismatch, whose report must name the right file
// and key. The reports are pinned in testdata/golden (go test -update
// rewrites them).
func TestGolden(t *testing.T) {
	services := []string{"registry.example.com", "zot.example.com"}
	tests := []struct {
		name, config, env string
		kidOnly           bool
		services          []string
		wantMismatch      []string // what the report must name, besides matching the golden file
	}{
		{name: "dist28-ok", config: "dist28.yml"},
		{name: "dist31-ok", config: "dist31.yml"},
		{name: "zot-ok", config: "zot.json", services: []string{"zot.example.com"}},
		{name: "zot-pubkey-ok", config: "zot-pubkey.json", services: []string{"zot.example.com"}},
		{name: "env-ok", env: "registry-ok.env"},
		{name: "dist31-kidonly-jwks-ok", config: "dist31-kidonly-jwks.yml", kidOnly: true},

		{name: "dist28-issuer", config: "dist28-issuer.yml", wantMismatch: []string{"testdata/dist28-issuer.yml: auth.token.issuer", "regtoken.toml: token.issuer"}},
		{name: "env-issuer", config: "dist31.yml", env: "registry-issuer.env", wantMismatch: []string{"testdata/registry-issuer.env: REGISTRY_AUTH_TOKEN_ISSUER", "regtoken.toml: token.issuer"}},
		{name: "dist31-service", config: "dist31-service.yml", wantMismatch: []string{"testdata/dist31-service.yml: auth.token.service", "regtoken.toml: token.services"}},
		{name: "dist28-service-list", config: "dist28-service-list.yml", wantMismatch: []string{"testdata/dist28-service-list.yml: auth.token.service is [registry.example.com mirror.example.com], not a string"}},
		{name: "dist31-realm", config: "dist31-realm.yml", wantMismatch: []string{"testdata/dist31-realm.yml: auth.token.realm", "not an absolute http(s) URL"}},
		{name: "dist28-realm-listener", config: "dist28-realm-listener.yml", wantMismatch: []string{"testdata/dist28-realm-listener.yml: auth.token.realm", "regtoken.toml: listen[1]"}},
		{name: "dist31-realm-ip", config: "dist31-realm-ip.yml"}, // warnings only
		{name: "dist31-bundle", config: "dist31-bundle.yml", wantMismatch: []string{"testdata/dist31-bundle.yml: auth.token.rootcertbundle", "regtoken.toml: token.certificate"}},
		{name: "dist31-kidonly", config: "dist31-kidonly.yml", kidOnly: true, wantMismatch: []string{"testdata/dist31-kidonly.yml: auth.token.jwks is not set", "regtoken.toml"}},
		{name: "zot-cert", config: "zot-cert.json", services: []string{"zot.example.com"}, wantMismatch: []string{"testdata/zot-cert.json: http.auth.bearer.cert", "regtoken.toml: token.key"}},
		{name: "zot-shared-key", config: "zot-shared-key.json", services: services, wantMismatch: []string{"testdata/zot-shared-key.json: zot does not check aud", "regtoken.toml: token.key", `"registry.example.com"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, env := "", ""
			if tt.config != "" {
				cfg = filepath.Join("testdata", tt.config)
			}
			if tt.env != "" {
				env = filepath.Join("testdata", tt.env)
			}
			var reg *Registry
			var err error
			if cfg == "" || env == "" {
				reg, err = LoadFile(cfg + env) // one of them: LoadFile tells which
			} else {
				reg, err = Load(cfg, env)
			}
			if err != nil {
				t.Fatal(err)
			}
			svc := tt.services
			if svc == nil {
				svc = []string{"registry.example.com"}
			}
			report := Check(reg, regtokenSetup(t, !tt.kidOnly, svc...), checkNow)
			got := render(report)
			checkGolden(t, filepath.Join("testdata", "golden", tt.name+".txt"), got)
			mismatches := report.Mismatches()
			if len(tt.wantMismatch) == 0 && mismatches != 0 {
				t.Errorf("a correct configuration reported %d mismatch(es):\n%s", mismatches, got)
			}
			if len(tt.wantMismatch) > 0 {
				line := firstMismatch(report)
				for _, want := range tt.wantMismatch {
					if !strings.Contains(line, want) {
						t.Errorf("the mismatch does not name %q:\n%s", want, got)
					}
				}
			}
		})
	}
}

func render(r Report) string {
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString(f.String() + "\n")
	}
	for _, v := range r.Verdicts {
		b.WriteString(v.String() + "\n")
	}
	return b.String()
}

func firstMismatch(r Report) string {
	for _, f := range r.Findings {
		if f.Mismatch {
			return f.Text
		}
	}
	return ""
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("report differs from %s:\ngot:\n%swant:\n%s", path, got, want)
	}
}

// TestVerifiersRefuse: each registry's verifier refuses what that registry
// refuses, so that a "would accept" in a report means something.
func TestVerifiersRefuse(t *testing.T) {
	rt := regtokenSetup(t, true, "registry.example.com")
	signer := rt.Signing("registry.example.com").Signer
	dist, err := Load("testdata/dist31.yml", "")
	if err != nil {
		t.Fatal(err)
	}
	zot, err := Load("testdata/zot.json", "")
	if err != nil {
		t.Fatal(err)
	}
	sign := func(payload string) string {
		tok, err := signer.SignJSON([]byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	exp, now := checkNow.Add(time.Minute).Unix(), checkNow.Unix()
	tests := []struct {
		name    string
		reg     *Registry
		token   string
		refused []string // the registries that must refuse it
	}{
		{"aud as a list", dist, sign(`{"iss":"regtoken","aud":["registry.example.com"],"exp":` + itoa(exp) + `}`), []string{"distribution 2.8"}},
		{"fractional exp", dist, sign(`{"iss":"regtoken","aud":"registry.example.com","exp":` + itoa(exp) + `.5}`), []string{"distribution 2.8", "distribution 3.1"}},
		{"wrong issuer", dist, sign(`{"iss":"other","aud":"registry.example.com","exp":` + itoa(exp) + `}`), []string{"distribution 2.8", "distribution 3.1"}},
		{"expired beyond leeway", dist, sign(`{"iss":"regtoken","aud":"registry.example.com","exp":` + itoa(now-61) + `}`), []string{"distribution 2.8", "distribution 3.1"}},
		{"iat one second ahead", zot, sign(`{"exp":` + itoa(exp) + `,"iat":` + itoa(now+1) + `}`), []string{"zot"}},
		{"nbf one second ahead", zot, sign(`{"exp":` + itoa(exp) + `,"nbf":` + itoa(now+1) + `}`), []string{"zot"}},
		{"expired a second ago", zot, sign(`{"exp":` + itoa(now-1) + `}`), []string{"zot"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range Verify(tt.reg, tt.token, checkNow) {
				if want := slices.Contains(tt.refused, v.Registry); v.Accepts == want {
					t.Errorf("%s accepts = %v, want %v (%s)", v.Registry, v.Accepts, !want, v.Why)
				}
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
