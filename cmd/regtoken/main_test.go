package main

import (
	"bytes"
	"flag"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/listen"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// runGolden runs the command and compares its output with a golden file,
// with the absolute path of testdata replaced by $DIR so the files do not
// depend on where the repository is checked out.
func runGolden(t *testing.T, golden string, wantCode int, args ...string) {
	t.Helper()
	dir, _ := filepath.Abs("testdata")
	runGoldenIn(t, dir, golden, wantCode, args...)
}

// runGoldenIn is runGolden with dir, where the command's files are, as $DIR.
func runGoldenIn(t *testing.T, dir, golden string, wantCode int, args ...string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	if code != wantCode {
		t.Fatalf("regtoken %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, &stdout, &stderr)
	}
	out := strings.ReplaceAll(stdout.String()+stderr.String(), dir, "$DIR")
	if len(listen.WebServerGroups) == 1 { // checkFixture's: the process's group, where a group is named
		group := regexp.MustCompile(`(\bgroup(?: = "|=| ))` + regexp.QuoteMeta(listen.WebServerGroups[0]) + `\b`)
		out = group.ReplaceAllString(out, "${1}$$WEBGROUP")
	}
	compareGolden(t, golden, out)
}

func compareGolden(t *testing.T, golden, got string) {
	t.Helper()
	path := filepath.Join("testdata", golden)
	if *update {
		os.WriteFile(path, []byte(got), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/regtoken -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// checkFixture copies testdata (the files and its directories) into a new
// directory that every user may enter, with the key at keyMode, and makes
// the process's own group the web servers' group, so that check's output
// (after normalize) does not depend on the machine or the user.
func checkFixture(t *testing.T, keyMode os.FileMode) string {
	t.Helper()
	g, err := user.LookupGroupId(strconv.Itoa(os.Getegid()))
	if err != nil {
		t.Fatalf("the process's group: %v", err)
	}
	withWebServerGroups(t, g.Name)
	dir, err := os.MkdirTemp("", "regtoken-check")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, sub := range []string{"", "problems", "machines", "registries"} {
		os.MkdirAll(filepath.Join(dir, sub), 0o755)
		os.Chmod(filepath.Join(dir, sub), 0o755)
		files, _ := os.ReadDir(filepath.Join("testdata", sub))
		for _, f := range files {
			if f.IsDir() || strings.HasSuffix(f.Name(), ".golden") {
				continue
			}
			b, err := os.ReadFile(filepath.Join("testdata", sub, f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, sub, f.Name()), b, 0o644)
		}
	}
	os.Chmod(filepath.Join(dir, "RootCA.key"), keyMode)
	return dir
}

func withWebServerGroups(t *testing.T, groups ...string) {
	old := listen.WebServerGroups
	listen.WebServerGroups = groups
	t.Cleanup(func() { listen.WebServerGroups = old })
}

// check says what it found, warnings first: here the readable key that
// allow_readable_key lets through. -list adds every user's effective rules.
func TestCheckGolden(t *testing.T) {
	dir := checkFixture(t, 0o644)
	runGoldenIn(t, dir, "check.golden", 0, "check", "-config", filepath.Join(dir, "regtoken.toml"))
	runGoldenIn(t, dir, "check-list.golden", 0, "check", "-list", "-config", filepath.Join(dir, "regtoken.toml"))
}

// check -registry compares registries' own configuration files with
// regtoken's and verifies a sample token as each would: a 2.8 and a zot that
// match, and a 3.1 with another issuer and an unknown service (exit 1).
func TestCheckRegistryGolden(t *testing.T) {
	dir := checkFixture(t, 0o600)
	runGoldenIn(t, dir, "check-registry.golden", 1, "check", "-config", filepath.Join(dir, "regtoken.toml"),
		"-registry", filepath.Join(dir, "registries/registry-2.8.yml"), "-registry", filepath.Join(dir, "registries/zot.json"),
		"-registry", filepath.Join(dir, "registries/registry-3.1-mismatch.yml"))
}

// An env file over config.yml fixes the issuer; the service stays wrong.
func TestCheckRegistryEnvGolden(t *testing.T) {
	dir := checkFixture(t, 0o600)
	runGoldenIn(t, dir, "check-registry-env.golden", 1, "check", "-config", filepath.Join(dir, "regtoken.toml"),
		"-registry", filepath.Join(dir, "registries/registry-3.1-mismatch.yml")+","+filepath.Join(dir, "registries/issuer.env"))
}

// check reports unknown groups and invalid hashes, warns that a key without a
// certificate fails on registry 3.x, and exits 1; the errors come before
// the listing.
func TestCheckProblemsGolden(t *testing.T) {
	dir := checkFixture(t, 0o600)
	runGoldenIn(t, dir, "check-problems.golden", 1, "check", "-list", "-config", filepath.Join(dir, "problems", "regtoken.toml"))
}

func TestExplainGolden(t *testing.T) {
	runGolden(t, "explain-dave.golden", 0, "explain", "-config", "testdata/regtoken.toml", "-user", "dave",
		"repository:dave/tools:pull,push,delete", "repository:team-a/secret:pull", "repository:team-a/x/y:push",
		"registry:catalog:*", "repository:elsewhere:pull")
	runGolden(t, "explain-anonymous.golden", 0, "explain", "-config", "testdata/regtoken.toml",
		"repository:public/a/b:pull", "repository:some-image:push,pull", "repository:team-a/x:pull")
	runGolden(t, "explain-carol.golden", 0, "explain", "--config", "testdata/regtoken.toml", "-user", "carol",
		"repository:team-a/secret:pull,delete", "repository:home/carol:delete", "registry:catalog:*", "repository:x:*")
}

// A private key others can read is refused, as OpenSSH refuses one.
func TestCheckRefusesReadableKey(t *testing.T) {
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata")
	for _, f := range []string{"RootCA.key", "RootCA.crt", "users.json", "repositories.json", "groups.json", "htpasswd"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	cfg, _ := os.ReadFile(filepath.Join(src, "regtoken.toml"))
	os.WriteFile(filepath.Join(dir, "regtoken.toml"), bytes.ReplaceAll(cfg, []byte("allow_readable_key = true"), nil), 0o644)
	var out bytes.Buffer
	if code := run([]string{"check", "-config", filepath.Join(dir, "regtoken.toml")}, &out, &out); code != 1 {
		t.Fatalf("exit %d with a 0644 key:\n%s", code, &out)
	}
	if !strings.Contains(out.String(), "readable by group or others") {
		t.Errorf("no clear message about the key's mode:\n%s", &out)
	}
	os.Chmod(filepath.Join(dir, "RootCA.key"), 0o600)
	out.Reset()
	if code := run([]string{"check", "-config", filepath.Join(dir, "regtoken.toml")}, &out, &out); code != 0 {
		t.Fatalf("exit %d with a 0600 key:\n%s", code, &out)
	}
}

func TestBadConfigExits2(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.toml")
	os.WriteFile(p, []byte("[token]\nissuer = \n"), 0o644)
	for _, args := range [][]string{{"check"}, {"serve"}, {"explain", "repository:x:pull"}} {
		var out bytes.Buffer
		cmd := args[0]
		code := run(append(args, "-config", p), &out, &out)
		if code != exitUsage || !strings.Contains(out.String(), "bad.toml:2") {
			t.Errorf("%s with a broken file: exit %d, output %q", cmd, code, &out)
		}
	}
}

func TestHashFromStdin(t *testing.T) {
	r, w, _ := os.Pipe()
	w.WriteString("s3cret\n")
	w.Close()
	old := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = old }()
	var out, errs bytes.Buffer
	if code := run([]string{"hash", "-cost", "4"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, &errs)
	}
	h := strings.TrimSpace(out.String())
	if !strings.HasPrefix(h, "$2a$04$") || strings.Contains(out.String()+errs.String(), "s3cret") {
		t.Errorf("hash output %q (stderr %q)", h, &errs)
	}
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if code := run([]string{"keygen", "-dir", dir}, &out, &out); code != 0 {
		t.Fatalf("keygen: %s", &out)
	}
	fi, err := os.Stat(filepath.Join(dir, "RootCA.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode: %v %v", fi, err)
	}
	if code := run([]string{"keygen", "-dir", dir}, &out, &out); code == 0 {
		t.Error("keygen overwrote an existing key without -force")
	}
}

// A tokens_not_before in the future is almost always a typo: check warns.
func TestCheckWarnsFutureTokensNotBefore(t *testing.T) {
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata")
	for _, f := range []string{"RootCA.key", "RootCA.crt"} {
		b, _ := os.ReadFile(filepath.Join(src, f))
		os.WriteFile(filepath.Join(dir, f), b, 0o600)
	}
	os.WriteFile(filepath.Join(dir, "users.json"), []byte(`{"zed": {"pass_hash": "$2a$04$TzPkAY92YPVKsYxnGvlybekWJozpg8gGxSSN4aq/vfvjYQOwPiV2y",
 "tokens_not_before": "2099-01-01T00:00:00Z", "repositories": {"x": ["pull"]}}}`), 0o644)
	os.WriteFile(filepath.Join(dir, "r.toml"), []byte("[token]\nissuer='i'\nservices=['s']\nkey='RootCA.key'\ncertificate='RootCA.crt'\n[acl]\nusers='users.json'\n"), 0o644)
	var out bytes.Buffer
	run([]string{"check", "-config", filepath.Join(dir, "r.toml")}, &out, &out)
	if !strings.Contains(out.String(), "WARNING user zed: tokens_not_before 2099-01-01T00:00:00Z is in the future") {
		t.Errorf("no warning about a future tokens_not_before:\n%s", &out)
	}
}

// check and explain with OIDC issuers and robots: the rules of each issuer,
// an expired robot, and what tokens with the claims of a GitHub branch, of
// main, of another owner and of a Kubernetes pod would get.
func TestMachinesGolden(t *testing.T) {
	dir := checkFixture(t, 0o600)
	runGoldenIn(t, dir, "machines/check.golden", 0, "check", "-list", "-config", filepath.Join(dir, "machines/regtoken.toml"))
	cfg := "testdata/machines/regtoken.toml"
	scopes := []string{"repository:acme/app/web:pull,push", "repository:acme/app/prod:pull,push", "repository:k8s/ci/x:pull"}
	for _, claims := range []string{"github-branch", "github-main", "github-other-owner", "k8s"} {
		runGolden(t, "machines/explain-"+claims+".golden", 0,
			append([]string{"explain", "-config", cfg, "-claims", "testdata/machines/" + claims + ".json"}, scopes...)...)
	}
	runGolden(t, "machines/explain-robot.golden", 0, "explain", "-config", cfg, "-robot", "ci-pusher",
		"repository:team-a/app:push,pull", "repository:team-a/secret:pull", "repository:some-image:pull")
}

// Robots from the command line: create prints only the secret on stdout,
// list shows what was created, rotate replaces the secret, revoke removes
// the robot, and mistakes change nothing.
func TestRobotCommands(t *testing.T) {
	file := filepath.Join(t.TempDir(), "robots.json")
	robot := func(want int, args ...string) (string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"robot"}, append(args, "-file", file)...), &stdout, &stderr); code != want {
			t.Fatalf("robot %v: exit %d, want %d\n%s%s", args, code, want, &stdout, &stderr)
		}
		return stdout.String(), stderr.String()
	}
	secret, _ := robot(0, "create", "ci", "-repo", "team/app/**=pull,push", "-repo", "team/app/secret=", "-expires", "10d", "-description", "the CI")
	if !strings.HasPrefix(secret, "regtoken_") || strings.Count(secret, "\n") != 1 {
		t.Errorf("create printed %q on stdout", secret)
	}
	list, _ := robot(0, "list")
	for _, words := range []string{"ci", "(SOON)", "team/app/**=pull,push team/app/secret=", "the CI", "unknown"} {
		if !strings.Contains(list, words) {
			t.Errorf("list lacks %q:\n%s", words, list)
		}
	}
	before, _ := os.ReadFile(file)
	robot(1, "create", "ci", "-repo", "x=pull")
	robot(2, "create", "other", "-repo", "x=fly")
	robot(2, "create", "other")
	robot(1, "rotate", "nobody")
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Error("a refused command changed the file")
	}
	rotated, _ := robot(0, "rotate", "ci", "-expires", "never")
	if rotated == secret || !strings.HasPrefix(rotated, "regtoken_") {
		t.Errorf("rotate printed %q", rotated)
	}
	if list, _ = robot(0, "list", "-json"); !strings.Contains(list, `"name": "ci"`) || strings.Contains(list, "expires") {
		t.Errorf("list -json after rotate -expires never:\n%s", list)
	}
	if b, _ := os.ReadFile(file); strings.Contains(string(b), strings.TrimSpace(secret)) || strings.Contains(string(b), strings.TrimSpace(rotated)) {
		t.Error("the robots file holds a secret")
	}
	robot(0, "revoke", "ci")
	if _, stderr := robot(0, "list"); !strings.Contains(stderr, "no robots") {
		t.Errorf("after revoke: %s", stderr)
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"90d": now.AddDate(0, 0, 90), "2w": now.AddDate(0, 0, 14), "36h": now.Add(36 * time.Hour),
		"2027-01-31": time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC), "never": {},
	} {
		if got, err := parseExpiry(in, now); err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0d", "-3d", "soon", "2020-01-01", "d"} {
		if _, err := parseExpiry(in, now); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// With [ldap] and the directory unreachable, explain still answers for a
// user whose password the files hold (they decide it), and fails for one
// only the directory could vouch for; check reports the directory.
func TestExplainWithUnreachableDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"regtoken.toml", "RootCA.key", "RootCA.crt", "users.json", "repositories.json", "groups.json", "htpasswd"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o600)
	}
	os.WriteFile(filepath.Join(dir, "ldap.pw"), []byte("svc-Pw-7q2\n"), 0o600)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	cfg := filepath.Join(dir, "regtoken.toml")
	f, _ := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`
[ldap]
url = "ldap://` + closed + `"
bind_dn = "cn=regtoken,dc=example,dc=org"
bind_password_file = "ldap.pw"
user_base = "ou=people,dc=example,dc=org"
timeout = "1s"
`)
	f.Close()
	var out, errOut strings.Builder
	if code := run([]string{"explain", "-config", cfg, "-user", "bar", "repository:x:pull"}, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "could not be asked") || !strings.Contains(out.String(), "user bar repository:x:pull -> [pull]") {
		t.Errorf("explain bar: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"explain", "-config", cfg, "-user", "carol-from-ldap", "repository:x:pull"}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "connection refused") {
		t.Errorf("explain for a directory-only name: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := run([]string{"check", "-config", cfg}, &out, &errOut); code != 1 || !strings.Contains(out.String(), "ERROR ldap ldap://"+closed) {
		t.Errorf("check: exit %d\n%s", code, out.String())
	}
	if strings.Contains(out.String()+errOut.String(), "svc-Pw-7q2") {
		t.Error("the service password shows in the output")
	}
}

// Several services on one key: check warns (zot checks no aud), and a
// service with a key of its own leaves its group; a zot configured for a
// service that shares the key is a mismatch.
func TestCheckWarnsSharedKey(t *testing.T) {
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata")
	cfg, _ := os.ReadFile(filepath.Join(src, "regtoken.toml"))
	conf := strings.Replace(string(cfg), `services = ["Authentication"]`, `services = ["Authentication", "zot-a", "zot-b"]`, 1)
	conf = strings.Replace(conf, `key = "RootCA.key"`, `key = "`+filepath.Join(src, "RootCA.key")+`"`, 1)
	conf = strings.Replace(conf, `certificate = "RootCA.crt"`, `certificate = "`+filepath.Join(src, "RootCA.crt")+`"`, 1)
	for _, f := range []string{"users.json", "repositories.json", "groups.json", "htpasswd"} {
		conf = strings.Replace(conf, `"`+f+`"`, `"`+filepath.Join(src, f)+`"`, 1)
	}
	os.WriteFile(filepath.Join(dir, "regtoken.toml"), []byte(conf), 0o644)
	zot, _ := os.ReadFile(filepath.Join(src, "registries", "zot.json"))
	zot = bytes.ReplaceAll(zot, []byte(`"service": "Authentication"`), []byte(`"service": "zot-a"`))
	zot = bytes.ReplaceAll(zot, []byte(`"../RootCA.crt"`), []byte(`"`+filepath.Join(src, "RootCA.crt")+`"`))
	os.WriteFile(filepath.Join(dir, "zot.json"), zot, 0o644)
	var out bytes.Buffer
	code := run([]string{"check", "-config", filepath.Join(dir, "regtoken.toml"), "-registry", filepath.Join(dir, "zot.json")}, &out, &out)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, &out)
	}
	for _, want := range []string{
		`WARNING services "Authentication", "zot-a", "zot-b" are signed with one key`,
		`zot.json: zot does not check aud: it accepts tokens ` + filepath.Join(dir, "regtoken.toml") + ` signs for ["Authentication", "zot-b"] too`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, &out)
		}
	}
}
