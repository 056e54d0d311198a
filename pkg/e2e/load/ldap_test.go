//go:build e2e

package load

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// The LDAP rows: regtoken with an [ldap] table in front of a slapd on
// loopback (the same two cores), cached directory logins (the keyed memory
// answers, the directory is not asked) and first-time ones (a search and a
// bind each), beside what slapd itself does with the connections regtoken's
// pools hold: binds alone, and the search and bind of one login.
const (
	ldapCachedUser = "ldapcached"
	ldapPassword   = "ldap-load-password"
	ldapPoolSize   = 4 // regtoken's default pool_size, per pool
)

// ldapDirectory is the slapd of the LDAP rows, with its fresh users.
type ldapDirectory struct {
	slapd *harness.Slapd
	fresh int // fresh users in the directory
	next  int // first one not used yet
}

func ldapFreshName(i int) string { return fmt.Sprintf("ldapfresh%05d", i) }

// startLDAP starts slapd with the cached user and the fresh ones, all in
// one group (listed in memberOf, named by its DN's cn, so reading groups
// costs no search), and the regtoken instance that logs them in.
func (s *stack) startLDAP(t *testing.T, full bool) *ldapDirectory {
	d := &ldapDirectory{fresh: 1500}
	if full {
		d.fresh = 60000 // first-time logins for 2 rows of 10 s at a few thousand a second
	}
	group := []string{harness.LDAPGroupDN("loadtest")}
	var ldif strings.Builder
	ldif.WriteString(harness.LDIFPerson(ldapCachedUser, ldapPassword, group))
	for i := range d.fresh {
		ldif.WriteString(harness.LDIFPerson(ldapFreshName(i), ldapPassword, group))
	}
	ldif.WriteString(harness.LDIFGroup("loadtest", []string{harness.LDAPUserDN(ldapCachedUser)}, nil))
	d.slapd = harness.StartSlapd(t, ldif.String())
	pw := filepath.Join(s.dir, "ldap.pw")
	harness.WriteFile(t, pw, harness.LDAPServicePassword, 0o600)
	s.ldap.config = fmt.Sprintf("[ldap]\nurl = [%q]\nbind_dn = %q\nbind_password_file = %q\nuser_base = \"ou=people,%s\"\n",
		d.slapd.URL, harness.LDAPServiceDN, pw, harness.LDAPSuffix)
	s.start(t, s.ldap)
	return d
}

// ldapRows measures cached and first-time directory logins and slapd's
// own rates (smoke: over SCGI only).
func (r *run) ldapRows() {
	some := []transport{transportNamed("scgi")}
	if r.set.full {
		some = append(some, transportNamed("http+keepalive"))
	}
	var keys []string
	for _, tr := range some {
		keys = append(keys, "cached LDAP password / "+tr.name, "first-time LDAP password / "+tr.name)
	}
	keys = append(keys, "raw LDAP simple bind (slapd) / 4 connections", "raw LDAP search + bind (slapd) / 4+4 connections")
	if !r.anyWanted(keys) {
		return
	}
	d := r.s.startLDAP(r.t, r.set.full)
	r.rawLDAPRows(d)
	in := r.s.ldap
	for _, tr := range some {
		r.wrkRow(regtokenRow("cached LDAP password", tr.name, in), r.port,
			load{path: in.path(tr) + query, auth: []string{basic(ldapCachedUser, ldapPassword)}}, ldapCachedUser)
	}
	for _, tr := range some {
		res := regtokenRow("first-time LDAP password", tr.name, in)
		if r.wanted(res.key()) {
			l, last := r.ldapFreshLoad(d, in.path(tr))
			r.wrkRow(res, r.port, l, last)
		}
	}
}

func (r *run) anyWanted(keys []string) bool {
	for _, k := range keys {
		if r.wanted(k) {
			return true
		}
	}
	return false
}

// ldapFreshLoad uses each fresh directory user once and returns the load
// and the user its probe logs in as (the last one). Smoke runs pause 10 ms
// between requests to stay within the users they have.
func (r *run) ldapFreshLoad(d *ldapDirectory, path string) (load, string) {
	l := load{path: path + query, connections: 2, delayMS: 10}
	per := 300
	if r.set.full {
		per, l.connections, l.delayMS = 14000, 16, 0
	}
	for range wrkThreads*per + 1 {
		if d.next == d.fresh {
			r.t.Fatalf("out of fresh directory users; raise ldapDirectory.fresh")
		}
		l.auth = append(l.auth, basic(ldapFreshName(d.next), ldapPassword))
		d.next++
	}
	return l, ldapFreshName(d.next - 1)
}

// checkLDAP makes sure an LDAP row measured what it says: cached answers
// ask the directory nothing, first-time ones once each, and neither runs
// bcrypt.
func (r *run) checkLDAP(res *result) {
	logins := res.use.metrics[`regtoken_ldap_logins_total{result="success"}`]
	tokens := float64(res.wrk.Requests - res.wrk.Status)
	switch {
	case res.use.metrics["regtoken_bcrypt_checks_total"] > 0:
		r.t.Errorf("%s: bcrypt ran for directory logins", res.key())
	case res.what == "cached LDAP password" && logins > 0:
		r.t.Errorf("%s: %v directory logins; the row should need none", res.key(), logins)
	case res.what == "first-time LDAP password" && logins < tokens:
		r.t.Errorf("%s: %v directory logins for %v tokens; every token should need one", res.key(), logins, tokens)
	case res.what == "first-time LDAP password":
		res.note = fmt.Sprintf("%.0f directory logins", logins)
		if raw := r.byKey["raw LDAP search + bind (slapd) / 4+4 connections"]; raw != nil && raw.rate > 0 {
			res.note += fmt.Sprintf(", %.0f%% of slapd's search + bind rate", 100*res.rate/raw.rate)
		}
	}
}

// rawLDAPRows measure slapd without regtoken: simple binds as the fresh
// users on ldapPoolSize connections, and a login's two operations (a
// search on a service connection, a bind on another) on ldapPoolSize
// pairs, each answer checked.
func (r *run) rawLDAPRows(d *ldapDirectory) {
	d.rawRow(r, "raw LDAP simple bind (slapd)", "4 connections", func(_, bind *ldap.Conn, user string) error {
		return bind.Bind(harness.LDAPUserDN(user), ldapPassword)
	})
	d.rawRow(r, "raw LDAP search + bind (slapd)", "4+4 connections", func(svc, bind *ldap.Conn, user string) error {
		res, err := svc.Search(ldap.NewSearchRequest("ou=people,"+harness.LDAPSuffix, ldap.ScopeWholeSubtree,
			ldap.NeverDerefAliases, 2, 0, false, "(uid="+ldap.EscapeFilter(user)+")", []string{"uid", "memberOf"}, nil))
		if err != nil {
			return err
		}
		if len(res.Entries) != 1 {
			return fmt.Errorf("%s: %d entries", user, len(res.Entries))
		}
		return bind.Bind(res.Entries[0].DN, ldapPassword)
	})
}

// rawRow runs op on ldapPoolSize connection pairs (a service-bound one and
// one for user binds) for the row's duration, as fresh users in turn.
func (d *ldapDirectory) rawRow(r *run, what, transport string, op func(svc, bind *ldap.Conn, user string) error) {
	res := &result{what: what, transport: transport, backend: "raw"}
	if !r.wanted(res.key()) {
		return
	}
	conns := make(chan [2]*ldap.Conn, ldapPoolSize)
	for range ldapPoolSize {
		svc, err1 := ldap.DialURL(d.slapd.URL)
		bind, err2 := ldap.DialURL(d.slapd.URL)
		if err1 != nil || err2 != nil {
			r.t.Fatalf("%s: %v %v", res.key(), err1, err2)
		}
		defer svc.Close()
		defer bind.Close()
		if err := svc.Bind(harness.LDAPServiceDN, harness.LDAPServicePassword); err != nil {
			r.t.Fatal(err)
		}
		conns <- [2]*ldap.Conn{svc, bind}
	}
	var n atomic.Int64
	r.quiet(30 * time.Second)
	rate, err := rawRate(ldapPoolSize, max(r.set.duration/2, time.Second), func() error {
		pair := <-conns
		defer func() { conns <- pair }()
		return op(pair[0], pair[1], ldapFreshName(int(n.Add(1))%d.fresh))
	})
	if err != nil {
		r.t.Errorf("%s: %v", res.key(), err)
	}
	res.rate, res.note = rate, "go-ldap in the test process against the same slapd"
	r.add(res)
}
