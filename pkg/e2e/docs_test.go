//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// The docs are tested as the code is: every relative link resolves, and the
// shell blocks of the README's Install and Quick start and of the migration
// guide run, with only directories (and the registry's URL) replaced, so the
// docs cannot drift from the code.

// docPages are the pages whose links are checked.
func docPages(t *testing.T) []string {
	t.Helper()
	root := harness.RepoRoot()
	pages, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	pages = append(pages, filepath.Join(root, "README.md"), filepath.Join(root, "deploy", "README.md"))
	if len(pages) < 10 {
		t.Fatalf("found only %v", pages)
	}
	return pages
}

// mdLink is [text](target) outside code.
var mdLink = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)

// TestDocLinks checks that every relative link in README.md, docs/*.md and
// deploy/README.md names a file that exists and, with #anchor, a heading
// or <a id> of that page.
func TestDocLinks(t *testing.T) {
	t.Parallel()
	anchors := map[string]map[string]bool{}
	checked := 0
	for _, page := range docPages(t) {
		for _, link := range pageLinks(t, page) {
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			checked++
			path, anchor, _ := strings.Cut(link, "#")
			target := page
			if path != "" {
				target = filepath.Join(filepath.Dir(page), path)
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s: link %q: %v", rel(page), link, err)
				continue
			}
			if anchor == "" {
				continue
			}
			if anchors[target] == nil {
				anchors[target] = pageAnchors(t, target)
			}
			if !anchors[target][anchor] {
				t.Errorf("%s: link %q: %s has no heading or anchor %q", rel(page), link, rel(target), anchor)
			}
		}
	}
	t.Logf("%d relative links checked", checked)
}

func rel(path string) string {
	r, _ := filepath.Rel(harness.RepoRoot(), path)
	return r
}

// pageLinks returns the link targets of a Markdown page, leaving out code
// blocks and code spans.
func pageLinks(t *testing.T, page string) []string {
	t.Helper()
	var links []string
	for _, line := range proseLines(t, page) {
		for _, m := range mdLink.FindAllStringSubmatch(stripCodeSpans(line), -1) {
			links = append(links, m[1])
		}
	}
	return links
}

// proseLines returns a page's lines outside fenced code blocks.
func proseLines(t *testing.T, page string) []string {
	t.Helper()
	var out []string
	inFence := false
	for _, line := range strings.Split(readText(t, page), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if !inFence {
			out = append(out, line)
		}
	}
	return out
}

var codeSpan = regexp.MustCompile("`[^`]*`")

func stripCodeSpans(line string) string { return codeSpan.ReplaceAllString(line, "") }

// pageAnchors returns the anchors GitHub makes for a page's headings, and
// its <a id="…"> and <a name="…">.
func pageAnchors(t *testing.T, page string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	seen := map[string]int{}
	explicit := regexp.MustCompile(`<a (?:id|name)="([^"]+)"`)
	for _, line := range proseLines(t, page) {
		for _, m := range explicit.FindAllStringSubmatch(line, -1) {
			out[m[1]] = true
		}
		if !strings.HasPrefix(line, "#") {
			continue
		}
		slug := headingSlug(strings.TrimLeft(line, "#"))
		if n := seen[slug]; n > 0 {
			out[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}

// headingSlug is GitHub's anchor for a heading: lower case, code marks and
// punctuation dropped, spaces as hyphens.
func headingSlug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// codeBlocks returns the fenced blocks of a page in the given languages,
// in order, each with the heading of its section.
func codeBlocks(t *testing.T, page string, languages ...string) []codeBlock {
	t.Helper()
	var out []codeBlock
	var cur *codeBlock
	section := ""
	sc := bufio.NewScanner(strings.NewReader(readText(t, page)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case cur != nil && strings.HasPrefix(line, "```"):
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		case strings.HasPrefix(line, "```"):
			lang := strings.TrimPrefix(line, "```")
			for _, l := range languages {
				if lang == l {
					cur = &codeBlock{section: section, language: lang}
				}
			}
			if cur == nil && lang != "" { // a block of another language: skip to its end
				cur = &codeBlock{language: "-"}
			}
		case strings.HasPrefix(line, "#"):
			section = strings.TrimSpace(strings.TrimLeft(line, "#"))
		}
	}
	kept := out[:0]
	for _, b := range out {
		if b.language != "-" {
			kept = append(kept, b)
		}
	}
	return kept
}

type codeBlock struct {
	section, language, text string
}

// docShell runs documented shell blocks with bash -euo pipefail in a
// directory of the test's, replacing the directories the docs name.
type docShell struct {
	t       *testing.T
	dir     string
	env     []string
	replace *strings.Replacer
	n       int
}

// newDocShell makes the directories the docs expect to exist on a server
// (/usr/local/bin, /etc, /run) under root, and an environment whose PATH
// finds /usr/local/bin's stand-in first and whose HOME is the test's.
func newDocShell(t *testing.T, root string, pairs ...string) *docShell {
	for _, d := range []string{"bin", "etc", "run", "home"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	home := filepath.Join(root, "home")
	env := append(os.Environ(), "PATH="+filepath.Join(root, "bin")+":"+os.Getenv("PATH"), "HOME="+home,
		"DOCKER_CONFIG="+filepath.Join(home, ".docker"), "GOFLAGS=-buildvcs=auto") // a user's default
	// Go keeps its caches under HOME: keep using this machine's.
	goenv, err := exec.Command("go", "env", "GOENV", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	for i, v := range strings.Fields(string(goenv)) {
		env = append(env, []string{"GOENV", "GOCACHE", "GOMODCACHE", "GOPATH"}[i]+"="+v)
	}
	pairs = append([]string{"/usr/local/bin", filepath.Join(root, "bin"), "/etc/regtoken", filepath.Join(root, "etc", "regtoken"),
		"/run/regtoken", filepath.Join(root, "run", "regtoken")}, pairs...)
	return &docShell{t: t, dir: root, env: env, replace: strings.NewReplacer(pairs...)}
}

// run runs a block in dir and returns what it printed; a block that fails
// fails the test. Processes a block leaves in the background are stopped
// when the test ends (each block is a process group of its own). Output
// goes to a file, not a pipe, so a background process does not hold run up.
func (s *docShell) run(dir string, b codeBlock) string {
	s.t.Helper()
	s.n++
	text := s.replace.Replace(b.text)
	logPath := filepath.Join(s.dir, fmt.Sprintf("block-%d.log", s.n))
	out, err := os.Create(logPath)
	if err != nil {
		s.t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", text)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, s.env, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	s.t.Cleanup(func() {
		syscall.Kill(-pgid, syscall.SIGTERM)
		time.Sleep(200 * time.Millisecond)
		syscall.Kill(-pgid, syscall.SIGKILL)
		if s.t.Failed() {
			printed, _ := os.ReadFile(logPath)
			s.t.Logf("--- the %q block as run:\n%s--- its output and its background processes':\n%s", b.section, text, printed)
		}
	})
	start := time.Now()
	err = cmd.Wait()
	s.t.Logf("the %q block ran in %v", b.section, time.Since(start).Round(time.Millisecond))
	printed := readText(s.t, logPath)
	if err != nil {
		s.t.Fatalf("the %q block failed: %v\n--- as run:\n%s--- output:\n%s", b.section, err, text, printed)
	}
	return printed
}

// cloneRepo clones this repository's committed state into dir, as a user
// would have it, with its own .git for Go to stamp versions from.
func cloneRepo(t *testing.T, dir string) string {
	t.Helper()
	clone := filepath.Join(dir, "regtoken")
	out, err := exec.Command("git", "clone", "-q", "--no-hardlinks", harness.RepoRoot(), clone).CombinedOutput()
	if err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	return clone
}

// TestReadmeInstallAndQuickStart runs the README's Install block (all but
// `go install …@latest`, which needs the module published) in a fresh clone
// and checks the binary is static and says which commit it is, then the
// Quick start: serve the demo, and curl gets a token.
func TestReadmeInstallAndQuickStart(t *testing.T) {
	t.Parallel()
	root := harness.ShortDir(t)
	clone := cloneRepo(t, root)
	sh := newDocShell(t, root)
	blocks := codeBlocks(t, filepath.Join(harness.RepoRoot(), "README.md"), "sh")
	var install, quick []codeBlock
	for _, b := range blocks {
		switch b.section {
		case "Install":
			install = append(install, b)
		case "Quick start":
			quick = append(quick, b)
		}
	}
	if len(install) != 1 || len(quick) != 1 {
		t.Fatalf("want one sh block in Install and one in Quick start, found %d and %d: update the test with the README", len(install), len(quick))
	}

	b := install[0]
	b.text = dropLines(t, b.text, "go install github.com/regtoken/regtoken/cmd/regtoken@")
	out := sh.run(clone, b)
	requireStatic(t, filepath.Join(clone, "regtoken"))
	head, _ := exec.Command("git", "-C", clone, "rev-parse", "HEAD").Output()
	if want := "commit " + string(head[:12]); !strings.Contains(out, want) {
		t.Errorf("./regtoken version does not name the commit (%s):\n%s", want, out)
	}

	// The Quick start's second half runs "in another shell" once the first
	// serves; curl is retried while regtoken builds and starts.
	server, client, ok := strings.Cut(quick[0].text, "# in another shell:\n")
	if !ok {
		t.Fatal(`the Quick start block no longer has "# in another shell:"; update the test`)
	}
	sh.run(clone, codeBlock{section: "Quick start (server)", text: strings.TrimSpace(server) + " &\n"})
	var answer string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", client)
		cmd.Dir, cmd.Env = clone, sh.env
		b, err := cmd.Output()
		if answer = string(b); err == nil && strings.Contains(answer, `"token":"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Quick start's curl got no token within 90 s: %v\n%s", err, answer)
		}
	}
	for _, want := range []string{`"access_token":"`, `"expires_in":1800`, `"issued_at":"`} {
		if !strings.Contains(answer, want) {
			t.Errorf("the Quick start's answer lacks %s, as the README says it has:\n%s", want, answer)
		}
	}
}

// dropLines removes the lines that start with prefix (there must be one).
func dropLines(t *testing.T, text, prefix string) string {
	t.Helper()
	var kept []string
	dropped := 0
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			dropped++
			continue
		}
		kept = append(kept, l)
	}
	if dropped == 0 {
		t.Fatalf("no line starts with %q any more; update the test", prefix)
	}
	return strings.Join(kept, "\n")
}

// TestMigrationGuide runs docs/migrating.md end to end as root would on a
// server: build and install regtoken, keep the Python service's files (its
// users.json and repositories.json, the demo key and certificate), write
// regtoken.toml, check and start regtoken, splice the guide's nginx
// location into the original service's nginx site (deploy/nginx/uwsgi.conf)
// in place of its uWSGI location, with distribution 2.8 behind it, and run
// the guide's curl and crane checks against that registry.
func TestMigrationGuide(t *testing.T) {
	t.Parallel()
	root := harness.ShortDir(t)
	clone := cloneRepo(t, root)
	port := harness.FreePort(t)
	host := fmt.Sprintf("127.0.0.1:%d", port)
	sh := newDocShell(t, root, "https://registry.example.org", "http://"+host, "registry.example.org", host)
	old := filepath.Join(root, "old")
	sh.env = append(sh.env, "OLD="+old)
	for src, dst := range map[string]string{
		filepath.Join(harness.RepoRoot(), "pkg", "acl", "testdata", "original", "users.json"):        "config/users.json",
		filepath.Join(harness.RepoRoot(), "pkg", "acl", "testdata", "original", "repositories.json"): "config/repositories.json",
		harness.Testdata("demo", "certs", "RootCA.crt"):                                              "certs/RootCA.crt",
		harness.Testdata("demo", "certs", "RootCA.key"):                                              "certs/RootCA.key",
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(old, dst)), 0o755)
		harness.CopyFile(t, src, filepath.Join(old, dst))
	}

	page := filepath.Join(harness.RepoRoot(), "docs", "migrating.md")
	blocks := codeBlocks(t, page, "sh", "nginx")
	if got := blockLanguages(blocks); got != "sh sh sh sh nginx sh" {
		t.Fatalf("the guide's blocks are %q; update the test with the guide", got)
	}
	for _, b := range blocks[:4] { // install, keep the files, write regtoken.toml, check and start
		sh.run(clone, b)
	}
	sock := filepath.Join(root, "run", "regtoken", "regtoken.sock")
	waitUnixSocket(t, sock)

	upstream := filepath.Join(root, "upstream")
	os.MkdirAll(upstream, 0o755)
	harness.StartRegistry(t, root, harness.RegistryOptions{Version: harness.Registry28, Realm: "http://" + host + "/v2/token",
		Service: "Authentication", Issuer: "example issuer", RootCert: filepath.Join(old, "certs", "RootCA.crt"),
		Socket: filepath.Join(upstream, "docker-registry.sock")})
	startGuideNginx(t, root, upstream, port, sh.replace.Replace(blocks[4].text))

	// The registry holds the users' images already, as the old one did.
	s := &harness.Stack{Host: host, Dir: root}
	craneLogin(t, s, "bar", "bar")
	if out, ok := cranePush(t, s, "some-image:latest"); !ok {
		t.Fatalf("push before the checks: %s", out)
	}
	craneLogout(t, s)

	out := sh.run(root, blocks[5])
	if !strings.Contains(out, `{"token":"`) || !strings.Contains(out, "\nlatest\n") {
		t.Errorf("the guide's checks printed no token or no tag:\n%s", out)
	}
}

func blockLanguages(blocks []codeBlock) string {
	var l []string
	for _, b := range blocks {
		l = append(l, b.language)
	}
	return strings.Join(l, " ")
}

func waitUnixSocket(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Type() == os.ModeSocket {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no socket at %s within 20 s", path)
		}
	}
}

// startGuideNginx runs the original service's site (deploy/nginx/uwsgi.conf)
// with its token location replaced by the guide's and its docker-auth
// upstream deleted, as the guide says, on a plain-HTTP loopback port.
func startGuideNginx(t *testing.T, root, upstream string, port int, location string) {
	t.Helper()
	prefix := harness.NginxPrefix(t, root)
	tlsKey, tlsCert := harness.KeyPair(t, prefix)
	site := harness.Render(t, harness.DeployFile("nginx", "uwsgi.conf"),
		originalTokenLocation, strings.TrimSpace(strings.ReplaceAll(location, "\n", "\n    ")),
		"upstream docker-auth {\n    server unix:/run/regtoken/uwsgi.sock;\n}\n", "",
		"/etc/ssl/registry/fullchain.pem", tlsCert,
		"/etc/ssl/registry/privkey.pem", tlsKey,
		"listen 443 ssl http2;", fmt.Sprintf("listen 127.0.0.1:%d;", port),
		"listen [::]:443 ssl http2;", "",
		"/var/www/upstream-sockets/", upstream+"/")
	harness.StartNginxConf(t, prefix, harness.NginxConf(prefix, 1, site), fmt.Sprintf("127.0.0.1:%d", port))
}
