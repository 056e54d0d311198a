package main

import (
	"bytes"
	"os"
	"runtime/debug"
	"strings"
	"testing"
)

// cliCase is one command line and what it must do: its exit status, and
// text that stdout and stderr must contain ("" for stdout/stderr: must be
// empty; "*" for anything).
type cliCase struct {
	args           []string
	code           int
	stdout, stderr string
}

func (c cliCase) run(t *testing.T) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(c.args, &stdout, &stderr)
	name := strings.Join(c.args, " ")
	if code != c.code {
		t.Errorf("regtoken %s: exit %d, want %d\nstdout: %s\nstderr: %s", name, code, c.code, &stdout, &stderr)
	}
	expect(t, name, "stdout", stdout.String(), c.stdout)
	expect(t, name, "stderr", stderr.String(), c.stderr)
}

// runExcept is run, with c.stderr as text that stderr must not contain:
// for commands that prompt there.
func (c cliCase) runExcept(t *testing.T) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(c.args, &stdout, &stderr)
	if code != c.code || strings.Contains(stdout.String()+stderr.String(), c.stderr) {
		t.Errorf("regtoken %s: exit %d, want %d; must not contain %q\nstdout: %s\nstderr: %s", strings.Join(c.args, " "), code, c.code, c.stderr, &stdout, &stderr)
	}
	expect(t, strings.Join(c.args, " "), "stdout", stdout.String(), c.stdout)
}

func expect(t *testing.T, name, stream, got, want string) {
	t.Helper()
	switch {
	case want == "*":
	case want == "" && got != "":
		t.Errorf("regtoken %s: %s should be empty, got:\n%s", name, stream, got)
	case !strings.Contains(got, want):
		t.Errorf("regtoken %s: %s lacks %q:\n%s", name, stream, want, got)
	}
}

// Help asked for goes to stdout with exit 0; a mistake goes to stderr with exit 2.
func TestHelpConventions(t *testing.T) {
	for _, c := range []cliCase{
		{nil, 0, "usage: regtoken COMMAND", ""},
		{[]string{"-h"}, 0, "usage: regtoken COMMAND", ""},
		{[]string{"--help"}, 0, "usage: regtoken COMMAND", ""},
		{[]string{"help"}, 0, "usage: regtoken COMMAND", ""},
		{[]string{"help", "serve"}, 0, "usage: regtoken serve", ""},
		{[]string{"serve", "--help"}, 0, "-listen PROTOCOL=ADDRESS[?OPTIONS]", ""},
		{[]string{"help", "explain"}, 0, "SCOPE...", ""},
		{[]string{"hash", "-h"}, 0, "from stdin", ""},
		{[]string{"help", "help"}, 0, "usage: regtoken help [COMMAND]", ""},
		{[]string{"help", "nope"}, 2, "", `unknown command "nope"`},
		{[]string{"nope"}, 2, "", `regtoken: unknown command "nope" (run 'regtoken help' for the list)`},
		{[]string{"check", "-nope"}, 2, "", "flag provided but not defined: -nope\nrun 'regtoken help check' for usage"},
	} {
		c.run(t)
	}
}

// Every command's help has a synopsis, an example and its exit statuses,
// and names the arguments it takes.
func TestEveryCommandHasUsage(t *testing.T) {
	for _, c := range commands() {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"help", c.name}, &stdout, &stderr); code != 0 || stderr.Len() > 0 {
			t.Errorf("help %s: exit %d, stderr %q", c.name, code, &stderr)
		}
		out := stdout.String()
		for _, want := range []string{"usage: regtoken " + c.name, "\nexample:\n  regtoken " + c.name, "\nexit status:\n  0  "} {
			if !strings.Contains(out, want) {
				t.Errorf("help %s lacks %q:\n%s", c.name, want, out)
			}
		}
		for _, a := range c.usage.args {
			if !strings.Contains(out, "\narguments:\n") || !strings.Contains(c.usage.synopsis, a[0]) {
				t.Errorf("help %s: argument %s is not in the synopsis and the arguments list:\n%s", c.name, a[0], out)
			}
		}
	}
}

func TestArguments(t *testing.T) {
	for _, c := range []cliCase{
		// An argument a command does not take is an error that names the flag.
		{[]string{"check", "my.toml"}, 2, "", `regtoken check: unexpected argument "my.toml"; did you mean -config my.toml?`},
		{[]string{"serve", "/etc/regtoken/regtoken.toml"}, 2, "", "did you mean -config /etc/regtoken/regtoken.toml?"},
		{[]string{"keygen", "/tmp/certs"}, 2, "", "did you mean -dir /tmp/certs?"},
		{[]string{"version", "x"}, 2, "", `unexpected argument "x" (run 'regtoken help version' for usage)`},
		{[]string{"explain", "-config", "testdata/regtoken.toml"}, 2, "", "regtoken explain: missing SCOPE"},
		// Flags after arguments, and "--" ending the flags.
		{[]string{"explain", "repository:team-a/x:pull", "-config", "testdata/regtoken.toml", "-user", "carol"}, 0,
			"user carol repository:team-a/x:pull -> [pull]", ""},
		{[]string{"explain", "-config", "testdata/regtoken.toml", "--", "-user"}, 2, "", "regtoken explain:"},
		// The configuration file's name in the message, with the flag to name another.
		{[]string{"check"}, 2, "", "regtoken check: regtoken.toml: no such file; name the configuration with -config FILE"},
	} {
		c.run(t)
	}
}

// A password is never an argument: the error does not repeat it.
func TestHashRefusesPasswordArgument(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"hash", "hunter2"}, &stdout, &stderr); code != 2 {
		t.Errorf("exit %d", code)
	}
	if strings.Contains(stderr.String(), "hunter2") || !strings.Contains(stderr.String(), "takes no arguments") {
		t.Errorf("stderr %q", &stderr)
	}
}

// What bcrypt or x509 would silently change or accept is refused.
func TestOutOfRangeFlags(t *testing.T) {
	for _, c := range []cliCase{
		{[]string{"hash", "-cost", "3"}, 2, "", "regtoken hash: -cost 3 is outside 4-31"},
		{[]string{"hash", "-cost", "32"}, 2, "", "regtoken hash: -cost 32 is outside 4-31"},
		{[]string{"keygen", "-dir", t.TempDir(), "-days", "0"}, 2, "", "regtoken keygen: -days 0: a certificate must be valid for at least a day"},
		{[]string{"keygen", "-dir", t.TempDir(), "-days", "-5"}, 2, "", "-days -5"},
	} {
		c.run(t)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		cliCase{args, 0, "regtoken ", ""}.run(t)
	}
}

func TestDescribeBuild(t *testing.T) {
	checkout := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261201120000-0123456789ab+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-01T12:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	for _, c := range []struct {
		override string
		info     *debug.BuildInfo
		want     string
	}{
		{"", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3 (go1.26.8)"},
		{"", checkout, "v0.0.0-20261201120000-0123456789ab+dirty (commit 0123456789ab, 2026-12-01T12:00:00Z, uncommitted changes; go1.26.8)"},
		{"v9.9.9", checkout, "v9.9.9 (commit 0123456789ab, 2026-12-01T12:00:00Z, uncommitted changes; go1.26.8)"},
		{"", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "devel (go1.26.8)"},
		{"", nil, "unknown (no build information)"},
	} {
		if got := describeBuild(c.override, c.info); got != c.want {
			t.Errorf("describeBuild(%q, …) = %q, want %q", c.override, got, c.want)
		}
	}
}

// The hash command reads its password from stdin when stdin is a pipe.
func withStdin(t *testing.T, text string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString(text)
	w.Close()
	old := os.Stdin
	os.Stdin = r
	t.Cleanup(func() { os.Stdin = old; r.Close() })
}
