//go:build e2e

package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// ldapPeople is the test directory: alice in two groups (devs, ops); bob
// in qa; carol in platform, which is in engineering (nested); erin in no
// group; larry locked by the password policy; dana disabled (the user
// filter leaves out employeeType=disabled); and bar, whom users.json has
// with a password of its own.
var ldapPeople = harness.LDIFPerson("alice", "alice-pw", []string{harness.LDAPGroupDN("devs"), harness.LDAPGroupDN("ops")}) +
	harness.LDIFPerson("bob", "bob-pw", []string{harness.LDAPGroupDN("qa")}) +
	harness.LDIFPerson("carol", "carol-pw", []string{harness.LDAPGroupDN("platform")}) +
	harness.LDIFPerson("erin", "erin-pw", nil) +
	harness.LDIFPerson("larry", "larry-pw", []string{harness.LDAPGroupDN("devs")}, "pwdAccountLockedTime: 000001010000Z") +
	harness.LDIFPerson("dana", "dana-pw", []string{harness.LDAPGroupDN("devs")}, "employeeType: disabled") +
	harness.LDIFPerson("bar", "bar-directory", []string{harness.LDAPGroupDN("qa")}) +
	harness.LDIFGroup("devs", []string{harness.LDAPUserDN("alice"), harness.LDAPUserDN("larry"), harness.LDAPUserDN("dana")}, nil) +
	harness.LDIFGroup("ops", []string{harness.LDAPUserDN("alice")}, nil) +
	harness.LDIFGroup("qa", []string{harness.LDAPUserDN("bob"), harness.LDAPUserDN("bar")}, nil) +
	harness.LDIFGroup("engineering", []string{harness.LDAPGroupDN("platform")}, nil) +
	harness.LDIFGroup("platform", []string{harness.LDAPUserDN("carol")}, []string{harness.LDAPGroupDN("engineering")})

// ldapGroups are the rules of the directory's groups; ${user} gives each
// developer a namespace.
const ldapGroups = `{
  "devs": {"repositories": {"team/**": ["pull", "push"], "home/${user}/*": ["*"]}},
  "ops": {"repositories": {"*": ["pull"]}, "catalog": true},
  "qa": {"repositories": {"qa/**": ["pull", "push"]}},
  "engineering": {"repositories": {"eng/*": ["pull"]}},
  "platform": {"repositories": {"platform/*": ["pull", "push"]}}
}`

// ldapUsers has the files' own users (foo and bar, with passwords) and a
// rules-only entry for alice, a directory user: her deny beats her group's
// push.
var ldapUsers = fmt.Sprintf(`{
  "foo": {"pass_hash": %q, "repositories": {"some-image": ["pull"]}},
  "bar": {"pass_hash": %q, "repositories": {"bar/*": ["pull", "push"]}},
  "alice": {"repositories": {"team/secret": []}}
}`, hashFoo, hashBar)

// ldapUserFilter leaves disabled accounts out, as AD filters do with
// userAccountControl.
const ldapUserFilter = "(&(objectClass=inetOrgPerson)(uid=%s)(!(employeeType=disabled)))"

// ldapStack is nginx, regtoken with an [ldap] table, a registry and slapd.
type ldapStack struct {
	*harness.Stack
	slapd    *harness.Slapd
	operator *http.Client // regtoken's /healthz and /metrics
	base     string       // regtoken.toml without its [ldap] table
	pwFile   string       // the service account's password
	reloads  int
}

func startLDAPStack(t *testing.T) *ldapStack {
	t.Helper()
	slapd := harness.StartSlapd(t, ldapPeople)
	dir := harness.ShortDir(t)
	users, groups := filepath.Join(dir, "users.json"), filepath.Join(dir, "groups.json")
	harness.WriteFile(t, users, ldapUsers, 0o644)
	harness.WriteFile(t, groups, ldapGroups, 0o644)
	pw := filepath.Join(dir, "ldap.pw")
	harness.WriteFile(t, pw, harness.LDAPServicePassword+"\n", 0o600)
	opSock := filepath.Join(dir, "operator.sock")
	ldapTable := ldapSearchTable(slapd.URL, pw, "")
	// The subtests refuse many logins from one address; the address limit
	// is raised so they do not throttle each other, the per-user one is
	// kept (ldapRefusals runs into it).
	s := harness.StartStack(t, harness.StackOptions{Users: users, Groups: groups,
		ExtraConfig: fmt.Sprintf("[log]\naudit = true\nformat = \"json\"\n\n[throttle]\naddress_threshold = 1000\n\n[operator]\nlisten = \"unix:%s\"\n\n%s",
			opSock, ldapTable)})
	text, err := os.ReadFile(s.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	return &ldapStack{Stack: s, slapd: slapd, operator: harness.UnixHTTPClient(opSock), pwFile: pw,
		base: strings.TrimSuffix(string(text), ldapTable+"\n")}
}

// ldapSearchTable finds users by a search and groups by memberOf, nested.
func ldapSearchTable(url, pwFile, extra string) string {
	return fmt.Sprintf(`[ldap]
url = [%q]
bind_dn = %q
bind_password_file = %q
user_base = "ou=people,%s"
user_filter = %q
nested_groups = true
%s`, url, harness.LDAPServiceDN, pwFile, harness.LDAPSuffix, ldapUserFilter, extra)
}

// setLDAP replaces the [ldap] table and waits for regtoken to reload.
func (l *ldapStack) setLDAP(t *testing.T, table string) {
	t.Helper()
	l.reloads++
	harness.WriteFile(t, l.ConfigPath, l.base+table, 0o644)
	want := fmt.Sprintf(`regtoken_reloads_total{result="success"} %d`, l.reloads)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(l.get(t, "/metrics"), want) {
		if time.Now().After(deadline) {
			t.Fatalf("regtoken did not reload the new [ldap] table:\n%s", l.get(t, "/healthz"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// get reads an operator path.
func (l *ldapStack) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := l.operator.Get("http://regtoken" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// token asks for scopes as user and returns the answer and, on 200, the
// grants ("repository:team/app:pull,push", one per scope).
func (l *ldapStack) token(t *testing.T, user, pass string, scopes ...string) (oauthAnswer, []string) {
	t.Helper()
	a := oauthGet(t, l.Stack, url.Values{"scope": scopes}, user, pass)
	if a.status != 200 {
		return a, nil
	}
	parts := strings.Split(a.str("token"), ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var cl confClaims
	if err := json.Unmarshal(payload, &cl); err != nil {
		t.Fatal(err)
	}
	return a, cl.grants()
}

// wantGrants checks that user gets exactly want for scopes.
func (l *ldapStack) wantGrants(t *testing.T, user, pass string, scopes []string, want ...string) {
	t.Helper()
	a, got := l.token(t, user, pass, scopes...)
	if a.status != 200 || !slices.Equal(got, want) {
		t.Errorf("%s: %d %v, want 200 %v (%s)", user, a.status, got, want, a.raw)
	}
}

// wantRefused checks that a login gets status with a message that says so.
func (l *ldapStack) wantRefused(t *testing.T, user, pass string, status int, says string) oauthAnswer {
	t.Helper()
	a, _ := l.token(t, user, pass, "repository:team/app:pull")
	if a.status != status || !strings.Contains(a.raw, says) {
		t.Errorf("%q: %d %s, want %d saying %q", user, a.status, a.raw, status, says)
	}
	return a
}

// TestLDAP is LDAP login end to end: a real OpenLDAP with users, groups,
// nested groups, a locked and a disabled account; crane and docker pushing
// and pulling what the groups allow; refusals; hostile names seen on the
// wire; the users.json/directory conflict; ldaps and StartTLS; the
// directory stopped while regtoken serves; check and explain.
func TestLDAP(t *testing.T) {
	l := startLDAPStack(t)
	t.Run("crane", func(t *testing.T) { ldapCrane(t, l) })
	t.Run("docker", func(t *testing.T) { ldapDocker(t, l) })
	t.Run("rules", func(t *testing.T) { ldapRules(t, l) })
	t.Run("refusals", func(t *testing.T) { ldapRefusals(t, l) })
	t.Run("injection", func(t *testing.T) { ldapInjection(t, l) })
	t.Run("check-explain", func(t *testing.T) { ldapCheckExplain(t, l) })
	t.Run("precedence", func(t *testing.T) { ldapPrecedence(t, l) })
	t.Run("tls", func(t *testing.T) { ldapTLS(t, l) })
	t.Run("user-dn", func(t *testing.T) { ldapUserDN(t, l) })
	t.Run("failover", func(t *testing.T) { ldapFailover(t, l) })
	t.Run("directory-down", func(t *testing.T) { ldapDirectoryDown(t, l) })
	t.Run("no-secrets", func(t *testing.T) { ldapNoSecrets(t, l) })
}

// After every flow above, no password (the users' right and wrong ones, the
// service account's) shows in regtoken's log, audit lines, /healthz or
// /metrics.
func ldapNoSecrets(t *testing.T, l *ldapStack) {
	places := map[string]string{"log": l.Regtoken.Output(), "/healthz": l.get(t, "/healthz"), "/metrics": l.get(t, "/metrics")}
	for _, secret := range []string{"alice-pw", "bob-pw", "carol-pw", "erin-pw", "larry-pw", "dana-pw", "bar-directory",
		"not-alice-pw", "not-her-password", "not-erin-", "guess-", harness.LDAPServicePassword} {
		for where, text := range places {
			if strings.Contains(text, secret) {
				t.Errorf("%q shows in regtoken's %s", secret, where)
			}
		}
	}
}

// Each user pushes where a group lets it, pulls that back, and is refused
// a push elsewhere.
func ldapCrane(t *testing.T, l *ldapStack) {
	for _, c := range []struct{ user, pass, mine, other string }{
		{"alice", "alice-pw", "team/app", "qa/app"},
		{"bob", "bob-pw", "qa/app", "team/bob"},
		{"carol", "carol-pw", "platform/lib", "eng/lib"},
	} {
		craneLogout(t, l.Stack)
		craneLogin(t, l.Stack, c.user, c.pass)
		if out, ok := cranePush(t, l.Stack, c.mine+":"+c.user); !ok {
			t.Errorf("%s push %s: %s", c.user, c.mine, out)
		}
		if out, ok := crane(t, l.Stack, "digest", l.Host+"/"+c.mine+":"+c.user); !ok {
			t.Errorf("%s pull %s: %s", c.user, c.mine, out)
		}
		if out, ok := cranePush(t, l.Stack, c.other+":"+c.user); ok || !refused(out) {
			t.Errorf("%s push %s: want refused, got ok=%v %s", c.user, c.other, ok, out)
		}
	}
	craneLogout(t, l.Stack)
	craneLogin(t, l.Stack, "alice", "wrong")
	if out, ok := crane(t, l.Stack, "digest", l.Host+"/team/app:alice"); ok || !refused(out) {
		t.Errorf("crane with a wrong password: ok=%v %s", ok, out)
	}
	craneLogout(t, l.Stack)
}

// docker logs in as a directory user (no refresh token: docker keeps the
// password), pushes to the team, pulls, and is refused qa.
func ldapDocker(t *testing.T, l *ldapStack) {
	if _, why := harness.DockerEngine(t); why != "" {
		t.Logf("THE DOCKER PART DID NOT RUN: %s", why)
		return
	}
	docker := func(stdin string, args ...string) (string, bool) {
		return confRunIn(t, l.Stack, stdin, "docker", args...)
	}
	ref, qaRef := l.Host+"/team/docker:alice", l.Host+"/qa/docker:alice"
	defer docker("", "rmi", "-f", ref, qaRef)
	if out, ok := docker("wrong\n", "login", "-u", "alice", "--password-stdin", l.Host); ok {
		t.Fatalf("docker login with a wrong password succeeded: %s", out)
	}
	out, ok := docker("alice-pw\n", "login", "-u", "alice", "--password-stdin", l.Host)
	if !ok || !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("docker login alice: %s", out)
	}
	if out, ok := docker("", "import", layer(t, t.TempDir(), "docker-ldap"), ref); !ok {
		t.Fatalf("docker import: %s", out)
	}
	if out, ok := docker("", "push", ref); !ok {
		t.Errorf("docker push %s: %s", ref, out)
	}
	// The engine's token requests came as alice, with the password docker
	// kept, and were granted the push.
	time.Sleep(auditFlushWait)
	pushed := regexp.MustCompile(`"user":"alice"[^\n]*"granted":\["repository:team/docker:[a-z,]*push`)
	if !pushed.MatchString(l.Regtoken.Output()) {
		t.Errorf("no audit line shows alice granted a push to team/docker")
	}
	docker("", "rmi", ref)
	if out, ok := docker("", "pull", ref); !ok {
		t.Errorf("docker pull %s: %s", ref, out)
	}
	docker("", "tag", ref, qaRef)
	if out, ok := docker("", "push", qaRef); ok || !refused(out) {
		t.Errorf("docker push %s: want refused, got ok=%v %s", qaRef, ok, out)
	}
}

// The directory's groups decide with the rules' whole table: a user's
// own deny over its group, ${user}, the catalog, nested groups, and a user
// in no group getting the public rules only.
func ldapRules(t *testing.T, l *ldapStack) {
	l.wantGrants(t, "alice", "alice-pw",
		[]string{"repository:team/secret:pull,push", "repository:home/alice/x:delete", "repository:home/bob/x:pull,push", "registry:catalog:*", "repository:qa/y:pull,push"},
		"repository:team/secret:", "repository:home/alice/x:delete", "repository:home/bob/x:pull", "registry:catalog:*", "repository:qa/y:pull")
	l.wantGrants(t, "carol", "carol-pw", []string{"repository:eng/lib:pull,push", "repository:team/app:pull"},
		"repository:eng/lib:pull", "repository:team/app:")
	l.wantGrants(t, "erin", "erin-pw", []string{"repository:team/app:pull", "repository:some-image:pull"},
		"repository:team/app:", "repository:some-image:pull")
	// No refresh token for a directory login: nothing would revoke it.
	a := oauthGet(t, l.Stack, url.Values{"offline_token": {"true"}, "client_id": {"docker"}, "account": {"bob"}}, "bob", "bob-pw")
	if a.status != 200 || a.str("refresh_token") != "" {
		t.Errorf("docker-login-style request by bob: %d, refresh token %q", a.status, a.str("refresh_token"))
	}
}

// Wrong passwords, unknown users, the empty password, and the locked and
// disabled accounts are all 401 with the same message. An unknown user
// costs the directory what a known one does: a search and a bind; an empty
// password costs it nothing, and is never a bind. Failed directory logins
// are throttled like any other.
func ldapRefusals(t *testing.T, l *ldapStack) {
	const says = "incorrect username or password"
	for _, c := range []struct{ user, pass string }{
		{"alice", "not-alice-pw"}, {"mallory", "alice-pw"}, {"larry", "larry-pw"}, {"dana", "dana-pw"},
	} {
		mark := l.mark()
		l.wantRefused(t, c.user, c.pass, 401, says)
		got := l.waitBinds(t, mark, 1)
		if len(got) != 1 {
			t.Errorf("%s: the directory saw binds %q, want one", c.user, got)
		} else if c.user == "mallory" && !strings.Contains(got[0], "regtoken-no-such-user") {
			t.Errorf("the unknown user bound as %q, want the dummy entry", got[0])
		}
	}
	mark := l.mark()
	l.wantRefused(t, "alice", "", 401, says)
	if got := l.waitBinds(t, mark, 1); len(got) != 0 {
		t.Errorf("an empty password reached the directory as binds %q", got)
	}
	ldapTiming(t, l)
	for i := range 10 {
		a, _ := l.token(t, "erin", fmt.Sprintf("not-erin-%d", i), "repository:x:pull")
		if a.status == 429 && strings.Contains(a.raw, "too many failed logins") {
			t.Logf("erin throttled after %d wrong passwords: %s", i+1, a.raw)
			return
		}
	}
	t.Error("ten wrong directory passwords for erin were never throttled")
}

// slapd's log reaches the test through a pipe, a moment after the answers
// it logs. mark waits until it has stopped growing and returns its length,
// so that what a step reads after the mark is that step's alone; waitBinds
// and waitLog wait for what a step expects to arrive.

func (l *ldapStack) mark() int {
	n := len(l.slapd.Log())
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		m := len(l.slapd.Log())
		if m == n {
			break
		}
		n = m
	}
	return n
}

// waitBinds returns the DNs of the binds slapd logged after mark, waiting
// up to a second for want of them.
func (l *ldapStack) waitBinds(t *testing.T, mark, want int) []string {
	deadline := time.Now().Add(time.Second)
	for {
		got := slapdBinds(l.slapd.Log()[mark:])
		if len(got) >= want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitLog returns what slapd logged after mark once it holds every want,
// waiting up to two seconds; ok is false if it never does.
func (l *ldapStack) waitLog(mark int, wants ...string) (log string, ok bool) {
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		log, ok = l.slapd.Log()[mark:], true
		for _, w := range wants {
			ok = ok && strings.Contains(log, w)
		}
		if ok || time.Now().After(deadline) {
			return log, ok
		}
	}
}

func slapdBinds(log string) []string {
	var dns []string
	for _, m := range regexp.MustCompile(`BIND dn="([^"]*)" method=128`).FindAllStringSubmatch(log, -1) {
		dns = append(dns, m[1])
	}
	return dns
}

// ldapTiming logs how long refusals of known and unknown users take, each
// with a password not tried before, so that every one reaches the
// directory (and no user fails often enough to be throttled).
func ldapTiming(t *testing.T, l *ldapStack) {
	median := func(users []string) time.Duration {
		var d []time.Duration
		for i := range 12 {
			start := time.Now()
			l.wantRefused(t, users[i%len(users)], fmt.Sprintf("guess-%d", i), 401, "incorrect")
			d = append(d, time.Since(start))
		}
		slices.Sort(d)
		return d[len(d)/2]
	}
	known := median([]string{"alice", "bob", "carol", "bar"})
	var nobody []string
	for i := range 12 {
		nobody = append(nobody, fmt.Sprintf("nobody-%d", i))
	}
	unknown := median(nobody)
	t.Logf("median refusal through nginx: known directory user %s, unknown user %s", known, unknown)
	// The directory's own share of any difference: the same bind and user
	// search straight to slapd, without regtoken.
	t.Logf("median refused bind straight to slapd: known user's DN %s, a DN nobody has %s",
		l.medianLDAP(t, "", func(c *ldap.Conn, i int) error {
			return c.Bind("uid=alice,ou=people,"+harness.LDAPSuffix, fmt.Sprint("guess-", i))
		}),
		l.medianLDAP(t, "", func(c *ldap.Conn, i int) error {
			return c.Bind("cn=regtoken-no-such-user,ou=people,"+harness.LDAPSuffix, fmt.Sprint("guess-", i))
		}))
	search := func(name string) func(*ldap.Conn, int) error {
		return func(c *ldap.Conn, _ int) error {
			_, err := c.Search(ldap.NewSearchRequest("ou=people,"+harness.LDAPSuffix, ldap.ScopeWholeSubtree,
				ldap.NeverDerefAliases, 2, 5, false, fmt.Sprintf(ldapUserFilter, ldap.EscapeFilter(name)),
				[]string{"uid", "memberOf"}, nil))
			return err
		}
	}
	t.Logf("median user search straight to slapd: alice %s, nobody %s",
		l.medianLDAP(t, harness.LDAPServiceDN, search("alice")), l.medianLDAP(t, harness.LDAPServiceDN, search("nobody")))
}

// medianLDAP is the median time of 12 runs of op on one connection to
// slapd, bound as bindDN (the service account) when it is not empty. A
// refused bind is what op may return; any other error fails the test.
func (l *ldapStack) medianLDAP(t *testing.T, bindDN string, op func(c *ldap.Conn, i int) error) time.Duration {
	c, err := ldap.DialURL(l.slapd.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if bindDN != "" {
		if err := c.Bind(bindDN, harness.LDAPServicePassword); err != nil {
			t.Fatal(err)
		}
	}
	var d []time.Duration
	for i := range 12 {
		start := time.Now()
		if err := op(c, i); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			t.Fatalf("straight to slapd: %v", err)
		}
		d = append(d, time.Since(start))
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// hostileNames would change the user filter if regtoken put them in as
// they are; every one, with alice's password, is refused, and the filter
// slapd received has the template's shape with the name as one value.
var hostileNames = []string{"*", "al*", "alice)(uid=*", "*)(|(uid=*", "alice\x00", `alice\2a`, `\`, "alice)(objectClass=*"}

func ldapInjection(t *testing.T, l *ldapStack) {
	svc, err := ldap.DialURL(l.slapd.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if err := svc.Bind(harness.LDAPServiceDN, harness.LDAPServicePassword); err != nil {
		t.Fatal(err)
	}
	// Put in as they are, these names find entries (alice among them) or
	// break the filter: they are hostile. (Searched under the groups, so
	// that these searches do not mix with regtoken's in slapd's log.)
	for _, name := range hostileNames {
		naive := strings.ReplaceAll(ldapUserFilter, "%s", name)
		res, err := svc.Search(ldap.NewSearchRequest(harness.LDAPSuffix, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			0, 0, false, naive, []string{"uid"}, nil))
		if err == nil && len(res.Entries) > 0 {
			t.Logf("%q put in unescaped finds %d entries", name, len(res.Entries))
		}
	}
	for _, name := range hostileNames {
		mark := l.mark()
		l.wantRefused(t, name, "alice-pw", 401, "incorrect username or password")
		var filters []string
		for deadline := time.Now().Add(time.Second); len(filters) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			filters = slapdFilters(l.slapd.Log()[mark:])
		}
		if len(filters) != 1 {
			t.Errorf("%q: slapd saw searches %q, want one", name, filters)
			continue
		}
		wantUserFilter(t, name, filters[0])
	}
}

// slapdFilters are the filters of the searches slapd logged.
func slapdFilters(log string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`SRCH base="ou=people[^"]*" scope=2 deref=0 filter="(.*)"\n`).FindAllStringSubmatch(log, -1) {
		out = append(out, m[1])
	}
	return out
}

// wantUserFilter checks a filter slapd received for name: ldapUserFilter's
// three conditions, the uid one an equality with exactly name.
func wantUserFilter(t *testing.T, name, filter string) {
	t.Helper()
	p, err := ldap.CompileFilter(filter)
	if err != nil || p.Tag != ldap.FilterAnd || len(p.Children) != 3 {
		t.Errorf("%q: slapd received filter %s, not the template's three conditions (%v)", name, filter, err)
		return
	}
	// slapd logs the value as uid's matching rule normalizes it (lower
	// case); the shape is what escaping keeps.
	uid := p.Children[1]
	if uid.Tag != ldap.FilterEqualityMatch || !strings.EqualFold(uid.Children[0].Data.String(), "uid") || !strings.EqualFold(uid.Children[1].Data.String(), name) {
		t.Errorf("%q: slapd received filter %s, whose uid condition is not uid=%q", name, filter, name)
	}
}

// check connects with the service account and reports the user both
// users.json (with a password) and the directory have, and with -list the
// directory users' groups and rules; explain shows a directory user's
// groups and the rule that decided.
func ldapCheckExplain(t *testing.T, l *ldapStack) {
	out, err := exec.Command(harness.Binary(t), "check", "-list", "-config", l.ConfigPath).CombinedOutput()
	check := string(out)
	t.Logf("regtoken check:\n%s", check)
	for _, want := range []string{
		"ldap " + l.slapd.URL + ": ok (service bind as " + harness.LDAPServiceDN,
		"within 5m0s (ldap.cache_lifetime)",
		"ERROR user bar has a password in the files and is in the directory (uid=bar,ou=people," + harness.LDAPSuffix + "): set ldap.precedence",
		"directory user alice (uid=alice,ou=people," + harness.LDAPSuffix + "; directory groups devs (cn=devs,ou=groups," + harness.LDAPSuffix + "); ops (",
		`users.json: user alice, key "team/secret" -> deny`,
		`groups.json: group devs, key "team/**" -> [pull push]`,
		"group engineering: for members of a directory group named engineering",
	} {
		if !strings.Contains(check, want) {
			t.Errorf("check's output lacks %q", want)
		}
	}
	if err == nil {
		t.Error("check passed with a user in both users.json and the directory")
	}
	out, _ = exec.Command(harness.Binary(t), "explain", "-config", l.ConfigPath, "-user", "carol",
		"repository:eng/lib:pull,push", "repository:platform/x:push").CombinedOutput()
	explain := string(out)
	t.Logf("regtoken explain -user carol:\n%s", explain)
	for _, want := range []string{
		`note: "carol" logs in from the directory: uid=carol,ou=people,` + harness.LDAPSuffix,
		"engineering (cn=engineering,ou=groups,",
		`user carol repository:eng/lib:pull,push -> [pull] (by `,
		`groups.json: group engineering, key "eng/*")`,
		`user carol repository:platform/x:push -> [push] (by`,
	} {
		if !strings.Contains(explain, want) {
			t.Errorf("explain's output lacks %q", want)
		}
	}
}

// bar is in users.json with a password and in the directory with another.
// The files decide until ldap.precedence = "directory" says otherwise.
func ldapPrecedence(t *testing.T, l *ldapStack) {
	l.wantGrants(t, "bar", "bar", []string{"repository:bar/x:push"}, "repository:bar/x:push")
	l.wantRefused(t, "bar", "bar-directory", 401, "incorrect")
	l.setLDAP(t, l.ldapTable(`precedence = "directory"`))
	// With the directory deciding, bar's groups are the directory's (qa),
	// and users.json's own keys for bar still apply.
	l.wantGrants(t, "bar", "bar-directory", []string{"repository:qa/x:push", "repository:bar/x:push"}, "repository:qa/x:push", "repository:bar/x:push")
	l.wantRefused(t, "bar", "bar", 401, "incorrect")
	// foo is in the files only: still theirs.
	l.wantGrants(t, "foo", "foo", []string{"repository:some-image:pull"}, "repository:some-image:pull")
	out, err := exec.Command(harness.Binary(t), "check", "-config", l.ConfigPath).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `ldap.precedence = "directory" decides`) {
		t.Errorf("check with precedence set: %v\n%s", err, out)
	}
	l.setLDAP(t, l.ldapTable(""))
}

// ldapTable is the stack's search table with extra lines.
func (l *ldapStack) ldapTable(extra string) string {
	return ldapSearchTable(l.slapd.URL, l.pwFile, extra)
}

// ldaps:// with the test's CA, and groups by a group search this time
// (nested: platform is a member of engineering); then StartTLS on ldap://.
// A server whose certificate is not trusted is a directory that cannot be
// used: 503, and /healthz says why.
func ldapTLS(t *testing.T, l *ldapStack) {
	groupSearch := fmt.Sprintf("group_base = \"ou=groups,%s\"\ngroup_filter = \"(&(objectClass=groupOfNames)(member=%%s))\"\n", harness.LDAPSuffix)
	ldaps := ldapSearchTable(l.slapd.LDAPSURL, l.pwFile, groupSearch)
	l.setLDAP(t, ldaps)
	l.wantRefused(t, "carol", "carol-pw", 503, "user directory is unreachable")
	if h := l.get(t, "/healthz"); !strings.Contains(h, `"status":"unreachable"`) || !strings.Contains(h, "certificate") {
		t.Errorf("/healthz with an untrusted directory certificate: %s", h)
	}
	l.setLDAP(t, ldaps+fmt.Sprintf("ca_file = %q\n", l.slapd.CAFile))
	mark := l.mark()
	l.wantGrants(t, "carol", "carol-pw", []string{"repository:eng/lib:pull", "repository:platform/x:push"},
		"repository:eng/lib:pull", "repository:platform/x:push")
	if log, ok := l.waitLog(mark, ":"+portOf(l.slapd.LDAPSURL)+")", "TLS established"); !ok {
		t.Errorf("the login did not reach slapd's ldaps port over TLS:\n%s", log)
	}
	startTLS := strings.Replace(l.slapd.URL, "127.0.0.1", "localhost", 1)
	l.setLDAP(t, ldapSearchTable(startTLS, l.pwFile, groupSearch+fmt.Sprintf("start_tls = true\nca_file = %q\n", l.slapd.CAFile)))
	mark = l.mark()
	l.wantGrants(t, "carol", "carol-pw", []string{"repository:eng/lib:pull"}, "repository:eng/lib:pull")
	if log, ok := l.waitLog(mark, "EXT oid=1.3.6.1.4.1.1466.20037", "TLS established"); !ok {
		t.Errorf("the login did not StartTLS:\n%s", log)
	}
}

func portOf(rawURL string) string {
	u, _ := url.Parse(rawURL)
	return u.Port()
}

// user_dn binds with a DN made from the name, escaped for a DN: a hostile
// name, with alice's password, is refused, and the DN slapd saw has the
// template's four components with the name as the first one's value.
// Without a service account the user's own connection reads its groups.
func ldapUserDN(t *testing.T, l *ldapStack) {
	l.setLDAP(t, fmt.Sprintf("[ldap]\nurl = [%q]\nuser_dn = \"uid=%%s,ou=people,%s\"\nnested_groups = true\n", l.slapd.URL, harness.LDAPSuffix))
	l.wantGrants(t, "alice", "alice-pw", []string{"repository:team/app:push", "registry:catalog:*"},
		"repository:team/app:push", "registry:catalog:*")
	l.wantRefused(t, "alice", "wrong", 401, "incorrect username or password")
	for _, name := range []string{"alice,ou=people", "alice+cn=x", `alice\`, "#alice", " alice", `alice"`, "alice\x00", "ALICE"} {
		mark := l.mark()
		l.wantRefused(t, name, "alice-pw", 401, "incorrect username or password")
		for _, dn := range l.waitBinds(t, mark, 1) {
			parsed, err := ldap.ParseDN(dn)
			if err != nil || len(parsed.RDNs) != 4 || parsed.RDNs[0].Attributes[0].Value != name {
				t.Errorf("%q: slapd saw a bind as %q, not uid=<the name>,ou=people,%s (%v)", name, dn, harness.LDAPSuffix, err)
			}
		}
	}
}

// Servers are tried in the order listed: with the first one not answering,
// logins go to the second, and the log says so.
func ldapFailover(t *testing.T, l *ldapStack) {
	down := fmt.Sprintf("ldap://127.0.0.1:%d", harness.FreePort(t))
	l.setLDAP(t, strings.Replace(l.ldapTable(""), fmt.Sprintf("url = [%q]", l.slapd.URL), fmt.Sprintf("url = [%q, %q]", down, l.slapd.URL), 1))
	l.wantGrants(t, "bob", "bob-pw", []string{"repository:qa/x:push"}, "repository:qa/x:push")
	if !strings.Contains(l.Regtoken.Output(), "ldap: a server did not answer; using a later one in ldap.url") {
		t.Error("no warning that the first server did not answer")
	}
}

// The directory stops while regtoken serves: a login the directory vouched
// for within cache_lifetime keeps working, others get 503 with a message
// that says why (not 401: the password may be right), /healthz and the
// metrics show it, and logins work again once it is back.
func ldapDirectoryDown(t *testing.T, l *ldapStack) {
	l.setLDAP(t, l.ldapTable(`timeout = "2s"`)) // new options: nothing remembered yet
	scopes := []string{"repository:team/app:pull,push"}
	l.wantGrants(t, "alice", "alice-pw", scopes, "repository:team/app:pull,push")
	l.slapd.Stop()
	l.wantGrants(t, "alice", "alice-pw", scopes, "repository:team/app:pull,push")
	l.wantRefused(t, "bob", "bob-pw", 503, "cannot check the password now: the user directory is unreachable or busy; retry shortly")
	l.wantRefused(t, "alice", "not-her-password", 503, "user directory is unreachable")
	health := l.get(t, "/healthz")
	if !strings.Contains(health, `"status":"degraded"`) || !strings.Contains(health, `"ldap":{`) || !strings.Contains(health, `"status":"unreachable"`) {
		t.Errorf("/healthz with the directory down: %s", health)
	}
	metrics := l.get(t, "/metrics")
	for _, want := range []string{"regtoken_ldap_up 0", `regtoken_ldap_logins_total{result="unavailable"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(metrics, `regtoken_ldap_logins_total{result="unavailable"} 0`) {
		t.Error("no unavailable login counted")
	}
	l.slapd.Start(t)
	l.wantGrants(t, "bob", "bob-pw", []string{"repository:qa/x:push"}, "repository:qa/x:push")
	if health := l.get(t, "/healthz"); !strings.Contains(health, `"ldap":{"checked_at"`) || strings.Contains(health, "unreachable") {
		t.Errorf("/healthz with the directory back: %s", health)
	}
}
