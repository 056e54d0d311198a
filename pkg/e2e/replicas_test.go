//go:build e2e

package e2e

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// Replicas of regtoken behind one nginx upstream, sharing a real
// redis-server or valkey-server ([store]): the claims of docs/replicas.md.

// replicaUsers are the users every replica serves: a password each.
var replicaUsers = map[string]string{"alice": "alice-secret", "bob": "bob-secret", "carol": "carol-secret", "dave": "dave-secret"}

// replicaSet is n regtoken processes with the same key, rules and store,
// each on its own SCGI socket (nginx's upstream) and its own HTTP port
// (for a test to address one replica), with an operator listener each.
type replicaSet struct {
	dir      string
	realm    string   // through nginx, round-robin over the replicas
	fixed    string   // nginx's own fixed answer, the yardstick of load rows
	direct   []string // each replica's token URL, bypassing nginx
	operator []string // each replica's /metrics and /healthz
	configs  []string
	sockets  []string // each replica's SCGI socket
	procs    []*harness.Process
	redis    *harness.Redis
}

// startReplicas starts n replicas sharing redis (nil: no [store], each on
// its own) behind nginx. store is more of the [store] table (policy,
// timeout). The tarpit is off so that refused guesses answer at once.
func startReplicas(t *testing.T, n int, redis *harness.Redis, store string) *replicaSet {
	t.Helper()
	s := startReplicaProcesses(t, n, redis, store)
	var upstream strings.Builder
	for _, sock := range s.sockets {
		fmt.Fprintf(&upstream, "        server unix:%s;\n", sock)
	}
	port := harness.FreePort(t)
	harness.StartNginx(t, s.dir, port, "upstream regtoken {\n"+upstream.String()+"    }", `location = /v2/token {
            include /etc/nginx/scgi_params;
            scgi_pass regtoken;
        }
        location = /fixed {
            default_type application/json;
            return 200 '{"token":"fixed"}';
        }`)
	s.realm = fmt.Sprintf("http://127.0.0.1:%d/v2/token", port)
	s.fixed = fmt.Sprintf("http://127.0.0.1:%d/fixed", port)
	return s
}

// startReplicaProcesses starts the replicas of startReplicas, without nginx.
func startReplicaProcesses(t *testing.T, n int, redis *harness.Redis, store string) *replicaSet {
	t.Helper()
	dir := harness.ShortDir(t)
	s := &replicaSet{dir: dir, redis: redis}
	keyPath, _ := harness.KeyPair(t, dir)
	users := map[string]any{}
	for name, pw := range replicaUsers {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), 10)
		if err != nil {
			t.Fatal(err)
		}
		users[name] = map[string]any{"pass_hash": string(h), "repositories": map[string][]string{"*": {"pull"}}}
	}
	b, _ := json.MarshalIndent(users, "", "  ")
	harness.WriteFile(t, filepath.Join(dir, "users.json"), string(b), 0o644)
	harness.WriteFile(t, filepath.Join(dir, "store.secret"), "k6Qz0pX3vN8sT1wY4eR7uI0oP2aS5dF8gH1jK4lZ7xC=\n", 0o600)
	storeTable := ""
	if redis != nil {
		storeTable = fmt.Sprintf("[store]\nurl = %q\nsecret_file = \"store.secret\"\n%s\n", redis.URL, store)
	}
	for i := range n {
		sock := filepath.Join(dir, fmt.Sprintf("r%d.sock", i))
		port, op := harness.FreePort(t), harness.FreePort(t)
		config := filepath.Join(dir, fmt.Sprintf("regtoken-%d.toml", i))
		harness.WriteFile(t, config, fmt.Sprintf(`[token]
issuer = "replicas"
services = ["registry"]
key = %q

[acl]
users = "users.json"

[throttle]
tarpit_slots = -1

[operator]
listen = "tcp:127.0.0.1:%d"

[[listen]]
protocol = "scgi"
address = "unix:%s"
mode = "0666"

[[listen]]
protocol = "http"
address = "tcp:127.0.0.1:%d"

%s`, keyPath, op, sock, port, storeTable), 0o644)
		s.configs = append(s.configs, config)
		s.procs = append(s.procs, harness.StartBusyRegtoken(t, config, "unix:"+sock, fmt.Sprintf("tcp:127.0.0.1:%d", port)))
		s.direct = append(s.direct, fmt.Sprintf("http://127.0.0.1:%d/v2/token", port))
		s.operator = append(s.operator, fmt.Sprintf("http://127.0.0.1:%d", op))
		s.sockets = append(s.sockets, sock)
	}
	return s
}

var replicaClient = &http.Client{Timeout: 10 * time.Second}

// tokenRequest asks url for a pull token, with Basic auth unless user and
// secret are both empty; login adds offline_token=true (docker login).
// It returns the status and the refresh token, if any.
func tokenRequest(t *testing.T, url, user, secret string, login bool) (int, string) {
	t.Helper()
	q := "?service=registry&scope=repository:app:pull"
	if login {
		q += "&offline_token=true&client_id=docker"
	}
	req, _ := http.NewRequest("GET", url+q, nil)
	if user != "" || secret != "" {
		req.SetBasicAuth(user, secret)
	}
	resp, err := replicaClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var body struct {
		Refresh string `json:"refresh_token"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Refresh
}

// metric reads one sample (name with its labels, if any) from a
// replica's /metrics; a missing one fails the test.
func metric(t *testing.T, operator, name string) float64 {
	t.Helper()
	v, ok := scrapeMetric(t, replicaClient, operator+"/metrics", name)
	if !ok {
		t.Fatalf("%s/metrics has no %s", operator, name)
	}
	return v
}

// scrapeMetric reads one sample from a /metrics page: name with its
// labels as Prometheus prints them ({outcome="issued"}), or none.
func scrapeMetric(t *testing.T, client *http.Client, url, name string) (float64, bool) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f, true
		}
	}
	return 0, false
}

func (s *replicaSet) bcryptChecks(t *testing.T) (n int) {
	for _, op := range s.operator {
		n += int(metric(t, op, "regtoken_bcrypt_checks_total"))
	}
	return n
}

// storeStatus is the "store" status of a replica's /healthz.
func storeStatus(t *testing.T, operator string) string {
	t.Helper()
	status, _ := storeHealthz(t, operator)
	return status
}

// storeHealthz is the "store" status of a replica's /healthz and, while
// unreachable, why.
func storeHealthz(t *testing.T, operator string) (status, why string) {
	t.Helper()
	resp, err := replicaClient.Get(operator + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		Store struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		} `json:"store"`
	}
	json.NewDecoder(resp.Body).Decode(&h)
	return h.Store.Status, h.Store.Error
}

// waitStore waits until every replica's /healthz says status, and returns
// how long that took.
func (s *replicaSet) waitStore(t *testing.T, status string) time.Duration {
	t.Helper()
	start := time.Now()
	for _, op := range s.operator {
		for storeStatus(t, op) != status {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("%s/healthz: store status %q after 10 s, want %q", op, storeStatus(t, op), status)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return time.Since(start)
}

// storeServers are the servers the core replica claims run against: the
// same tests, with a redis:// and a valkey:// URL.
var storeServers = []harness.StoreServer{harness.RedisServer, harness.ValkeyServer}

// eachStore runs test once per store server, as a subtest named by its
// URL scheme.
func eachStore(t *testing.T, test func(t *testing.T, server harness.StoreServer)) {
	for _, server := range storeServers {
		t.Run(server.Scheme, func(t *testing.T) { test(t, server) })
	}
}

// Guesses spread round-robin over 3 replicas by nginx get the pair
// threshold's bcrypt checks (5) with the store, and 3 times that without;
// with the store, the user is then throttled through every replica.
func TestReplicasThrottleAsOne(t *testing.T) {
	const guesses = 20
	spread := func(t *testing.T, s *replicaSet) int {
		throttled := 0
		for i := range guesses {
			code, _ := tokenRequest(t, s.realm, "alice", fmt.Sprintf("guess-%d", i), false)
			switch code {
			case 429:
				throttled++
			case 401:
			default:
				t.Fatalf("guess %d: status %d", i, code)
			}
		}
		checks := s.bcryptChecks(t)
		t.Logf("%d guesses over 3 replicas: %d bcrypt checks, %d refused with 429", guesses, checks, throttled)
		return checks
	}
	t.Run("no-store", func(t *testing.T) {
		if checks := spread(t, startReplicas(t, 3, nil, "")); checks != 3*5 {
			t.Errorf("bcrypt checks for %d guesses over 3 replicas without the store: %d, want 15", guesses, checks)
		}
	})
	eachStore(t, func(t *testing.T, server harness.StoreServer) {
		s := startReplicas(t, 3, harness.StartStore(t, server), "")
		if checks := spread(t, s); checks != 5 {
			t.Errorf("bcrypt checks for %d guesses over 3 replicas with the store: %d, want 5", guesses, checks)
		}
		for i, url := range s.direct {
			if code, _ := tokenRequest(t, url, "alice", replicaUsers["alice"], false); code != 429 {
				t.Errorf("the right password through replica %d: %d, want 429 (throttled everywhere)", i, code)
			}
		}
		// Issue 14's rule across replicas: 30 guesses at once, spread
		// over the replicas, get no more checks than the threshold.
		before := s.bcryptChecks(t)
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tokenRequest(t, s.realm, "dave", fmt.Sprintf("burst-%d", i), false)
			}()
		}
		wg.Wait()
		burst := s.bcryptChecks(t) - before
		t.Logf("30 guesses at once over 3 replicas: %d bcrypt checks", burst)
		if burst < 1 || burst > 5 {
			t.Errorf("30 simultaneous guesses over 3 replicas got %d bcrypt checks, want 1 to 5 (the pair threshold)", burst)
		}
	})
}

// Store commands per request path, as the server's MONITOR sees them:
// none for anonymous, cached and refresh-token requests; one or two for a
// password nothing remembers.
func TestReplicasStoreCommandsPerPath(t *testing.T) {
	eachStore(t, testStoreCommandsPerPath)
}

func testStoreCommandsPerPath(t *testing.T, server harness.StoreServer) {
	redis := harness.StartStore(t, server)
	s := startReplicas(t, 3, redis, "")
	mon := redis.Monitor(t)
	// The poll (GET of the version), connection set-up, and the commands
	// scripts run inside EVALSHA are not round trips of a request.
	skip := []string{"revoked:version", "lua]", `"hello"`, `"client"`, `"ping"`}
	count := func(do func()) []string {
		time.Sleep(100 * time.Millisecond)
		mark := mon.Mark()
		do()
		time.Sleep(100 * time.Millisecond)
		return mon.Since(mark, skip...)
	}
	var refresh string
	rows := []struct {
		path   string
		do     func()
		lo, hi int
	}{
		{"anonymous", func() { tokenRequest(t, s.direct[0], "", "", false) }, 0, 0},
		{"password, first time (admit + give back)", func() { _, refresh = tokenRequest(t, s.direct[0], "bob", replicaUsers["bob"], true) }, 2, 2},
		{"password, cached", func() { tokenRequest(t, s.direct[0], "bob", replicaUsers["bob"], false) }, 0, 0},
		{"refresh token", func() { tokenRequest(t, s.direct[1], "", refresh, false) }, 0, 0},
		{"wrong password (admit + remember)", func() { tokenRequest(t, s.direct[0], "bob", "wrong", false) }, 1, 2},
		{"same wrong password, other replica (repeat)", func() { tokenRequest(t, s.direct[2], "bob", "wrong", false) }, 1, 1},
		{"same wrong password, same replica (local memory)", func() { tokenRequest(t, s.direct[0], "bob", "wrong", false) }, 0, 0},
	}
	for _, r := range rows {
		cmds := count(r.do)
		n := len(cmds)
		t.Logf("%-50s %d store commands", r.path, n)
		if n < r.lo || n > r.hi {
			t.Errorf("%s: %d store commands, want %d to %d:\n%s", r.path, n, r.lo, r.hi, strings.Join(cmds, "\n"))
		}
	}
}

// `regtoken user revoke` through the store refuses the user's refresh
// tokens on every replica within a second, and makes remembered password
// checks run again.
func TestReplicasRevoke(t *testing.T) {
	eachStore(t, testRevoke)
}

func testRevoke(t *testing.T, server harness.StoreServer) {
	s := startReplicas(t, 3, harness.StartStore(t, server), "")
	_, refresh := tokenRequest(t, s.direct[0], "carol", replicaUsers["carol"], true)
	if refresh == "" {
		t.Fatal("no refresh token after a password login")
	}
	for i, url := range s.direct {
		if code, _ := tokenRequest(t, url, "", refresh, false); code != 200 {
			t.Fatalf("refresh token through replica %d before revocation: %d", i, code)
		}
		tokenRequest(t, url, "carol", replicaUsers["carol"], false) // remembered on every replica
	}
	before := s.bcryptChecks(t)
	time.Sleep(1100 * time.Millisecond) // a revocation covers tokens issued up to its second
	start := time.Now()
	out, err := exec.Command(harness.Binary(t), "user", "revoke", "-config", s.configs[1], "carol").CombinedOutput()
	if err != nil {
		t.Fatalf("regtoken user revoke: %v\n%s", err, out)
	}
	refused := make([]time.Duration, len(s.direct))
	for i := range refused {
		for {
			code, _ := tokenRequest(t, s.direct[i], "", refresh, false)
			if code == 401 {
				refused[i] = time.Since(start)
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("replica %d still accepts the revoked refresh token after 5 s (%d)", i, code)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	slowest := max(refused[0], refused[1], refused[2])
	t.Logf("revocation (CLI run included) in force on replicas after %v, %v, %v", refused[0].Round(time.Millisecond),
		refused[1].Round(time.Millisecond), refused[2].Round(time.Millisecond))
	if slowest > time.Second {
		t.Errorf("revocation took %v to reach every replica, want within 1 s", slowest)
	}
	for i, url := range s.direct {
		if code, _ := tokenRequest(t, url, "carol", replicaUsers["carol"], false); code != 200 {
			t.Errorf("carol's password through replica %d after revocation: %d, want 200", i, code)
		}
	}
	if n := s.bcryptChecks(t) - before; n != 3 {
		t.Errorf("%d bcrypt checks for carol's password on 3 replicas after revocation, want 3 (remembered checks forgotten)", n)
	}
}

// The store killed under load and restarted: anonymous and cached
// requests see no error; fail_open checks new passwords with each
// replica's throttle, fail_closed refuses them (503); both recover
// without a restart.
func TestReplicasStoreOutage(t *testing.T) {
	eachStore(t, func(t *testing.T, server harness.StoreServer) {
		for _, policy := range []string{"fail_open", "fail_closed"} {
			t.Run(policy, func(t *testing.T) {
				redis := harness.StartStore(t, server)
				s := startReplicas(t, 3, redis, fmt.Sprintf("policy = %q\n", policy))
				for _, url := range s.direct {
					tokenRequest(t, url, "bob", replicaUsers["bob"], false) // bob is remembered everywhere
				}
				s.waitStore(t, "up")
				var sent, failed atomic.Int64
				stop := make(chan struct{})
				var wg sync.WaitGroup
				for w := range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; ; i++ {
							select {
							case <-stop:
								return
							default:
							}
							user, pw := "", ""
							if (w+i)%2 == 1 {
								user, pw = "bob", replicaUsers["bob"]
							}
							sent.Add(1)
							if code, _ := tokenRequest(t, s.realm, user, pw, false); code != 200 {
								failed.Add(1)
							}
						}
					}()
				}
				time.Sleep(300 * time.Millisecond)
				redis.Kill()
				down := s.waitStore(t, "unreachable")
				newLogin, _ := tokenRequest(t, s.realm, "alice", replicaUsers["alice"], false)
				wrong, _ := tokenRequest(t, s.realm, "dave", "wrong", false)
				for _, op := range s.operator {
					if up := metric(t, op, "regtoken_store_up"); up != 0 {
						t.Errorf("%s: regtoken_store_up %v while the store is down", op, up)
					}
				}
				time.Sleep(time.Second)
				redis.Start(t)
				back := s.waitStore(t, "up")
				after, _ := tokenRequest(t, s.realm, "dave", replicaUsers["dave"], false)
				close(stop)
				wg.Wait()
				t.Logf("%s: %d anonymous and cached requests during the outage, %d failed; store down seen in %v, back in %v; "+
					"new password while down: %d, wrong password while down: %d, new password after: %d",
					policy, sent.Load(), failed.Load(), down.Round(time.Millisecond), back.Round(time.Millisecond), newLogin, wrong, after)
				if failed.Load() != 0 {
					t.Errorf("%d of %d anonymous and cached requests failed while the store was down", failed.Load(), sent.Load())
				}
				wantNew, wantWrong := 200, 401
				if policy == "fail_closed" {
					wantNew, wantWrong = 503, 503
				}
				if newLogin != wantNew || wrong != wantWrong {
					t.Errorf("while the store is down: new password %d, wrong password %d; want %d and %d", newLogin, wrong, wantNew, wantWrong)
				}
				if after != 200 {
					t.Errorf("a new password after the store came back: %d, want 200", after)
				}
				// One line when the store went away (several polls failed) and
				// one when it came back, per replica.
				for i, p := range s.procs {
					out := p.Output()
					if gone, back := strings.Count(out, "store: no answer"), strings.Count(out, "store: answers again"); gone != 1 || back != 1 {
						t.Errorf("replica %d logged %d lines about the store going away and %d about it coming back, want 1 and 1", i, gone, back)
					}
				}
			})
		}
	})
}

// The shipped replica compose file is valid for docker-compose: nginx,
// three regtoken replicas and the store.
func TestReplicasComposeFile(t *testing.T) {
	bin := harness.Tool(t, "docker-compose")
	file := harness.DeployFile("replicas", "docker-compose.yml")
	out, err := exec.Command(bin, "-f", file, "config", "--services").CombinedOutput()
	if err != nil {
		t.Fatalf("docker-compose config rejected %s: %v\n%s", file, err, out)
	}
	services := strings.Fields(string(out))
	for _, want := range []string{"nginx", "regtoken-1", "regtoken-2", "regtoken-3", "valkey", "registry"} {
		if !contains(services, want) {
			t.Errorf("%s has no service %q: %v", file, want, services)
		}
	}

	// The shipped nginx.conf, with the replicas' and the registry's host
	// names pointed at local ones, spreads logins over three replicas.
	s := startReplicaProcesses(t, 3, harness.StartRedis(t), "")
	port := harness.FreePort(t)
	startShippedNginx(t, s.dir, harness.DeployFile("replicas", "nginx.conf"), port,
		"server registry:5000;", "server 127.0.0.1:1;",
		"server regtoken-1:5000", "server unix:"+s.sockets[0],
		"server regtoken-2:5000", "server unix:"+s.sockets[1],
		"server regtoken-3:5000", "server unix:"+s.sockets[2])
	// nginx runs a worker per core, each with its own round-robin: with 12
	// requests, one worker has at least 6 and so reaches every replica.
	for i := range 12 {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/v2/token?service=registry&scope=repository:app:pull", port), nil)
		if i%2 == 0 {
			req.SetBasicAuth("bob", replicaUsers["bob"])
		}
		resp, err := replicaClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d through the shipped nginx.conf: %d", i, resp.StatusCode)
		}
	}
	for i, op := range s.operator {
		if n := metric(t, op, `regtoken_requests_total{outcome="issued"}`); n < 1 {
			t.Errorf("replica %d issued no token of 12 through the shipped upstream", i)
		}
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// wrkRate runs wrk against url for d with an optional Authorization
// header and returns 2xx answers per second, failing on any other.
func wrkRate(t *testing.T, url, auth string, d time.Duration) float64 {
	t.Helper()
	args := []string{"-t2", "-c16", "-d" + d.String(), "--latency"}
	if auth != "" {
		args = append(args, "-H", "Authorization: "+auth)
	}
	out, err := exec.Command(harness.Tool(t, "wrk"), append(args, url)...).CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	text := string(out)
	if strings.Contains(text, "Non-2xx") || strings.Contains(text, "Socket errors") {
		t.Errorf("wrk %s: answers other than 2xx:\n%s", url, text)
	}
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Requests/sec:"); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	t.Fatalf("wrk printed no rate:\n%s", text)
	return 0
}

// Load rows: 1, 2 and 3 replicas behind nginx, with and without the store,
// anonymous and cached requests, each as a share of nginx's own fixed
// answer in the same set-up, the runs interleaved over rounds (medians).
// On 2 cores the point is not scaling (nginx, wrk and the replicas share
// them) but that the store costs these paths nothing: the "store/none"
// columns. In the suite it is a smoke run (one round of 1 s rows, every
// answer a 200); REGTOKEN_LOAD=1 runs the table of docs/performance.md,
// three rounds of 2 s rows.
func TestReplicasLoad(t *testing.T) {
	d, rounds := time.Second, 1
	if loadFull() {
		d, rounds = 2*time.Second, 3
	}
	redis := harness.StartRedis(t)
	cached := "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:"+replicaUsers["bob"]))
	const query = "?service=registry&scope=repository:app:pull"
	t.Logf("| replicas | nginx fixed /s | anonymous, no store | anonymous, store | store/none | cached, no store | cached, store | store/none |")
	t.Logf("|---|---|---|---|---|---|---|---|")
	for _, n := range []int{1, 2, 3} {
		none, shared := startReplicas(t, n, nil, ""), startReplicas(t, n, redis, "")
		for _, s := range []*replicaSet{none, shared} {
			for _, url := range s.direct {
				tokenRequest(t, url, "bob", replicaUsers["bob"], false)
			}
		}
		runs := []struct {
			name      string
			url, auth string
		}{
			{"fixed", none.fixed, ""},
			{"anon-none", none.realm + query, ""}, {"anon-store", shared.realm + query, ""},
			{"cached-none", none.realm + query, cached}, {"cached-store", shared.realm + query, cached},
		}
		rates := map[string][]float64{}
		for range rounds {
			for _, r := range runs {
				rates[r.name] = append(rates[r.name], wrkRate(t, r.url, r.auth, d))
			}
		}
		m := map[string]float64{}
		for k, v := range rates {
			m[k] = median(v)
		}
		share := func(k string) string { return fmt.Sprintf("%.0f (%.2f)", m[k], m[k]/m["fixed"]) }
		t.Logf("| %d | %.0f | %s | %s | %.2f | %s | %s | %.2f |", n, m["fixed"], share("anon-none"), share("anon-store"),
			m["anon-store"]/m["anon-none"], share("cached-none"), share("cached-store"), m["cached-store"]/m["cached-none"])
		for _, s := range []*replicaSet{none, shared} {
			for _, p := range s.procs {
				p.Stop(5 * time.Second)
			}
		}
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func loadFull() bool { return os.Getenv("REGTOKEN_LOAD") == "1" }
