//go:build e2e

package load

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// settings say how much to run.
type settings struct {
	full     bool
	duration time.Duration  // per wrk row
	rows     *regexp.Regexp // nil: every row
}

func loadSettings(t *testing.T) settings {
	s := settings{full: os.Getenv("REGTOKEN_LOAD") == "1", duration: time.Second}
	if s.full {
		s.duration = 10 * time.Second
	}
	if v := os.Getenv("REGTOKEN_LOAD_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("REGTOKEN_LOAD_SECONDS=%q: want a whole number of seconds", v)
		}
		s.duration = time.Duration(n) * time.Second
	}
	if v := os.Getenv("REGTOKEN_LOAD_ROWS"); v != "" {
		re, err := regexp.Compile(v)
		if err != nil {
			t.Fatalf("REGTOKEN_LOAD_ROWS: %v", err)
		}
		s.rows = re
	}
	return s
}

// TestLoadTable runs every row and prints the table. In smoke mode (the
// default) it checks that each row is answered with 200s and that cached and
// first-time rows do what they say (no bcrypt, one bcrypt per answer).
func TestLoadTable(t *testing.T) {
	set := loadSettings(t)
	if !set.full {
		t.Parallel()
	}
	s := startStack(t, set.full)
	r := &run{t: t, s: s, set: set, port: s.startNginx(t, 1), byKey: map[string]*result{},
		startLoad: loadAverage(), started: time.Now()}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	defer r.cancel()
	r.refresh = r.refreshToken()

	r.ceilings()
	r.regtokenRows()
	r.ldapRows()
	if set.full {
		r.floodRows()
		r.halfRateRows()
		r.twoWorkerRows()
	}
	rounds := ""
	if n := roundsWanted(); n > 0 {
		rounds = r.interleavedRounds(n)
	}
	r.endLoad = loadAverage()
	report := r.report() + rounds
	fmt.Print(report)
	if out := os.Getenv("REGTOKEN_LOAD_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(report), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// run is one load run and its results, in the order measured.
type run struct {
	t      *testing.T
	s      *stack
	set    settings
	ctx    context.Context
	cancel context.CancelFunc
	port   int // nginx with one worker

	results   []*result
	byKey     map[string]*result
	refresh   string // a refresh token; "" when regtoken does not issue them
	nextFresh int    // first fresh user not used yet

	startLoad, endLoad string
	started            time.Time
}

// result is one row of the table.
type result struct {
	what, transport string
	backend         string    // "regtoken", "trivial", "nginx" or "raw"
	inst            *instance // the regtoken measured; nil for other backends
	rate            float64
	wrk             wrkResult
	use             usage
	note            string
	missing         string // why there is no figure
}

func (r *result) key() string { return r.what + " / " + r.transport }

func (r *run) wanted(key string) bool { return r.set.rows == nil || r.set.rows.MatchString(key) }

func (r *run) add(res *result) *result {
	r.results = append(r.results, res)
	r.byKey[res.key()] = res
	switch {
	case res.missing != "":
		r.t.Logf("%-45s %s", res.key(), res.missing)
	case res.backend == "raw":
		r.t.Logf("%-45s %10.1f/s", res.key(), res.rate)
	default:
		r.t.Logf("%-45s %10.0f/s  p50 %s  p99 %s  %s", res.key(), res.rate,
			latency(res.wrk.P50US), latency(res.wrk.P99US), res.note)
	}
	return res
}

// regtokenRow is a row measuring the instance in.
func regtokenRow(what, transport string, in *instance) *result {
	return &result{what: what, transport: transport, backend: "regtoken", inst: in}
}

// quiet waits until every running regtoken is idle.
func (r *run) quiet(limit time.Duration) {
	for _, in := range r.s.instances() {
		if in.proc != nil {
			waitQuiet(in.proc.Cmd.Process.Pid, limit)
		}
	}
}

// query asks for the scope every row asks for.
var query = "?" + url.Values{"service": {service}, "scope": {scope}}.Encode()

// ceilings measures what bounds regtoken: nginx alone, a trivial responder
// on each transport, and the raw signing and bcrypt rates.
func (r *run) ceilings() {
	r.wrkRow(&result{what: "nginx fixed 200", transport: "-", backend: "nginx"}, r.port, load{path: "/fixed"}, "")
	for _, tr := range transports {
		if !r.set.full && tr.name != "scgi" && tr.name != "http+keepalive" {
			continue
		}
		r.wrkRow(&result{what: "trivial responder", transport: tr.name, backend: "trivial"}, r.port,
			load{path: r.s.trivial.path(tr) + query}, "")
	}
	r.rawRows()
}

// rawRows measures ES256 signing on one and two cores and bcrypt on two.
func (r *run) rawRows() {
	signer := r.s.signer(r.t)
	d := r.set.duration / 2 // signing rates settle within a second
	if r.set.full {
		d = max(d, time.Second)
	}
	for _, workers := range []int{1, 2} {
		res := &result{what: "raw ES256 signing", transport: fmt.Sprintf("%d core(s)", workers), backend: "raw"}
		if !r.wanted(res.key()) {
			continue
		}
		r.quiet(30 * time.Second)
		rate, err := signingRate(signer, workers, d)
		if err != nil {
			r.t.Errorf("%s: %v", res.key(), err)
		}
		res.rate, res.note = rate, "token.Signer.Sign with claims, in the test process"
		r.add(res)
	}
	res := &result{what: fmt.Sprintf("raw bcrypt-%d", r.s.cost), transport: "2 cores", backend: "raw"}
	if !r.wanted(res.key()) {
		return
	}
	r.quiet(30 * time.Second)
	rate, err := bcryptRate(r.s.hash, 2, d*2)
	if err != nil {
		r.t.Errorf("%s: %v", res.key(), err)
	}
	res.rate, res.note = rate, "bcrypt.CompareHashAndPassword, in the test process"
	r.add(res)
}

// regtokenRows runs anonymous, cached, refresh and first-time requests over
// every transport (smoke: anonymous everywhere, the rest over SCGI).
func (r *run) regtokenRows() {
	rt := r.s.rt
	for _, tr := range transports {
		r.wrkRow(regtokenRow("anonymous", tr.name, rt), r.port, load{path: rt.path(tr) + query}, "")
	}
	some := transports
	if !r.set.full {
		some = []transport{transportNamed("scgi")}
	}
	for _, tr := range some {
		r.wrkRow(regtokenRow("cached password", tr.name, rt), r.port,
			load{path: rt.path(tr) + query, auth: []string{basic(cachedUser, password)}}, cachedUser)
	}
	for _, tr := range some {
		res := regtokenRow("refresh token", tr.name, rt)
		if r.refresh == "" {
			res.missing = "not available yet: regtoken issued no refresh token for offline_token=true"
			if r.wanted(res.key()) {
				r.add(res)
			}
			continue
		}
		r.wrkRow(res, r.port, r.refreshLoad(rt.path(tr)), cachedUser)
	}
	for _, tr := range some {
		res := regtokenRow("first-time password", tr.name, rt)
		if !r.wanted(res.key()) {
			continue
		}
		r.wrkRow(res, r.port, r.freshLoad(rt.path(tr)), "")
	}
	if !r.set.full {
		return
	}
	for _, name := range []string{"scgi", "http+keepalive"} {
		tr := transportNamed(name)
		res := regtokenRow("anonymous, audit log off", tr.name, r.s.quiet)
		if r.wanted(res.key()) {
			r.s.start(r.t, r.s.quiet)
			r.wrkRow(res, r.port, load{path: r.s.quiet.path(tr) + query}, "")
		}
	}
}

// refreshLoad posts the OAuth2 refresh_token grant, as docker and
// containerd do after `docker login`.
func (r *run) refreshLoad(path string) load {
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {"loadtest"}, "service": {service},
		"scope": {scope}, "refresh_token": {r.refresh}}
	return load{path: path, method: http.MethodPost, body: form.Encode(),
		contentType: "application/x-www-form-urlencoded"}
}

// freshLoad uses every credential once: each answer costs one bcrypt check.
// The last credential is left for the probe. Smoke runs hash at the minimum
// cost, so each connection pauses 10 ms between requests to stay within
// the credentials it has.
func (r *run) freshLoad(path string) load {
	per := 200
	l := load{path: path + query, timeout: 30 * time.Second, connections: 2, delayMS: 10}
	if r.set.full {
		per, l.connections, l.delayMS = 75, 16, 0 // at most ~100 logins in ten seconds
	}
	for range wrkThreads*per + 1 {
		if r.nextFresh == freshUsers {
			r.t.Fatalf("out of fresh users; raise freshUsers")
		}
		l.auth = append(l.auth, basic(freshName(r.nextFresh), password))
		r.nextFresh++
	}
	return l
}

// wrkRow probes once, waits for regtoken to go quiet, then runs wrk.
// subject is who the probe's token must be for ("" for anonymous and for
// the bcrypt first-time rows, whose probe names the last fresh user).
func (r *run) wrkRow(res *result, port int, l load, subject string) *result {
	if !r.wanted(res.key()) {
		return nil
	}
	if err := r.probe(port, l, subject, res.inst != nil); err != nil {
		r.t.Errorf("%s: probe: %v", res.key(), err)
		res.missing = "probe failed"
		return r.add(res)
	}
	r.quiet(30 * time.Second)
	return r.measure(res, port, l)
}

// measure runs wrk and fills in res; it checks that every answer was a 2xx.
func (r *run) measure(res *result, port int, l load) *result {
	w := watch(res.inst)
	if res.backend == "trivial" {
		w = watchSelf()
	}
	out, err := runWrk(r.ctx, r.s.dir, port, l, r.set.duration)
	res.use = w.done()
	if err != nil {
		r.t.Errorf("%s: %v", res.key(), err)
		res.missing = "wrk failed"
		return r.add(res)
	}
	res.wrk, res.rate = out, out.rate()
	switch {
	case res.inst == r.s.ldap:
		r.checkLDAP(res)
	case res.inst != nil:
		r.checkBcrypt(res)
	}
	switch {
	case out.Requests == 0:
		r.t.Errorf("%s: no request completed", res.key())
	case r.busyAnswers(res) > 0:
		// Sixteen first-time logins at once on a small machine queue for
		// bcrypt longer than the admission timeout: some are told to retry
		// (503). That is admission control at work, not a harness failure.
		res.note = fmt.Sprintf("%d answered 503 (bcrypt queue full or timed out); ", out.Status) + res.note
	case out.failures() > 0:
		r.t.Errorf("%s: %d of %d requests failed (non-2xx %d, timeouts %d, connect/read/write %d/%d/%d)",
			res.key(), out.failures(), out.Requests, out.Status, out.Timeout, out.Connect, out.Read, out.Write)
	}
	return r.add(res)
}

// busyAnswers is the number of first-time answers that were 503s from
// bcrypt admission, when those were the only failures (full runs only).
func (r *run) busyAnswers(res *result) int64 {
	out := res.wrk
	throttled := res.use.metrics[`regtoken_requests_total{outcome="throttled"}`]
	if !r.set.full || res.what != "first-time password" || out.Status == 0 ||
		out.failures() != out.Status || throttled < float64(out.Status) {
		return 0
	}
	return out.Status
}

// checkBcrypt makes sure a row measured what it says: cached and refresh
// answers run no bcrypt, first-time answers one each.
func (r *run) checkBcrypt(res *result) {
	checks := res.use.metrics["regtoken_bcrypt_checks_total"]
	switch res.what {
	case "cached password", "refresh token", "anonymous":
		if checks > 0 {
			r.t.Errorf("%s: %v bcrypt checks ran; the row should need none", res.key(), checks)
		}
	case "first-time password":
		if ok := res.wrk.Requests - res.wrk.Status; checks < float64(ok) {
			r.t.Errorf("%s: %v bcrypt checks for %d tokens; every token should need one", res.key(), checks, ok)
		}
		res.note = fmt.Sprintf("%.0f bcrypt checks", checks)
	}
}

// probe sends one request like l's through nginx and checks the answer: a
// 200, with a token for subject when regtoken answers.
func (r *run) probe(port int, l load, subject string, regtoken bool) error {
	method := l.method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", port, l.path), strings.NewReader(l.body))
	if err != nil {
		return err
	}
	if l.contentType != "" {
		req.Header.Set("Content-Type", l.contentType)
	}
	if len(l.auth) > 0 {
		req.Header.Set("Authorization", l.auth[len(l.auth)-1])
		if len(l.auth) > 1 && subject == "" {
			subject = freshName(r.nextFresh - 1)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	if !regtoken {
		return nil
	}
	sub, err := tokenSubject(body)
	if err != nil {
		return err
	}
	if sub != subject {
		return fmt.Errorf("token for %q, want %q", sub, subject)
	}
	return nil
}

// tokenSubject returns the sub claim of the answer's token, unverified
// (the e2e tests verify tokens; here it only tells the rows apart).
func tokenSubject(body []byte) (string, error) {
	var answer struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || answer.Token == "" {
		return "", fmt.Errorf("no token in %q", body)
	}
	parts := strings.Split(answer.Token, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("token is not a compact JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var claims struct {
		Subject string `json:"sub"`
	}
	err = json.Unmarshal(payload, &claims)
	return claims.Subject, err
}

// refreshToken asks for a refresh token as `docker login` does; "" when
// regtoken hands out none.
func (r *run) refreshToken() string {
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s%s&offline_token=true",
		r.port, r.s.rt.path(transportNamed("scgi")), query), nil)
	req.Header.Set("Authorization", basic(cachedUser, password))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != 200 {
		r.t.Fatalf("login with offline_token=true: %s %v", resp.Status, err)
	}
	return answer.RefreshToken
}

// floodRows measures anonymous and cached requests while 64 clients send
// wrong passwords for an existing user, each a different one (guessing).
//
// All clients here share one address, 127.0.0.1. With the default
// throttle, five failures block the guesser's (user, address) pair and
// fifty the address, for every user of it: the guesses are then answered
// 429 before any bcrypt, and the cached user, sharing the address, would be
// blocked too. So the default instance is measured with anonymous victims
// only, and the instance without throttle stands for guesses arriving from
// many addresses, which no per-address throttle stops and only bcrypt
// admission control bounds. That instance gets baselines of its own.
func (r *run) floodRows() {
	scgi := transportNamed("scgi")
	flood := load{connections: 64, timeout: 30 * time.Second}
	for i := range 2*4000 + 1 {
		flood.auth = append(flood.auth, basic(floodUser, fmt.Sprintf("wrong-%d", i)))
	}
	type victim struct {
		what string
		in   *instance
		auth []string
		sub  string
	}
	victims := []victim{
		{"anonymous, throttle off", r.s.open, nil, ""},
		{"cached password, throttle off", r.s.open, []string{basic(cachedUser, password)}, cachedUser},
	}
	for _, v := range victims {
		l := load{path: v.in.path(scgi) + query, auth: v.auth}
		base := regtokenRow(v.what, scgi.name, v.in)
		flooded := regtokenRow(v.what+", 64 clients guessing passwords", scgi.name, v.in)
		if !r.wanted(base.key()) && !r.wanted(flooded.key()) {
			continue
		}
		r.s.start(r.t, v.in)
		r.wrkRow(base, r.port, l, v.sub)
		r.floodRow(flooded, base, l, v.sub, flood)
	}
	// Last, as it leaves 127.0.0.1 blocked for password logins.
	base := r.byKey["anonymous / scgi"]
	flooded := regtokenRow("anonymous, 64 clients guessing passwords (throttle on)", scgi.name, r.s.rt)
	if r.wanted(flooded.key()) {
		r.floodRow(flooded, base, load{path: r.s.rt.path(scgi) + query}, "", flood)
	}
	// The same without the tarpit: throttled guesses are answered at once.
	flooded = regtokenRow("anonymous, 64 clients guessing passwords (throttle on, tarpit off)", scgi.name, r.s.noTarpit)
	if r.wanted(flooded.key()) {
		r.s.start(r.t, r.s.noTarpit)
		r.floodRow(flooded, base, load{path: r.s.noTarpit.path(scgi) + query}, "", flood)
	}
}

// floodRow measures l while flood runs against the same instance.
func (r *run) floodRow(res, base *result, l load, subject string, flood load) {
	if err := r.probe(r.port, l, subject, true); err != nil {
		r.t.Errorf("%s: probe: %v", res.key(), err)
		return
	}
	flood.path = l.path[:strings.IndexByte(l.path, '?')] + query
	r.quiet(60 * time.Second)
	floodDone := make(chan wrkResult, 1)
	go func() {
		out, err := runWrk(r.ctx, r.s.dir, r.port, flood, r.set.duration+3*time.Second)
		if err != nil {
			r.t.Errorf("flood: %v", err)
		}
		floodDone <- out
	}()
	time.Sleep(1500 * time.Millisecond) // let the guesses fill the bcrypt queue
	r.measure(res, r.port, l)
	f := <-floodDone
	m := res.use.metrics
	res.note = fmt.Sprintf("guesses answered %.0f/s (401: %.0f, 429/503: %.0f, bcrypt checks: %.0f)",
		f.answerRate(), m[`regtoken_requests_total{outcome="unauthorized"}`], m[`regtoken_requests_total{outcome="throttled"}`],
		m["regtoken_bcrypt_checks_total"])
	if base != nil && base.rate > 0 {
		res.note = fmt.Sprintf("%.0f%% of the rate without guesses; ", 100*res.rate/base.rate) + res.note
	}
	r.quiet(60 * time.Second)
}

// halfRateRows measures latency at half the maximum anonymous rate. wrk
// has no rate option, so each connection pauses 1 ms before each request
// and the number of connections is adjusted until the rate is about right.
func (r *run) halfRateRows() {
	for _, name := range []string{"scgi", "http+keepalive"} {
		tr := transportNamed(name)
		res := regtokenRow("anonymous at half the max rate", tr.name, r.s.rt)
		base := r.byKey["anonymous / "+tr.name]
		if !r.wanted(res.key()) || base == nil || base.rate == 0 {
			continue
		}
		target := base.rate / 2
		l := load{path: r.s.rt.path(tr) + query, delayMS: 1, connections: 8}
		r.quiet(30 * time.Second)
		for range 3 {
			out, err := runWrk(r.ctx, r.s.dir, r.port, l, 2*time.Second)
			if err != nil || out.rate() == 0 {
				r.t.Errorf("%s: calibration: %v", res.key(), err)
				return
			}
			l.connections = int(math.Max(1, math.Min(512, math.Round(float64(l.connections)*target/out.rate()))))
		}
		r.measure(res, r.port, l)
		res.note = fmt.Sprintf("%.0f%% of the max (%d connections, 1 ms pause before each request)",
			100*res.rate/base.rate, l.connections)
	}
}

// twoWorkerRows repeats a few rows behind an nginx with two workers.
func (r *run) twoWorkerRows() {
	port := 0
	for _, name := range []string{"scgi", "http+keepalive"} {
		tr := transportNamed(name)
		rows := []struct {
			res *result
			l   load
		}{
			{&result{what: "trivial responder, 2 nginx workers", transport: tr.name, backend: "trivial"}, load{path: r.s.trivial.path(tr) + query}},
			{regtokenRow("anonymous, 2 nginx workers", tr.name, r.s.rt), load{path: r.s.rt.path(tr) + query}},
		}
		for _, row := range rows {
			if !r.wanted(row.res.key()) {
				continue
			}
			if port == 0 {
				port = r.s.startNginx(r.t, 2)
			}
			r.wrkRow(row.res, port, row.l, "")
		}
	}
}
