//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// Bursts of concurrent password guesses from one address, through nginx.
// The throttle counts a guess when it is admitted, not when bcrypt has
// refused it, so a burst gets no more bcrypt checks than the thresholds
// allow, whatever its size, and the rest are answered 429 from the throttle.

// Throttle settings of the burst stacks: the pair threshold is the default,
// the address threshold and the in-flight cap are set low enough that a
// burst of 100 crosses both.
const (
	burstPairThreshold    = 5
	burstAddressThreshold = 30
	burstAddressInFlight  = 4
	burstSize             = 100
)

// burstStack is nginx + regtoken (over protocol) with the demo users (bcrypt cost
// 12, so a check takes long enough for a burst to arrive while it runs) and
// an operator socket for /metrics.
type burstStack struct {
	*harness.Stack
	op *http.Client
}

func startBurstStack(t *testing.T, protocol string) *burstStack {
	t.Helper()
	dir := harness.ShortDir(t)
	opSocket := filepath.Join(dir, "operator.sock")
	s := harness.StartStack(t, harness.StackOptions{Protocol: protocol, ExtraConfig: fmt.Sprintf(`
[throttle]
pair_threshold = %d
address_threshold = %d
address_in_flight = %d

[operator]
listen = "unix:%s"

[log]
audit = false
`, burstPairThreshold, burstAddressThreshold, burstAddressInFlight, opSocket)})
	s.Regtoken.WaitDial(t, "unix", opSocket, 10*time.Second)
	return &burstStack{Stack: s, op: harness.UnixHTTPClient(opSocket)}
}

// metric reads one unlabelled sample from /metrics (0 when absent).
func (b *burstStack) metric(t *testing.T, name string) float64 {
	t.Helper()
	v, _ := scrapeMetric(t, b.op, "http://operator/metrics", name)
	return v
}

// burstAnswer is what one request of a burst got.
type burstAnswer struct {
	status     int
	retryAfter string
	err        error
}

// guess sends one password for user through nginx, as GET with Basic auth
// or as the OAuth2 POST password grant.
func (b *burstStack) guess(post bool, user, pass string) burstAnswer {
	var req *http.Request
	if post {
		form := url.Values{"grant_type": {"password"}, "client_id": {"burst"}, "username": {user}, "password": {pass},
			"service": {b.Service}, "scope": {"repository:some-image:pull"}}
		req, _ = http.NewRequest("POST", b.Realm, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, _ = http.NewRequest("GET", b.Realm+"?service="+b.Service+"&scope=repository:some-image:pull", nil)
		req.SetBasicAuth(user, pass)
	}
	resp, err := burstClient.Do(req)
	if err != nil {
		return burstAnswer{err: err}
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return burstAnswer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
}

// burstClient opens a connection per request, as a guessing tool with many
// parallel attempts does.
var burstClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// fire sends the requests users[i]:passwords[i] all at once and returns
// their answers in the same order.
func (b *burstStack) fire(post bool, users, passwords []string) []burstAnswer {
	answers := make([]burstAnswer, len(users))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() {
			<-start
			answers[i] = b.guess(post, users[i], passwords[i])
		})
	}
	close(start)
	wg.Wait()
	return answers
}

// countStatuses counts answers by status; errors count under 0.
func countStatuses(answers []burstAnswer) map[int]int {
	n := map[int]int{}
	for _, a := range answers {
		n[a.status]++
	}
	return n
}

// checkRefusals fails the test for transport errors, statuses other than
// 401 or 429, and 429s without Retry-After, naming the first of each.
func checkRefusals(t *testing.T, answers []burstAnswer) {
	t.Helper()
	var errs, odd, bare []int
	for i, a := range answers {
		switch {
		case a.err != nil:
			errs = append(errs, i)
		case a.status == http.StatusTooManyRequests && a.retryAfter == "":
			bare = append(bare, i)
		case a.status != http.StatusUnauthorized && a.status != http.StatusTooManyRequests:
			odd = append(odd, i)
		}
	}
	if len(errs) > 0 {
		t.Errorf("%d requests failed, the first: %v", len(errs), answers[errs[0]].err)
	}
	if len(odd) > 0 {
		t.Errorf("%d requests got a status other than 401 or 429 (the throttle, not the bcrypt queue, must answer a burst), the first: %d",
			len(odd), answers[odd[0]].status)
	}
	if len(bare) > 0 {
		t.Errorf("%d answers 429 carry no Retry-After", len(bare))
	}
}

// burstOneUser fires 100 wrong passwords for foo at once and, once the
// first of them is in bcrypt, foo's right password from the same address.
func burstOneUser(t *testing.T, protocol string, post bool) {
	b := startBurstStack(t, protocol)
	before := b.metric(t, "regtoken_bcrypt_checks_total")
	users, passwords := make([]string, burstSize), make([]string, burstSize)
	for i := range users {
		users[i], passwords[i] = "foo", fmt.Sprintf("guess-%d", i)
	}
	wrong := make(chan []burstAnswer, 1)
	go func() { wrong <- b.fire(post, users, passwords) }()
	waitFor(t, "the first guess to reach bcrypt", func() bool {
		return b.metric(t, "regtoken_bcrypt_checks_total") > before
	})
	right := b.guess(post, "foo", "foo")
	answers := <-wrong
	checks := b.metric(t, "regtoken_bcrypt_checks_total") - before
	t.Logf("%d wrong passwords and the right one at once: bcrypt checks %.0f, wrong: %v, right: %d (Retry-After %q)",
		burstSize, checks, countStatuses(answers), right.status, right.retryAfter)

	checkRefusals(t, answers)
	if n := countStatuses(answers)[http.StatusUnauthorized]; n > burstPairThreshold {
		t.Errorf("%d wrong passwords were checked and refused (401); the pair threshold allows %d", n, burstPairThreshold)
	}
	if checks > burstPairThreshold {
		t.Errorf("%.0f bcrypt checks ran for the burst; the pair threshold allows %d", checks, burstPairThreshold)
	}
	if right.status != http.StatusTooManyRequests || right.retryAfter == "" {
		t.Errorf("the right password during the burst: status %d (Retry-After %q), want 429 with Retry-After: "+
			"while the address guesses, its passwords are not checked", right.status, right.retryAfter)
	}
}

// TestGuessBurstGET: a burst of Basic-auth guesses for one user, through
// nginx over each protocol regtoken speaks.
func TestGuessBurstGET(t *testing.T) {
	t.Parallel()
	for _, protocol := range []string{"scgi", "uwsgi", "fastcgi", "http"} {
		t.Run(protocol, func(t *testing.T) { burstOneUser(t, protocol, false) })
	}
}

// TestGuessBurstPOST: the same burst as OAuth2 password grants, over SCGI.
func TestGuessBurstPOST(t *testing.T) {
	t.Parallel()
	burstOneUser(t, "scgi", true)
}

// TestGuessBurstManyUsers: a burst of wrong passwords, one per user (known
// and unknown ones), from one address gets no more bcrypt checks than the
// address threshold, and never more at once than the in-flight cap.
func TestGuessBurstManyUsers(t *testing.T) {
	t.Parallel()
	b := startBurstStack(t, "scgi")
	before := b.metric(t, "regtoken_bcrypt_checks_total")
	users, passwords := make([]string, burstSize), make([]string, burstSize)
	for i := range users {
		users[i], passwords[i] = fmt.Sprintf("user-%d", i), "guess"
	}
	users[0], users[1] = "foo", "bar"
	done := make(chan []burstAnswer, 1)
	go func() { done <- b.fire(false, users, passwords) }()
	maxPending := 0.0
	var answers []burstAnswer
	for answers == nil {
		select {
		case answers = <-done:
		case <-time.After(5 * time.Millisecond):
			maxPending = max(maxPending, b.metric(t, "regtoken_throttle_pending_checks"))
		}
	}
	checks := b.metric(t, "regtoken_bcrypt_checks_total") - before
	t.Logf("%d users' wrong passwords at once: bcrypt checks %.0f, most pending seen %.0f, answers %v",
		burstSize, checks, maxPending, countStatuses(answers))
	checkRefusals(t, answers)
	if checks > burstAddressThreshold {
		t.Errorf("%.0f bcrypt checks ran for the burst; the address threshold allows %d", checks, burstAddressThreshold)
	}
	if maxPending > burstAddressInFlight {
		t.Errorf("%.0f checks were pending at once for one address; the cap is %d", maxPending, burstAddressInFlight)
	}
	if countStatuses(answers)[http.StatusTooManyRequests] == 0 {
		t.Errorf("no request of the burst was answered from the throttle (429)")
	}
}

// waitFor polls f every 2 ms for up to 10 s.
func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
