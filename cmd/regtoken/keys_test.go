package main

import (
	"bytes"
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
