package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const rotatingFile = `# regtoken
[token]
issuer = "i"
services = ["s", "zot"]
key = "keys/a.key"   # the current key
certificate = "keys/a.crt"

[token.next]
# made with regtoken keygen
key = "keys/b.key"
certificate = "keys/b.crt"

[token.lifetime]
push = "30m"

[token.service."zot"]
key = "zot/a.key"
certificate = "zot/a.crt"
previous = ["zot/old.crt"]

[token.service."zot".next]
key = "zot/b.key"
certificate = "zot/b.crt"

[acl]
users = "users.json"
`

func TestPromote(t *testing.T) {
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	out, err := Promote("/etc/regtoken/regtoken.toml", []byte(rotatingFile), "", now)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(rotatingFile, `key = "keys/a.key"   # the current key
certificate = "keys/a.crt"

[token.next]
# made with regtoken keygen
key = "keys/b.key"
certificate = "keys/b.crt"
`, `key = "keys/b.key"
certificate = "keys/b.crt"
previous = ["keys/a.crt"]
promoted_at = "2026-12-05T08:00:00Z"
`, 1)
	want = strings.TrimRight(want, "\n") + "\n\n# The key refresh tokens were signed with before the first key promotion.\n[refresh]\nkey = \"keys/a.key\"\n"
	if string(out) != want {
		t.Fatalf("promoted file:\n%s\nwant:\n%s", out, want)
	}
	cfg, err := Parse("/etc/regtoken/regtoken.toml", out)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Token.Key != "/etc/regtoken/keys/b.key" || cfg.Token.Rotation.Stage() != StagePromoted || cfg.Refresh.Key != "/etc/regtoken/keys/a.key" {
		t.Errorf("after promote: key %s, stage %s, refresh key %s", cfg.Token.Key, cfg.Token.Rotation.Stage(), cfg.Refresh.Key)
	}

	// The service's key: previous grows, refresh.key is already set.
	out, err = Promote("/etc/regtoken/regtoken.toml", out, "zot", now)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err = Parse("/etc/regtoken/regtoken.toml", out)
	if err != nil {
		t.Fatal(err)
	}
	zot := cfg.Token.ServiceKeys["zot"]
	if zot.Key != "/etc/regtoken/zot/b.key" || strings.Join(zot.Rotation.Previous, ",") != "/etc/regtoken/zot/a.crt,/etc/regtoken/zot/old.crt" ||
		!zot.Rotation.PromotedAt.Equal(now) || zot.Rotation.Next != nil || cfg.Refresh.Key != "/etc/regtoken/keys/a.key" {
		t.Errorf("zot after promote: %+v, refresh key %s\n%s", zot, cfg.Refresh.Key, out)
	}
	if _, err := Promote("/etc/regtoken/regtoken.toml", out, "", now); err == nil || !strings.Contains(err.Error(), "no next key") {
		t.Errorf("promote without a next key: %v", err)
	}
}

func TestPromoteRefusesLayouts(t *testing.T) {
	base := "[acl]\nusers='u'\n[token]\nissuer='i'\nservices=['s']\n"
	for name, text := range map[string]string{
		"inline next":       base + "key='a.key'\ncertificate='a.crt'\nnext = {key='b.key', certificate='b.crt'}\n",
		"multi-line list":   base + "key='a.key'\ncertificate='a.crt'\nprevious = [\n'old.crt',\n]\n[token.next]\nkey='b.key'\ncertificate='b.crt'\n",
		"next without cert": base + "key='a.key'\ncertificate='a.crt'\n[token.next]\nkey='b.key'\n",
	} {
		if _, err := Promote("/x/regtoken.toml", []byte(text), "", time.Now()); !errors.Is(err, ErrLayout) {
			t.Errorf("%s: error = %v, want ErrLayout", name, err)
		}
	}
}

func TestRetire(t *testing.T) {
	promoted := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	text := []byte("[token]\nissuer='i'\nservices=['s']\nkey='b.key'\ncertificate='b.crt'\nprevious = ['a.crt']\npromoted_at = '2026-12-05T08:00:00Z'\n[token.lifetime]\npush='30m'\n[acl]\nusers='u'\n")
	// 30 minutes (the longest token) + 60 s of registry leeway
	if _, err := Retire("/x/regtoken.toml", text, "", promoted.Add(30*time.Minute+59*time.Second), false); !errors.Is(err, ErrTooEarly) {
		t.Fatalf("retire 30m59s after the promotion: %v, want ErrTooEarly", err)
	}
	if _, err := Retire("/x/regtoken.toml", text, "", promoted.Add(time.Minute), true); err != nil {
		t.Fatalf("-force: %v", err)
	}
	out, err := Retire("/x/regtoken.toml", text, "", promoted.Add(31*time.Minute), false)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(string(text), "previous = ['a.crt']\n", "", 1); string(out) != want {
		t.Errorf("retired:\n%s", out)
	}
	noStamp := []byte(strings.Replace(string(text), "promoted_at = '2026-12-05T08:00:00Z'\n", "", 1))
	if _, err := Retire("/x/regtoken.toml", noStamp, "", promoted.Add(48*time.Hour), false); !errors.Is(err, ErrTooEarly) {
		t.Errorf("without promoted_at: %v, want ErrTooEarly", err)
	}
}

// Without certificates (a JWKS-only setup), previous names the old key file.
func TestPromoteWithoutCertificates(t *testing.T) {
	text := "[token]\nissuer='i'\nservices=['s']\nkey='a.key'\nkid='rfc7638'\n[token.next]\nkey='b.key'\n[refresh]\nenabled=false\n[acl]\nusers='u'\n"
	out, err := Promote("/x/regtoken.toml", []byte(text), "", time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := "[token]\nissuer='i'\nservices=['s']\nkey = 'b.key'\nprevious = ['a.key']\npromoted_at = \"2026-12-05T08:00:00Z\"\nkid='rfc7638'\n[refresh]\nenabled=false\n[acl]\nusers='u'\n"
	if string(out) != want {
		t.Errorf("promoted:\n%s\nwant:\n%s", out, want)
	}
}
