//go:build e2e

package soak

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// tally is what the load saw.
type tally struct {
	honest     atomic.Uint64 // honest requests served with a token
	honestErrs atomic.Uint64 // honest requests that were not
	slow       atomic.Uint64 // of the honest ones: trickled requests
	direct     atomic.Uint64 // of the honest ones: straight to a socket
	firstLogin atomic.Uint64 // of the honest ones: logins no cache knew (a bcrypt check each)
	bursts     atomic.Uint64 // bursts of guesses fired

	guess401, guess429, guess503, guessOther atomic.Uint64

	broken     atomic.Uint64 // malformed streams answered or closed
	rejected   atomic.Uint64 // of those: answered with a 4xx status
	served     atomic.Uint64 // of those: answered otherwise (allowed for a few)
	unanswered atomic.Uint64 // malformed streams left hanging, or answered when they should not be
	cutOff     atomic.Uint64 // endless trickles the server cut
	notCut     atomic.Uint64 // endless trickles still open past the server's timeout

	mu       sync.Mutex
	problems []string // the first few honest errors and anomalies
}

// problem records an honest error or an anomaly for the report.
func (t *tally) problem(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.problems) < 20 {
		t.problems = append(t.problems, fmt.Sprintf(format, args...))
	}
}

func (t *tally) honestError(format string, args ...any) {
	t.honestErrs.Add(1)
	t.problem("honest: "+format, args...)
}

// load drives one stack.
type load struct {
	nginx     string // 127.0.0.1:PORT
	host      string // localhost:PORT, the Host clients send
	scgi      string // regtoken's SCGI socket
	uwsgi     string // regtoken's uwsgi socket
	timeout   time.Duration
	tally     tally
	maxRounds int // bound on every worker's loop, besides the context
	newcomers int // users newcomer-0 to newcomer-(n-1), password "foo", each logged in once
}

// serverTimeout is regtoken's default request_timeout: the longest a
// connection may take from accept to the end of the answer.
const serverTimeout = 30 * time.Second

// run starts every worker; they stop when ctx ends.
func (l *load) run(ctx context.Context, wg *sync.WaitGroup) {
	honest := honestClient(l.nginx)
	wg.Go(func() { l.honestLoop(ctx, honest, "", "") })
	wg.Go(func() { l.honestLoop(ctx, honest, "foo", "foo") })
	wg.Go(func() { l.honestLoop(ctx, honest, "bar", "bar") })
	wg.Go(func() { l.firstLoginLoop(ctx, honest) })
	for i := range 2 {
		wg.Go(func() { l.slowHonestLoop(ctx) })
		wg.Go(func() { l.guessLoop(ctx, i) })
	}
	wg.Go(func() { l.burstLoop(ctx) })
	wg.Go(func() { l.brokenLoop(ctx, l.scgi, brokenSCGI, scgiHead) })
	wg.Go(func() { l.brokenLoop(ctx, l.uwsgi, brokenUWSGI, uwsgiHead) })
	wg.Go(func() { l.trickleLoop(ctx, l.scgi, scgiHead) })
	wg.Go(func() { l.trickleLoop(ctx, l.uwsgi, uwsgiHead) })
}

// honestClient talks to nginx from 127.0.0.1 with keep-alive, like a
// registry client would.
func honestClient(nginx string) *http.Client {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", nginx)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 4}}
}

// guessClient talks to nginx from source address src (another loopback
// address, so nginx's REMOTE_ADDR differs from the honest clients'), one
// connection per request.
func guessClient(nginx, src string) *http.Client {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		return d.DialContext(ctx, "tcp", nginx)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
}

// tokenRequest asks nginx for a token as user (anonymous if ""), and
// returns the status and body.
func (l *load) tokenRequest(ctx context.Context, c *http.Client, user, pass, scope string) (int, []byte, error) {
	q := url.Values{"service": {"Authentication"}, "scope": {scope}}
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+l.host+"/v2/token?"+q.Encode(), nil)
	if err != nil {
		return 0, nil, err
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, stopped(ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, body, stopped(ctx, err)
}

// hasToken reports whether body is a token answer.
func hasToken(body []byte) bool {
	var r struct {
		Token string `json:"token"`
	}
	return json.Unmarshal(body, &r) == nil && r.Token != ""
}

// honestLoop asks for tokens as user with the right password (or
// anonymously) as fast as the stack answers, with a short pause.
func (l *load) honestLoop(ctx context.Context, c *http.Client, user, pass string) {
	who, scope := "anonymous", "repository:some-image:pull"
	if user != "" {
		who = user
	}
	if user == "bar" {
		scope = "repository:soak/app:pull,push"
	}
	for i := 0; i < l.maxRounds && ctx.Err() == nil; i++ {
		status, body, err := l.tokenRequest(ctx, c, user, pass, scope)
		switch {
		case errors.Is(err, errStopped):
			return
		case err != nil:
			l.tally.honestError("%s: %v", who, err)
		case status != http.StatusOK || !hasToken(body):
			l.tally.honestError("%s: status %d: %.200s", who, status, body)
		default:
			l.tally.honest.Add(1)
		}
		pause(ctx, 2*time.Millisecond)
	}
}

// guessLoop tries wrong passwords for foo, and unknown users, from the
// loopback addresses 127.0.0.2-9. Only 401 (wrong), 429 (throttled) and
// 503 (too many password checks waiting) are acceptable answers.
func (l *load) guessLoop(ctx context.Context, id int) {
	clients := make([]*http.Client, 8)
	for i := range clients {
		clients[i] = guessClient(l.nginx, fmt.Sprintf("127.0.0.%d", 2+i))
	}
	for i := 0; i < l.maxRounds && ctx.Err() == nil; i++ {
		user := "foo"
		if i%3 == 2 {
			user = fmt.Sprintf("ghost%d", i%50)
		}
		status, body, err := l.tokenRequest(ctx, clients[(i+id)%len(clients)], user, fmt.Sprintf("guess-%d-%d", id, i), "repository:some-image:pull")
		if l.countGuess(status, body, err) {
			return
		}
		pause(ctx, 20*time.Millisecond)
	}
}

// countGuess files a guess's answer: 401, 429 or 503, or an anomaly. It
// reports whether the load has stopped.
func (l *load) countGuess(status int, body []byte, err error) (stopped bool) {
	switch {
	case errors.Is(err, errStopped):
		return true
	case err != nil:
		l.tally.guessOther.Add(1)
		l.tally.problem("guess: %v", err)
	case status == http.StatusUnauthorized:
		l.tally.guess401.Add(1)
	case status == http.StatusTooManyRequests:
		l.tally.guess429.Add(1)
	case status == http.StatusServiceUnavailable:
		l.tally.guess503.Add(1)
	default:
		l.tally.guessOther.Add(1)
		l.tally.problem("guess: status %d: %.200s", status, body)
	}
	return false
}

// burstSize is how many guesses one burst sends at once.
const burstSize = 50

// burstLoop fires a burst of wrong passwords at once every two seconds,
// each burst from one loopback address (127.0.0.10-17 in turn): half for
// foo, whom honest clients log in as meanwhile, half for other users, as
// a guessing tool with many parallel attempts does. The throttle answers
// most of each burst with 429 and no bcrypt; honest clients, among them
// first logins that need a bcrypt check, must not notice.
func (l *load) burstLoop(ctx context.Context) {
	for i := 0; i < l.maxRounds && ctx.Err() == nil; i++ {
		client := guessClient(l.nginx, fmt.Sprintf("127.0.0.%d", 10+i%8))
		var wg sync.WaitGroup
		for j := range burstSize {
			user := "foo"
			if j%2 == 1 {
				user = fmt.Sprintf("user-%d", j)
			}
			wg.Go(func() {
				status, body, err := l.tokenRequest(ctx, client, user, fmt.Sprintf("burst-%d-%d", i, j), "repository:some-image:pull")
				l.countGuess(status, body, err)
			})
		}
		wg.Wait()
		l.tally.bursts.Add(1)
		pause(ctx, 2*time.Second)
	}
}

// firstLoginLoop logs in as a new user every half second (newcomer-0,
// newcomer-1, ...), from the honest clients' address: no cache knows these
// passwords, so each login is a bcrypt check, queued beside the guesses.
func (l *load) firstLoginLoop(ctx context.Context, c *http.Client) {
	for i := 0; i < l.newcomers && ctx.Err() == nil; i++ {
		user := fmt.Sprintf("newcomer-%d", i)
		status, body, err := l.tokenRequest(ctx, c, user, "foo", "repository:some-image:pull")
		switch {
		case errors.Is(err, errStopped):
			return
		case err != nil:
			l.tally.honestError("%s (first login): %v", user, err)
		case status != http.StatusOK || !hasToken(body):
			l.tally.honestError("%s (first login): status %d: %.200s", user, status, body)
		default:
			l.tally.honest.Add(1)
			l.tally.firstLogin.Add(1)
		}
		pause(ctx, 500*time.Millisecond)
	}
}

// slowHonestLoop sends an anonymous request to nginx one byte every 20 ms
// (about 2.5 s a request), then reads the answer, which must be a token.
func (l *load) slowHonestLoop(ctx context.Context) {
	request := "GET /v2/token?" + anonymousQuery + " HTTP/1.1\r\nHost: " + l.host + "\r\nConnection: close\r\n\r\n"
	for i := 0; i < l.maxRounds && ctx.Err() == nil; i++ {
		status, body, err := l.trickleHTTP(ctx, request, 20*time.Millisecond)
		switch {
		case errors.Is(err, errStopped):
			return
		case err != nil:
			l.tally.honestError("slow client: %v", err)
		case status != http.StatusOK || !hasToken(body):
			l.tally.honestError("slow client: status %d: %.200s", status, body)
		default:
			l.tally.honest.Add(1)
			l.tally.slow.Add(1)
		}
	}
}

func (l *load) trickleHTTP(ctx context.Context, request string, every time.Duration) (int, []byte, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", l.nginx)
	if err != nil {
		return 0, nil, stopped(ctx, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	c.SetDeadline(time.Now().Add(time.Duration(len(request))*every + l.timeout))
	for i := range len(request) {
		if _, err := c.Write([]byte{request[i]}); err != nil {
			return 0, nil, stopped(ctx, err)
		}
		pause(ctx, every)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, nil, stopped(ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, body, stopped(ctx, err)
}

// brokenLoop writes every malformed stream in turn to socket, then one
// well-formed anonymous request that must still be served.
func (l *load) brokenLoop(ctx context.Context, socket string, streams []brokenStream, head func([][2]string) []byte) {
	name := "scgi"
	if socket == l.uwsgi {
		name = "uwsgi"
	}
	for i := 0; i < l.maxRounds && ctx.Err() == nil; i++ {
		for _, s := range streams {
			status, err := exchange(ctx, socket, s.payload(), l.timeout)
			switch {
			case errors.Is(err, errStopped):
				return
			case err != nil:
				l.tally.unanswered.Add(1)
				l.tally.problem("%s %s: %v", name, s.name, err)
			case status >= 400 && status < 500:
				l.tally.broken.Add(1)
				l.tally.rejected.Add(1)
			case status != 0 && s.anyAnswer:
				l.tally.broken.Add(1)
				l.tally.served.Add(1)
			case status != 0:
				l.tally.unanswered.Add(1)
				l.tally.problem("%s %s: answered %d", name, s.name, status)
			default:
				l.tally.broken.Add(1) // closed without an answer: fine for an empty stream or a reset
			}
			pause(ctx, 5*time.Millisecond)
		}
		status, err := exchange(ctx, socket, head(cgiVars("0")), l.timeout)
		switch {
		case errors.Is(err, errStopped):
			return
		case err != nil || status != http.StatusOK:
			l.tally.honestError("%s direct request: status %d, %v", name, status, err)
		default:
			l.tally.honest.Add(1)
			l.tally.direct.Add(1)
		}
	}
}

// trickleLoop opens connections to socket that send the start of a request
// head one byte every 500 ms and never finish it. The server must cut each
// one at its request timeout.
func (l *load) trickleLoop(ctx context.Context, socket string, head func([][2]string) []byte) {
	start := head(cgiVars("0"))
	for i := 0; i < l.maxRounds && ctx.Err() == nil; i++ {
		err := trickleUntilCut(ctx, socket, start[:len(start)-1], 500*time.Millisecond, serverTimeout+10*time.Second)
		switch {
		case errors.Is(err, errStopped):
			return
		case err != nil:
			l.tally.notCut.Add(1)
			l.tally.problem("trickle to %s: %v", socket, err)
		default:
			l.tally.cutOff.Add(1)
		}
	}
}

// trickleUntilCut sends part one byte every tick, until a write fails
// because the server closed the connection (nil) or limit passes (an error).
// part is long enough that it never ends within limit.
func trickleUntilCut(ctx context.Context, socket string, part []byte, tick, limit time.Duration) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return stopped(ctx, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	begin := time.Now()
	for i := 0; i < len(part) && time.Since(begin) < limit; i++ {
		if _, err := c.Write(part[i : i+1]); err != nil {
			return stopped(ctx, nil)
		}
		pause(ctx, tick)
		if ctx.Err() != nil {
			return errStopped
		}
	}
	return fmt.Errorf("still open after %s", time.Since(begin).Round(time.Second))
}

// pause sleeps for d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
