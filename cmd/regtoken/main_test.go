package main

import (
	"bytes"
	"flag"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

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
	if len(listen.WebServerGroups) == 1 { // checkFixture's: the process's group
		out = regexp.MustCompile(`\b`+regexp.QuoteMeta(listen.WebServerGroups[0])+`\b`).ReplaceAllString(out, "$$WEBGROUP")
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

// checkFixture copies testdata (the files and problems/) into a new
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
	for _, sub := range []string{"", "problems"} {
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
