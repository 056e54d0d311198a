//go:build e2e

package e2e

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// originalTokenLocation is the token location of the original service's
// README. deploy/nginx/uwsgi.conf must contain it unchanged: that is the
// promise to anyone migrating from the uWSGI service.
const originalTokenLocation = `location /v2/token {
        uwsgi_pass docker-auth;
        include uwsgi_params;
    }`

// TestShippedNginxConfigs runs nginx -t on every shipped nginx file, TLS
// lines included, with host paths moved into a test directory, and checks
// each routes the token endpoint as its comments promise.
func TestShippedNginxConfigs(t *testing.T) {
	t.Parallel()
	dir := harness.ShortDir(t)
	prefix := harness.NginxPrefix(t, dir)
	tlsKey, tlsCert := harness.KeyPair(t, prefix)
	sites, _ := filepath.Glob(harness.DeployFile("nginx", "*.conf"))
	if len(sites) != 4 {
		t.Fatalf("want the four sites scgi, uwsgi, fastcgi, http in deploy/nginx, found %v", sites)
	}
	for _, path := range sites {
		proto := strings.TrimSuffix(filepath.Base(path), ".conf")
		site := harness.Render(t, path,
			"/etc/ssl/registry/fullchain.pem", tlsCert,
			"/etc/ssl/registry/privkey.pem", tlsKey,
			"listen 443 ssl http2;", fmt.Sprintf("listen 127.0.0.1:%d ssl http2;", harness.FreePort(t)),
			"/var/www/upstream-sockets/", dir+"/",
			"/run/regtoken/", dir+"/")
		nginxAccepts(t, prefix, proto, harness.NginxConf(prefix, 1, site))

		unit := harness.SocketUnitFor(t, proto)
		text := readText(t, path)
		if !strings.Contains(text, "unix:"+unit.Path+";") {
			t.Errorf("%s does not connect to %s, the socket of %s", path, unit.Path, unit.Unit)
		}
		exact := strings.Contains(text, "location = /v2/token {")
		switch {
		case proto == "uwsgi" && !strings.Contains(text, originalTokenLocation):
			t.Errorf("%s lost the original README's location block:\n%s", path, originalTokenLocation)
		case proto != "uwsgi" && !exact:
			t.Errorf("%s: the token location must be exact (location = /v2/token) so /v2/<name> stays with the registry", path)
		}
	}

	compose := harness.Render(t, harness.DeployFile("docker", "nginx.conf"),
		"/etc/nginx/tls/fullchain.pem", tlsCert,
		"/etc/nginx/tls/privkey.pem", tlsKey,
		"pid /var/run/nginx.pid;", "pid "+prefix+"/nginx.pid;",
		"/var/log/nginx/", prefix+"/logs/",
		"listen 443 ssl http2;", fmt.Sprintf("listen 127.0.0.1:%d ssl http2;", harness.FreePort(t)),
		"/var/www/upstream-sockets/", dir+"/",
		"/run/regtoken/", dir+"/",
		"http {\n", "http {\n"+harness.NginxTempPaths(prefix))
	nginxAccepts(t, prefix, "docker", compose)
}

// nginxAccepts fails unless nginx -t accepts conf without a warning.
func nginxAccepts(t *testing.T, prefix, name, conf string) {
	t.Helper()
	path := filepath.Join(prefix, name+".nginx.conf")
	harness.WriteFile(t, path, conf, 0o644)
	out, err := harness.NginxTest(t, prefix, path)
	if err != nil || strings.Contains(out, "[warn]") || strings.Contains(out, "[emerg]") {
		t.Errorf("nginx -t on the shipped %s configuration: %v\n%s\n--- as tested:\n%s", name, err, out, conf)
	}
}

// TestShippedSystemdUnits runs systemd-analyze verify on the shipped units
// (ExecStart= pointed at a freshly built regtoken) and demands silence: an
// unknown or misspelt key is only a warning to systemd, so the exit status
// alone would miss it.
func TestShippedSystemdUnits(t *testing.T) {
	t.Parallel()
	analyze := harness.Tool(t, "systemd-analyze")
	dir := t.TempDir()
	units, _ := filepath.Glob(harness.DeployFile("systemd", "*.socket"))
	units = append(units, harness.DeployFile("systemd", "regtoken.service"))
	var names []string
	for _, path := range units {
		name := filepath.Base(path)
		text := readText(t, path)
		if name == "regtoken.service" {
			text = harness.Replace(t, path, text, "ExecStart=/usr/local/bin/regtoken ", "ExecStart="+harness.Binary(t)+" ")
		}
		harness.WriteFile(t, filepath.Join(dir, name), text, 0o644)
		names = append(names, "./"+name)
	}
	if len(names) != 5 {
		t.Fatalf("want regtoken.service and four socket units, found %v", names)
	}
	cmd := exec.Command(analyze, append([]string{"verify", "--man=no"}, names...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	// The static user regtoken.service's comments tell the operator to add.
	sysusers := exec.Command(harness.Tool(t, "systemd-sysusers"), "--dry-run", "--root="+dir, harness.DeployFile("systemd", "regtoken.sysusers"))
	if out, err := sysusers.CombinedOutput(); err != nil || !strings.Contains(string(out), "Creating user 'regtoken'") {
		t.Errorf("systemd-sysusers --dry-run regtoken.sysusers: %v\n%s", err, out)
	}

	service := readText(t, harness.DeployFile("systemd", "regtoken.service"))
	for _, want := range []string{"Type=notify", "DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict",
		"CapabilityBoundingSet=\n", "SystemCallFilter=@system-service", "Requires=regtoken.socket",
		"ExecStart=/usr/local/bin/regtoken serve -config /etc/regtoken/regtoken.toml\n"} {
		if !strings.Contains(service, want) {
			t.Errorf("regtoken.service lacks %q", strings.TrimSpace(want))
		}
	}
	for _, u := range harness.SocketUnits(t) {
		if u.Group != "www-data" || u.Mode != 0o660 {
			t.Errorf("%s: socket group %q mode %04o, want www-data 0660", u.Unit, u.Group, u.Mode)
		}
	}
}

// TestShippedRegtokenConfigs checks that regtoken accepts the shipped
// configuration files and that they agree with the files around them.
func TestShippedRegtokenConfigs(t *testing.T) {
	t.Parallel()
	// systemd: no listeners (every passed socket is served), and the key is
	// where LoadCredential= puts it for this unit.
	path := harness.DeployFile("systemd", "regtoken.toml")
	cfg, err := config.Parse(path, []byte(readText(t, path)))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Listen) != 0 {
		t.Errorf("%s: listeners %v; the sockets come from the socket units", path, cfg.Listen)
	}
	m := regexp.MustCompile(`(?m)^LoadCredential=([^:]+):`).FindStringSubmatch(readText(t, harness.DeployFile("systemd", "regtoken.service")))
	if m == nil {
		t.Fatal("regtoken.service has no LoadCredential=")
	}
	if want := "/run/credentials/regtoken.service/" + m[1]; cfg.Token.Key != want {
		t.Errorf("%s: key %q, but LoadCredential= puts it at %q", path, cfg.Token.Key, want)
	}

	// docker-compose: regtoken's socket is /run/regtoken/regtoken.sock on
	// both sides, as everywhere: regtoken and nginx mount the host's
	// /run/regtoken at the same path.
	path = harness.DeployFile("docker", "config", "regtoken.toml")
	if cfg, err = config.Parse(path, []byte(readText(t, path))); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Listen) != 1 || cfg.Listen[0].Protocol != "scgi" || cfg.Listen[0].Address != "unix:/run/regtoken/regtoken.sock" {
		t.Fatalf("%s: listeners %+v, want scgi on unix:/run/regtoken/regtoken.sock", path, cfg.Listen)
	}
	compose := readText(t, harness.DeployFile("docker", "docker-compose.yml"))
	nginx := readText(t, harness.DeployFile("docker", "nginx.conf"))
	if n := strings.Count(compose, "- /run/regtoken:/run/regtoken "); n != 2 {
		t.Errorf("docker-compose.yml mounts /run/regtoken:/run/regtoken %d times, want twice (regtoken and nginx)", n)
	}
	if want := "scgi_pass unix:/run/regtoken/regtoken.sock;"; !strings.Contains(nginx, want) {
		t.Errorf("deploy/docker/nginx.conf lacks %q", want)
	}
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDockerImage builds an image whose final stage is the shipped
// Dockerfile's (FROM scratch, the static binary, USER, ENTRYPOINT) from a
// binary built here (the engine cannot pull golang:1.26), runs it with the
// regtoken service's settings and mounts as docker-compose config reports
// them, puts the registry and nginx around it as the compose file does
// (both on this host: their images cannot be pulled either), and pushes and
// pulls through nginx. Without a Docker engine it logs that it did not run.
func TestDockerImage(t *testing.T) {
	t.Parallel()
	docker, whyNot := harness.DockerEngine(t)
	if whyNot != "" {
		t.Logf("NOT RUN: %s; the image and compose set-up were not tested", whyNot)
		return
	}
	services := composeServices(t)
	image := buildImage(t, docker)
	dir := harness.ShortDir(t)
	wwwUID, wwwGID := harness.WWWData(t)

	// The directories the compose file's comments tell the operator to make.
	composeDir := harness.DeployFile("docker")
	hostDirs := map[string]string{
		"/var/www/upstream-sockets":                filepath.Join(dir, "upstream-sockets"),
		"/run/regtoken":                            filepath.Join(dir, "run-regtoken"),
		filepath.Join(composeDir, "config"):        filepath.Join(dir, "config"),
		filepath.Join(composeDir, "certs"):         filepath.Join(dir, "certs"),
		filepath.Join(composeDir, "registry-data"): filepath.Join(dir, "registry-data"),
	}
	for _, d := range hostDirs {
		os.MkdirAll(d, 0o755)
	}
	for _, d := range []string{"upstream-sockets", "run-regtoken", "registry-data"} {
		os.Chown(filepath.Join(dir, d), wwwUID, wwwGID)
	}
	harness.CopyFile(t, filepath.Join(composeDir, "config", "regtoken.toml"), filepath.Join(dir, "config", "regtoken.toml"))
	for _, name := range []string{"users.json", "repositories.json"} {
		harness.CopyFile(t, harness.Testdata("demo", name), filepath.Join(dir, "config", name))
	}
	// The key made by the image itself, as the compose file's comments say.
	dockerRun(t, docker, "run", "--rm", "--user", "0", "--network", "none", "--entrypoint", "/regtoken",
		"-v", filepath.Join(dir, "certs")+":/certs", image, "keygen", "-dir", "/certs")
	for _, name := range []string{"RootCA.key", "RootCA.crt"} {
		os.Chown(filepath.Join(dir, "certs", name), wwwUID, wwwGID)
	}

	args, grace := composeRunArgs(t, services["regtoken"], hostDirs)
	name := "regtoken-e2e-" + filepath.Base(dir)
	dockerRun(t, docker, append(append([]string{"run", "-d", "--name", name}, args...), image)...)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command(docker, "logs", name).CombinedOutput()
			t.Logf("--- container log:\n%s", out)
		}
		exec.Command(docker, "rm", "-f", name).Run()
	})
	harness.WaitSocketFile(t, nil, filepath.Join(hostDirs["/run/regtoken"], "regtoken.sock"))

	port := harness.FreePort(t)
	s := &harness.Stack{Host: fmt.Sprintf("localhost:%d", port), Dir: dir}
	startComposeRegistry(t, services["registry"], hostDirs, "http://"+s.Host+"/v2/token")
	startComposeNginx(t, dir, hostDirs, port)

	req := newRequest(t, "GET", "http://"+s.Host+"/v2/token?service=Authentication&scope=repository:some-image:pull,push", nil)
	req.SetBasicAuth("bar", "bar")
	if a := fetch(t, req); a.status != 200 || jwtClaims(t, a.body).Subject != "bar" {
		t.Fatalf("token from the container through nginx: %d %s", a.status, a.body)
	}
	craneLogin(t, s, "bar", "bar")
	if out, ok := cranePush(t, s, "some-image:latest"); !ok {
		t.Fatalf("bar push through the container: %s", out)
	}
	craneLogout(t, s)
	if out, ok := crane(t, s, "pull", s.Host+"/some-image:latest", filepath.Join(dir, "anon.tar")); !ok {
		t.Fatalf("anonymous pull: %s", out)
	}

	dockerRun(t, docker, "stop", "-t", grace, name)
	if code := strings.TrimSpace(dockerRun(t, docker, "inspect", "-f", "{{.State.ExitCode}}", name)); code != "0" {
		t.Errorf("container exit code %s after docker stop, want 0", code)
	}
	if logs, _ := exec.Command(docker, "logs", name).CombinedOutput(); !strings.Contains(string(logs), `"msg":"stopped"`) {
		t.Errorf("the container's log does not end with a clean stop:\n%s", logs)
	}
}

func dockerRun(t *testing.T, docker string, args ...string) string {
	t.Helper()
	out, err := exec.Command(docker, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// buildImage builds the shipped Dockerfile's final stage around a static
// binary built here with the build stage's settings, and checks the image
// says what the Dockerfile says.
func buildImage(t *testing.T, docker string) string {
	t.Helper()
	path := harness.DeployFile("docker", "Dockerfile")
	text := readText(t, path)
	if !strings.Contains(text, "CGO_ENABLED=0 go build") || !strings.Contains(text, "FROM golang:1.26 AS build") {
		t.Fatalf("%s: the build stage no longer builds with CGO_ENABLED=0 from golang:1.26; update the test", path)
	}
	final := text[strings.LastIndex(text, "\nFROM ")+1:]
	final = harness.Replace(t, path, final, "COPY --from=build /out/regtoken /regtoken", "COPY regtoken /regtoken")
	for _, want := range []string{"FROM scratch\n", "USER 65532:65532\n", `ENTRYPOINT ["/regtoken", "serve", "-config", "/etc/regtoken/regtoken.toml"]`} {
		if !strings.Contains(final, want) {
			t.Fatalf("the Dockerfile's final stage lacks %q:\n%s", want, final)
		}
	}

	ctx := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(ctx, "regtoken"), "./cmd/regtoken")
	build.Dir = harness.RepoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	requireStatic(t, filepath.Join(ctx, "regtoken"))
	harness.WriteFile(t, filepath.Join(ctx, "Dockerfile"), final, 0o644)

	image := fmt.Sprintf("regtoken-e2e:%d", time.Now().UnixNano())
	dockerRun(t, docker, "build", "-q", "-t", image, ctx)
	t.Cleanup(func() { exec.Command(docker, "rmi", "-f", image).Run() })
	got := dockerRun(t, docker, "image", "inspect", "-f", "{{.Config.User}} {{json .Config.Entrypoint}} {{len .RootFS.Layers}}", image)
	if want := `65532:65532 ["/regtoken","serve","-config","/etc/regtoken/regtoken.toml"] 1`; strings.TrimSpace(got) != want {
		t.Errorf("image config %q, want %q", strings.TrimSpace(got), want)
	}
	return image
}

// requireStatic fails unless the binary at path runs on an empty image: no
// program interpreter and no shared libraries.
func requireStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("%s is dynamically linked (has PT_INTERP); FROM scratch needs a static binary", path)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("%s needs shared libraries %v", path, libs)
	}
}

// composeService is one service of `docker-compose config` output.
type composeService struct {
	scalars map[string]string
	lists   map[string][]string
	maps    map[string]map[string]string
}

// composeServices runs `docker-compose config` on the shipped compose file,
// which validates it, and reads the services from its normalized output
// (block YAML: services at indent 2, keys at 4, list items "- x" at 4,
// nested maps at 6).
func composeServices(t *testing.T) map[string]*composeService {
	t.Helper()
	bin := harness.Tool(t, "docker-compose")
	out, err := exec.Command(bin, "-f", harness.DeployFile("docker", "docker-compose.yml"), "config").CombinedOutput()
	if err != nil {
		t.Fatalf("docker-compose config rejected deploy/docker/docker-compose.yml: %v\n%s", err, out)
	}
	services := map[string]*composeService{}
	var svc *composeService
	var key string
	inServices := false
	for _, line := range strings.Split(string(out), "\n") {
		trimmed := strings.TrimSpace(line)
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case trimmed == "":
		case indent == 0:
			inServices = trimmed == "services:"
		case !inServices:
		case indent == 2:
			svc = &composeService{scalars: map[string]string{}, lists: map[string][]string{}, maps: map[string]map[string]string{}}
			services[strings.TrimSuffix(trimmed, ":")] = svc
		case indent == 4 && strings.HasPrefix(trimmed, "- "):
			svc.lists[key] = append(svc.lists[key], unquote(strings.TrimPrefix(trimmed, "- ")))
		case indent == 4:
			k, v, _ := strings.Cut(trimmed, ":")
			key = k
			if v = strings.TrimSpace(v); v != "" {
				svc.scalars[k] = unquote(v)
			}
		case indent == 6:
			k, v, _ := strings.Cut(trimmed, ":")
			if svc.maps[key] == nil {
				svc.maps[key] = map[string]string{}
			}
			svc.maps[key][k] = unquote(strings.TrimSpace(v))
		}
	}
	for _, name := range []string{"registry", "regtoken", "nginx"} {
		if services[name] == nil {
			t.Fatalf("docker-compose.yml has no %s service:\n%s", name, out)
		}
	}
	return services
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// composeRunArgs turns the regtoken service's settings into docker run
// flags, with its host directories moved to the test's. A setting the test
// does not know how to apply fails it, so the container never runs with
// less than the compose file asks for. It also returns stop_grace_period in
// seconds, for docker stop -t.
func composeRunArgs(t *testing.T, svc *composeService, hostDirs map[string]string) ([]string, string) {
	t.Helper()
	var args []string
	grace := "10"
	for k, v := range svc.scalars {
		switch k {
		case "image", "restart": // the test's image; restarting is the engine's business
		case "user":
			args = append(args, "--user", v)
		case "read_only":
			if v == "true" {
				args = append(args, "--read-only")
			}
		case "network_mode":
			args = append(args, "--network", v)
		case "stop_grace_period":
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("stop_grace_period %q: %v", v, err)
			}
			grace = strconv.Itoa(int(d.Seconds()))
		default:
			t.Fatalf("the test does not apply the regtoken service's %s: %s", k, v)
		}
	}
	for k, items := range svc.lists {
		for _, v := range items {
			switch k {
			case "cap_drop":
				args = append(args, "--cap-drop", v)
			case "security_opt":
				args = append(args, "--security-opt", v)
			case "volumes":
				args = append(args, "-v", hostVolume(t, v, hostDirs))
			default:
				t.Fatalf("the test does not apply the regtoken service's %s: %s", k, v)
			}
		}
	}
	for k := range svc.maps {
		if k != "build" {
			t.Fatalf("the test does not apply the regtoken service's %s", k)
		}
	}
	return args, grace
}

// hostVolume rewrites a compose volume HOST:CONTAINER[:MODE] with the
// test's directory for HOST.
func hostVolume(t *testing.T, volume string, hostDirs map[string]string) string {
	t.Helper()
	host, rest, _ := strings.Cut(volume, ":")
	for from, to := range hostDirs {
		if host == from || strings.HasPrefix(host, from+"/") {
			return to + strings.TrimPrefix(host, from) + ":" + rest
		}
	}
	t.Fatalf("volume %q: no test directory for %s", volume, host)
	return ""
}

// containerToHost maps a path inside a service's container to the test's
// host path through the service's volumes.
func containerToHost(t *testing.T, svc *composeService, path string, hostDirs map[string]string) string {
	t.Helper()
	for _, v := range svc.lists["volumes"] {
		parts := strings.Split(hostVolume(t, v, hostDirs), ":")
		if path == parts[1] || strings.HasPrefix(path, parts[1]+"/") {
			return parts[0] + strings.TrimPrefix(path, parts[1])
		}
	}
	return path
}

// startComposeRegistry runs distribution 2.8 (what registry:2 is) on this
// host the way the compose file runs the registry image: the image's
// default configuration, the service's environment with its container
// paths moved to the test's directories, and its user.
func startComposeRegistry(t *testing.T, svc *composeService, hostDirs map[string]string, realm string) {
	t.Helper()
	if svc.scalars["image"] != "registry:2" {
		t.Fatalf("the compose registry is %q; the test runs distribution 2.8 for registry:2", svc.scalars["image"])
	}
	dir := filepath.Join(filepath.Dir(hostDirs["/var/www/upstream-sockets"]), "registry")
	os.MkdirAll(dir, 0o755) // the registry runs as the compose file's user
	cfg := filepath.Join(dir, "config.yml")
	harness.WriteFile(t, cfg, registryImageConfig, 0o644)
	env := append(os.Environ(), "OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true")
	for k, v := range svc.maps["environment"] {
		if k == "REGISTRY_AUTH_TOKEN_REALM" {
			v = realm // the test serves plain HTTP on a loopback port
		}
		env = append(env, k+"="+containerToHost(t, svc, v, hostDirs))
	}
	cmd := exec.Command(harness.Tool(t, "docker-registry"), "serve", cfg)
	cmd.Env = env
	uid, gid := parseUser(t, svc.scalars["user"])
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	cmd.Dir = dir
	p := harness.Start(t, "registry", cmd)
	p.WaitDial(t, "unix", containerToHost(t, svc, svc.maps["environment"]["REGISTRY_HTTP_ADDR"], hostDirs), 20*time.Second)
}

// registryImageConfig is /etc/docker/registry/config.yml of the registry:2
// image; the compose file's environment overrides it.
const registryImageConfig = `version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
`

func parseUser(t *testing.T, s string) (uint32, uint32) {
	t.Helper()
	u, g, _ := strings.Cut(s, ":")
	uid, err1 := strconv.ParseUint(u, 10, 32)
	gid, err2 := strconv.ParseUint(g, 10, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("user %q is not UID:GID", s)
	}
	return uint32(uid), uint32(gid)
}

// startComposeNginx runs deploy/docker/nginx.conf on this host with the
// socket directories, TLS files, logs and listen address moved into the test.
func startComposeNginx(t *testing.T, dir string, hostDirs map[string]string, port int) {
	t.Helper()
	startShippedNginx(t, dir, harness.DeployFile("docker", "nginx.conf"), port,
		"/var/www/upstream-sockets/", hostDirs["/var/www/upstream-sockets"]+"/",
		"/run/regtoken/", hostDirs["/run/regtoken"]+"/")
}

// startShippedNginx runs a shipped nginx.conf of a compose set-up on this
// host: TLS files, pid file and logs moved into the test, plain HTTP on
// port instead of TLS on 443, and the other old, new pairs replaced too.
func startShippedNginx(t *testing.T, dir, path string, port int, pairs ...string) {
	t.Helper()
	prefix := harness.NginxPrefix(t, dir)
	tlsKey, tlsCert := harness.KeyPair(t, prefix)
	conf := harness.Render(t, path, append([]string{
		"/etc/nginx/tls/fullchain.pem", tlsCert,
		"/etc/nginx/tls/privkey.pem", tlsKey,
		"pid /var/run/nginx.pid;", "pid " + prefix + "/nginx.pid;",
		"/var/log/nginx/", prefix + "/logs/",
		"listen 443 ssl http2;", fmt.Sprintf("listen 127.0.0.1:%d;", port),
		"listen [::]:443 ssl http2;", "",
		"http {\n", "http {\n" + harness.NginxTempPaths(prefix)}, pairs...)...)
	harness.StartNginxConf(t, prefix, conf, fmt.Sprintf("127.0.0.1:%d", port))
}
