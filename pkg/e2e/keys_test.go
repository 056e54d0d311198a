//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
	"github.com/regtoken/regtoken/pkg/token"
)

// Signing-key rotation against real registries, with clients pulling and
// pushing all along (docs/keys.md).

// keySite is regtoken, nginx and one or more registry replicas sharing one
// storage, behind an nginx upstream, so that a registry can be restarted
// (to load a new rootcertbundle or jwks) one replica at a time.
type keySite struct {
	*harness.Stack
	version  string
	ops      string // the operator socket
	replicas []*replica
}

type replica struct {
	opts harness.RegistryOptions
	proc *harness.Process
}

// keySiteOptions say how the registries trust regtoken.
type keySiteOptions struct {
	version  string
	replicas int
	// uploadRate, when set, slows what clients send to the registries to
	// this many bytes a second (a slow link), for long pushes.
	uploadRate int
	// tokenTable is the [token] table after issuer and services (key,
	// certificate, next, ...), with paths relative to the site's dir.
	tokenTable string
	// rootCert and jwks are the registries' trust files, relative to dir.
	rootCert, jwks string
}

// regtokenCmd runs the regtoken binary built from this tree.
func regtokenCmd(t *testing.T, dir string, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(harness.Binary(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func mustRegtoken(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, ok := regtokenCmd(t, dir, args...)
	if !ok {
		t.Fatalf("regtoken %s: %s", strings.Join(args, " "), out)
	}
	return out
}

// writeKeyConfig writes regtoken.toml with tokenTable as its key settings.
func (s *keySite) writeConfig(t *testing.T, tokenTable string) {
	t.Helper()
	harness.WriteFile(t, s.ConfigPath, fmt.Sprintf(`[token]
issuer = %q
services = [%q]
%s

[acl]
users = %q
repositories = %q

[[listen]]
protocol = "scgi"
address = "unix:%s"
mode = "0666"

[operator]
listen = "unix:%s"
`, s.Issuer, s.Service, tokenTable, harness.Testdata("demo", "users.json"), harness.Testdata("demo", "repositories.json"), s.Socket, s.ops), 0o644)
}

// startKeySite makes the keys the caller's setup step asks for (setup runs
// in dir before anything starts), then starts regtoken, the registries and
// nginx.
func startKeySite(t *testing.T, o keySiteOptions, setup func(dir string)) *keySite {
	t.Helper()
	dir := harness.ShortDir(t)
	port := harness.FreePort(t)
	s := &keySite{Stack: &harness.Stack{Host: fmt.Sprintf("localhost:%d", port), Service: "Authentication", Issuer: "example issuer",
		Dir: dir, Socket: filepath.Join(dir, "regtoken.sock"), ConfigPath: filepath.Join(dir, "regtoken.toml")},
		version: o.version, ops: filepath.Join(dir, "ops.sock")}
	s.Realm = "http://" + s.Host + "/v2/token"
	setup(dir)
	s.writeConfig(t, o.tokenTable)
	// What an operator does before the registries start: write the bundle
	// and the JWKS they trust (the commands read the files, no serve needed).
	harness.WriteFile(t, filepath.Join(dir, "bundle.pem"), mustRegtoken(t, dir, "bundle", "-config", s.ConfigPath), 0o644)
	harness.WriteFile(t, filepath.Join(dir, "jwks.json"), mustRegtoken(t, dir, "jwks", "-config", s.ConfigPath), 0o644)
	s.Regtoken = harness.StartRegtoken(t, s.ConfigPath, "unix:"+s.Socket, "unix:"+s.ops)
	var upstream strings.Builder
	for i := range max(1, o.replicas) {
		r := &replica{opts: harness.RegistryOptions{Version: o.version, Realm: s.Realm, Service: s.Service, Issuer: s.Issuer,
			Addr: fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t)), Storage: filepath.Join(dir, "storage"),
			ConfigPath: filepath.Join(dir, fmt.Sprintf("registry-%d.yml", i)), DrainTimeout: 5 * time.Second}}
		if o.rootCert != "" {
			r.opts.RootCert = filepath.Join(dir, o.rootCert)
		}
		if o.jwks != "" {
			r.opts.JWKS = filepath.Join(dir, o.jwks)
		}
		if o.version == harness.RegistryZot {
			r.opts.ConfigPath = ""
		}
		r.proc, _ = harness.StartRegistry(t, dir, r.opts)
		s.replicas = append(s.replicas, r)
		addr := r.opts.Addr
		if o.uploadRate > 0 {
			addr = slowUploads(t, addr, o.uploadRate)
		}
		fmt.Fprintf(&upstream, "server %s max_fails=1 fail_timeout=2s;\n", addr)
	}
	server := `client_max_body_size 0;
        location /v2/ {
            proxy_pass http://registries;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_next_upstream error timeout http_502;
            proxy_read_timeout 900;
        }
        location = /v2/token {
            include /etc/nginx/scgi_params;
            scgi_pass unix:` + s.Socket + `;
        }`
	http := "upstream registries {\n" + upstream.String() + "}"
	if o.uploadRate > 0 { // when each request of a long push started and ended
		http += "\nlog_format timed '$msec $request_time $status $request';"
		server += "\n        access_log " + filepath.Join(dir, "access.log") + " timed;"
	}
	s.Nginx = harness.StartNginx(t, dir, port, http, server)
	return s
}

// restartRegistries restarts the replicas one at a time, as an operator
// does to make them load a new rootcertbundle or jwks: the others serve
// meanwhile, and each finishes its requests in flight (draintimeout).
func (s *keySite) restartRegistries(t *testing.T) {
	t.Helper()
	for _, r := range s.replicas {
		r.proc.Stop(10 * time.Second)
		r.proc, _ = harness.StartRegistry(t, s.Dir, r.opts)
		time.Sleep(500 * time.Millisecond) // nginx's fail_timeout lets it back in
	}
}

// operator fetches a path of regtoken's operator listener.
func (s *keySite) operator(t *testing.T, path string) []byte {
	t.Helper()
	resp, err := harness.UnixHTTPClient(s.ops).Get("http://regtoken" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

// publish waits until regtoken's live JWKS lists want keys (the reload
// picked up the configuration), then writes the bundle and the JWKS it
// serves to dir/bundle.pem and dir/jwks.json, where the registries read
// them.
func (s *keySite) publish(t *testing.T, want int) {
	t.Helper()
	var set token.JWKS
	deadline := time.Now().Add(15 * time.Second)
	for {
		jwks := s.operator(t, "/jwks.json")
		if err := json.Unmarshal(jwks, &set); err != nil {
			t.Fatal(err)
		}
		if len(set.Keys) == want {
			harness.WriteFile(t, filepath.Join(s.Dir, "jwks.json"), string(jwks), 0o644)
			harness.WriteFile(t, filepath.Join(s.Dir, "bundle.pem"), string(s.operator(t, "/bundle.pem")), 0o644)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("regtoken publishes %d keys, want %d", len(set.Keys), want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tokenHeader asks regtoken (through nginx) for a pull token as bar and
// returns its JOSE header.
func (s *keySite) tokenHeader(t *testing.T) (kid string, x5c []string) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.Realm+"?service="+s.Service+"&scope=repository:some-image:pull", nil)
	req.SetBasicAuth("bar", "bar")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Token == "" {
		t.Fatalf("token answer %d: %v", resp.StatusCode, err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(body.Token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string   `json:"kid"`
		X5c []string `json:"x5c"`
	}
	json.Unmarshal(raw, &h)
	return h.Kid, h.X5c
}

// waitSigner waits until regtoken's tokens carry kid.
func (s *keySite) waitSigner(t *testing.T, kid string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, x5c := s.tokenHeader(t)
		if got == kid || (len(x5c) > 0 && x5cKid(t, x5c[0]) == kid) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tokens still carry kid %q, want %q", got, kid)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func x5cKid(t *testing.T, der64 string) string {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(der64)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := token.ParseCertificates(pemOf(der))
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := token.RFC7638Thumbprint(certs[0].PublicKey)
	return kid
}

func pemOf(der []byte) []byte {
	return []byte("-----BEGIN CERTIFICATE-----\n" + base64.StdEncoding.EncodeToString(der) + "\n-----END CERTIFICATE-----\n")
}

// keyKid is the RFC 7638 kid of the key in file (a key or a certificate).
func keyKid(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := token.ParsePublishedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := token.RFC7638Thumbprint(p.Public)
	return kid
}

// clientLoad runs crane pulls (and a push loop) against the site until
// stopped, counting what succeeded and what failed.
type clientLoad struct {
	pulls, pushes, failed atomic.Int64
	mu                    sync.Mutex
	failures              []string
	stop                  chan struct{}
	wg                    sync.WaitGroup
}

func startClientLoad(t *testing.T, s *keySite, pullers int, push bool) *clientLoad {
	t.Helper()
	l := &clientLoad{stop: make(chan struct{})}
	loop := func(count *atomic.Int64, op func(i int) (string, bool)) {
		defer l.wg.Done()
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			default:
			}
			out, ok := op(i)
			if !ok {
				l.failed.Add(1)
				l.mu.Lock()
				l.failures = append(l.failures, fmt.Sprintf("%s: %s", time.Now().Format("15:04:05.000"), lastLine(out)))
				l.mu.Unlock()
				continue
			}
			count.Add(1)
		}
	}
	for range pullers {
		l.wg.Add(1)
		go loop(&l.pulls, func(int) (string, bool) { return crane(t, s.Stack, "pull", s.Host+"/some-image:latest", os.DevNull) })
	}
	if push {
		l.wg.Add(1)
		go loop(&l.pushes, func(i int) (string, bool) { return cranePush(t, s.Stack, fmt.Sprintf("pushed/loop:%d", i%5)) })
	}
	return l
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// finish stops the load and returns what it counted.
func (l *clientLoad) finish() string {
	close(l.stop)
	l.wg.Wait()
	return fmt.Sprintf("%d pulls, %d pushes, %d failed", l.pulls.Load(), l.pushes.Load(), l.failed.Load())
}

func (l *clientLoad) check(t *testing.T, what string, maxFailed int64) {
	t.Helper()
	counts := l.finish()
	t.Logf("%s: %s", what, counts)
	if l.failed.Load() > maxFailed {
		t.Errorf("%s: %s; failures:\n%s", what, counts, strings.Join(l.failures, "\n"))
	}
	if l.pulls.Load() == 0 {
		t.Errorf("%s: no pull succeeded", what)
	}
}

// seed pushes the image the pull loops pull.
func seed(t *testing.T, s *keySite) {
	t.Helper()
	craneLogin(t, s.Stack, "bar", "bar")
	if out, ok := cranePush(t, s.Stack, "some-image:latest"); !ok {
		t.Fatalf("seeding some-image: %s", out)
	}
}

// TestKeyRotationUnderLoad walks the whole rotation with clients pulling
// and pushing all along: publish a next key, restart the registries one
// replica at a time so they load it, promote it by a live reload, retire
// the previous key and restart them again. Not one client operation may
// fail. The registries trust regtoken's bundle (2.8, 3.1) or, on 3.1, its
// JWKS alone, with tokens that carry a kid and no x5c.
func TestKeyRotationUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		name, version string
		jwks          bool
	}{
		{"2.8 bundle", harness.Registry28, false},
		{"3.1 bundle", harness.Registry3, false},
		{"3.1 jwks only", harness.Registry3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			current := "key = \"cur.key\"\ncertificate = \"cur.crt\"\n"
			next := "[token.next]\nkey = \"next.key\"\ncertificate = \"next.crt\"\n"
			o := keySiteOptions{version: tc.version, replicas: 2, rootCert: "bundle.pem", tokenTable: current}
			if tc.jwks {
				current = "key = \"cur.key\"\nkid = \"rfc7638\"\n"
				next = "[token.next]\nkey = \"next.key\"\n"
				o = keySiteOptions{version: tc.version, replicas: 2, jwks: "jwks.json", tokenTable: current}
			}
			s := startKeySite(t, o, func(dir string) { mustRegtoken(t, dir, "keygen", "-dir", dir, "-name", "cur") })
			seed(t, s)
			if kid, x5c := s.tokenHeader(t); tc.jwks && (len(x5c) > 0 || kid != keyKid(t, filepath.Join(s.Dir, "cur.key"))) {
				t.Fatalf("JWKS-only tokens: kid %q and %d x5c certificates, want the RFC 7638 kid and none", kid, len(x5c))
			}
			load := startClientLoad(t, s, 2, true)
			time.Sleep(3 * time.Second)

			// 1. Publish the next key; the registries load it one at a time.
			mustRegtoken(t, s.Dir, "keygen", "-dir", s.Dir, "-name", "next")
			s.writeConfig(t, current+next)
			// check -registry reads the registry's files: they do not trust
			// the next key before publish writes them, and do after.
			registryFile := s.replicas[0].opts.ConfigPath
			if out, _ := regtokenCmd(t, s.Dir, "check", "-config", s.ConfigPath, "-registry", registryFile); !strings.Contains(out, "next key: distribution 3.1 would REFUSE") {
				t.Errorf("check -registry before the registries load the next key:\n%s", out)
			}
			s.publish(t, 2)
			out, _ := regtokenCmd(t, s.Dir, "check", "-config", s.ConfigPath, "-registry", registryFile)
			if !strings.Contains(out, "next key: distribution 3.1 would accept") || !strings.Contains(out, "then run regtoken key promote") {
				t.Errorf("check -registry once the registry's files hold the next key:\n%s", out)
			}
			s.restartRegistries(t)
			time.Sleep(4 * time.Second)

			// 2. Promote by a live reload.
			mustRegtoken(t, s.Dir, "key", "promote", "-config", s.ConfigPath)
			s.waitSigner(t, keyKid(t, filepath.Join(s.Dir, "next.key")))
			time.Sleep(5 * time.Second)

			// 3. Retire the previous key: refused until the longest token
			// has expired, which -force skips here; the registries drop it.
			if out, ok := regtokenCmd(t, s.Dir, "key", "retire", "-config", s.ConfigPath); ok || !strings.Contains(out, "too early") {
				t.Errorf("retire right after the promotion: %s", out)
			}
			mustRegtoken(t, s.Dir, "key", "retire", "-config", s.ConfigPath, "-force")
			s.publish(t, 1)
			s.restartRegistries(t)
			time.Sleep(3 * time.Second)
			load.check(t, "rotation on "+tc.name, 0)
			if out, ok := crane(t, s.Stack, "pull", s.Host+"/some-image:latest", os.DevNull); !ok {
				t.Errorf("pull after the rotation: %s", out)
			}
		})
	}
}

// TestKeyRotationCATrustedOnce: registries that trust a CA once accept
// tokens of two successive keys it issued, without any registry change.
func TestKeyRotationCATrustedOnce(t *testing.T) {
	for _, version := range []string{harness.Registry28, harness.Registry3} {
		t.Run(version, func(t *testing.T) {
			current := "key = \"cur.key\"\ncertificate = \"cur.crt\"\n"
			s := startKeySite(t, keySiteOptions{version: version, rootCert: "ca/CA.crt", tokenTable: current}, func(dir string) {
				mustRegtoken(t, dir, "keygen", "-dir", filepath.Join(dir, "ca"), "-make-ca")
				mustRegtoken(t, dir, "keygen", "-dir", dir, "-name", "cur", "-ca", "ca/CA.crt", "-ca-key", "ca/CA.key")
			})
			seed(t, s)
			registry := s.replicas[0].proc
			load := startClientLoad(t, s, 2, true)
			time.Sleep(2 * time.Second)
			mustRegtoken(t, s.Dir, "keygen", "-dir", s.Dir, "-name", "next", "-ca", "ca/CA.crt", "-ca-key", "ca/CA.key")
			s.writeConfig(t, current+"[token.next]\nkey = \"next.key\"\ncertificate = \"next.crt\"\n")
			s.publish(t, 2)
			mustRegtoken(t, s.Dir, "key", "promote", "-config", s.ConfigPath)
			s.waitSigner(t, keyKid(t, filepath.Join(s.Dir, "next.key")))
			time.Sleep(3 * time.Second)
			mustRegtoken(t, s.Dir, "key", "retire", "-config", s.ConfigPath, "-force")
			s.publish(t, 1)
			time.Sleep(2 * time.Second)
			load.check(t, "CA-trusted rotation on "+version, 0)
			if registry != s.replicas[0].proc || registry.Exited() {
				t.Error("the registry was restarted")
			}
		})
	}
}

// TestKeyRotationZot: zot pins one key, so its rotation is a promotion and
// a restart of zot with the new certificate, right after one another. The
// client operations that fail in between are counted and reported; the
// clients work again at once after it.
func TestKeyRotationZot(t *testing.T) {
	current := "key = \"cur.key\"\ncertificate = \"cur.crt\"\n"
	s := startKeySite(t, keySiteOptions{version: harness.RegistryZot, rootCert: "zot.crt", tokenTable: current}, func(dir string) {
		mustRegtoken(t, dir, "keygen", "-dir", dir, "-name", "cur")
		harness.CopyFile(t, filepath.Join(dir, "cur.crt"), filepath.Join(dir, "zot.crt"))
	})
	seed(t, s)
	load := startClientLoad(t, s, 2, true)
	time.Sleep(2 * time.Second)
	mustRegtoken(t, s.Dir, "keygen", "-dir", s.Dir, "-name", "next")
	s.writeConfig(t, current+"[token.next]\nkey = \"next.key\"\ncertificate = \"next.crt\"\n")
	s.publish(t, 2)
	// The switch: promote, then zot restarts with the new certificate.
	start := time.Now()
	mustRegtoken(t, s.Dir, "key", "promote", "-config", s.ConfigPath)
	harness.CopyFile(t, filepath.Join(s.Dir, "next.crt"), filepath.Join(s.Dir, "zot.crt"))
	s.restartRegistries(t)
	s.waitSigner(t, keyKid(t, filepath.Join(s.Dir, "next.key")))
	window := time.Since(start)
	time.Sleep(3 * time.Second)
	counts := load.finish()
	t.Logf("zot promote + restart: %s; switch took %s; failures:\n%s", counts, window.Round(time.Millisecond), strings.Join(load.failures, "\n"))
	if out, ok := crane(t, s.Stack, "pull", s.Host+"/some-image:latest", os.DevNull); !ok {
		t.Errorf("pull after zot's restart: %s", out)
	}
	if load.pulls.Load() == 0 {
		t.Error("no pull succeeded")
	}
}

// TestLifetimesByAction: a token's exp - iat is the lifetime of the
// longest-lived action granted, and the registry takes the long-lived push
// token.
func TestLifetimesByAction(t *testing.T) {
	table := "key = \"cur.key\"\ncertificate = \"cur.crt\"\nclock_skew = \"0s\"\n[token.lifetime]\ndefault = \"1m\"\npull = \"2m\"\npush = \"10m\"\n"
	s := startKeySite(t, keySiteOptions{version: harness.Registry28, rootCert: "bundle.pem", tokenTable: table}, func(dir string) {
		mustRegtoken(t, dir, "keygen", "-dir", dir, "-name", "cur")
	})
	for _, tc := range []struct {
		scope string
		want  time.Duration
	}{
		{"", time.Minute},
		{"repository:some-image:pull", 2 * time.Minute},
		{"repository:pushed/x:pull,push", 10 * time.Minute},
	} {
		url := s.Realm + "?service=" + s.Service
		if tc.scope != "" {
			url += "&scope=" + tc.scope
		}
		req, _ := http.NewRequest("GET", url, nil)
		req.SetBasicAuth("bar", "bar")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Token     string `json:"token"`
			ExpiresIn int    `json:"expires_in"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		payload, err := base64.RawURLEncoding.DecodeString(strings.Split(body.Token+"..", ".")[1])
		if err != nil {
			t.Fatal(err)
		}
		var c token.ClaimSet
		json.Unmarshal(payload, &c)
		got := time.Duration(c.Expiration-c.IssuedAt) * time.Second
		t.Logf("scope %q: exp - iat = %s, expires_in %d", tc.scope, got, body.ExpiresIn)
		if got != tc.want || time.Duration(body.ExpiresIn)*time.Second > tc.want {
			t.Errorf("scope %q: exp - iat = %s, expires_in %d s; want %s", tc.scope, got, body.ExpiresIn, tc.want)
		}
	}
	seed(t, s)
	if out, ok := cranePush(t, s.Stack, "pushed/x:1"); !ok {
		t.Errorf("push with a 10m token: %s", out)
	}
}

// slowUploads forwards a free loopback port to target, passing what
// clients send at rate bytes a second and the answers at full speed, and
// returns the port's address.
func slowUploads(t *testing.T, target string, rate int) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(c, up)
				buf := make([]byte, max(1, rate/20))
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, werr := up.Write(buf[:n]); werr != nil {
							return
						}
						time.Sleep(time.Duration(n) * time.Second / time.Duration(rate))
					}
					if err != nil {
						up.(*net.TCPConn).CloseWrite()
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

// TestLongPushOutlivesPullLifetime pushes a layer over a slow link, so that
// the push takes longer than a pull token's lifetime plus the registry's
// 60 s of leeway, once with a push lifetime that covers it and once with
// one lifetime for everything, and reports what crane made of each.
func TestLongPushOutlivesPullLifetime(t *testing.T) {
	const size, rate = 11 << 20, 80 << 10 // about 140 s
	for _, tc := range []struct {
		name, lifetime string
		mustPass       bool
	}{
		{"push lifetime 5m", "[token.lifetime]\ndefault = \"1m\"\npush = \"5m\"\n", true},
		{"one lifetime 1m", "lifetime = \"1m\"\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			table := "key = \"cur.key\"\ncertificate = \"cur.crt\"\n" + tc.lifetime
			s := startKeySite(t, keySiteOptions{version: harness.Registry28, rootCert: "bundle.pem", tokenTable: table, uploadRate: rate},
				func(dir string) { mustRegtoken(t, dir, "keygen", "-dir", dir, "-name", "cur") })
			craneLogin(t, s.Stack, "bar", "bar")
			blob := filepath.Join(s.Dir, "big")
			random := make([]byte, size)
			rand.Read(random)
			harness.WriteFile(t, blob, string(random), 0o644)
			tarPath := filepath.Join(s.Dir, "big.tar")
			if out, err := exec.Command("tar", "-C", s.Dir, "-cf", tarPath, "big").CombinedOutput(); err != nil {
				t.Fatalf("tar: %v %s", err, out)
			}
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute) // crane's helper allows 2
			defer cancel()
			cmd := exec.CommandContext(ctx, harness.Tool(t, "crane"), "append", "-f", tarPath, "-t", s.Host+"/pushed/big:1", "--insecure")
			cmd.Env = s.Env()
			output, err := cmd.CombinedOutput()
			out, ok := string(output), err == nil
			took := time.Since(start)
			// From nginx's log: the token requests, and the registry's 401s
			// to a token that expired during the push (the first GET /v2/
			// is the challenge).
			access, _ := os.ReadFile(filepath.Join(s.Dir, "access.log"))
			tokens, expired := 0, 0
			for _, line := range strings.Split(string(access), "\n") {
				switch {
				case strings.Contains(line, "GET /v2/token?"):
					tokens++
				case strings.Contains(line, " 401 ") && !strings.Contains(line, "GET /v2/ "):
					expired++
				}
			}
			t.Logf("%s: crane append of %d MiB took %s: ok=%t, %d token requests, %d requests refused with 401 on the way; %s",
				tc.name, size>>20, took.Round(time.Second), ok, tokens, expired, lastLine(out))
			if tc.mustPass && expired > 0 {
				t.Errorf("with the push lifetime the registry still refused %d requests as expired:\n%s", expired, access)
			}
			if took < 2*time.Minute+5*time.Second {
				t.Errorf("the push took %s, not longer than a 1m token plus 60 s of leeway", took)
			}
			if tc.mustPass && !ok {
				t.Errorf("push with the push lifetime failed: %s", out)
			}
		})
	}
}
