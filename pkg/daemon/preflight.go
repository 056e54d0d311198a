package daemon

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/endpoint"
	"github.com/regtoken/regtoken/pkg/ldapauth"
	"github.com/regtoken/regtoken/pkg/listen"
	"github.com/regtoken/regtoken/pkg/oidc"
)

// Severity ranks what Preflight finds.
type Severity int

const (
	// Warning: serve logs it and starts; check prints it and exits 0.
	Warning Severity = iota
	// Problem: part of the service will not work as written (a user who
	// cannot log in, an expired certificate); serve logs a warning and
	// serves the rest, check exits 1.
	Problem
	// Fatal: serve refuses to start; check exits 1.
	Fatal
)

// Finding is one thing Preflight found.
type Finding struct {
	Severity Severity
	Message  string
}

// Report is what Preflight found, and the State serve starts with (nil when
// any file it needs does not load).
type Report struct {
	Findings []Finding
	State    *endpoint.State
	// Directory is the one the State authenticates with (nil without
	// [ldap] or without a State): serve makes it current, check closes it.
	Directory *ldapauth.Directory
	// DirectoryReached says the directory answered the service account.
	DirectoryReached bool
	// DirectoryUsers are what the directory says about each user of the
	// rule files, in the files' order (check prints them).
	DirectoryUsers []DirectoryUser
}

// Activation says whether systemd passed sockets to the process.
type Activation int

const (
	// ActivationUnknown is check's case: it cannot know how serve will be
	// started, so a configuration without listeners is only a warning.
	ActivationUnknown Activation = iota
	NotActivated
	Activated
)

// ActivationOf tells serve's case from the sockets systemd passed.
func ActivationOf(activated map[string][]net.Listener) Activation {
	if len(activated) > 0 {
		return Activated
	}
	return NotActivated
}

// errNoListeners is serve's answer to a configuration with nothing to serve on.
var errNoListeners = errors.New("nothing to listen on: add a [[listen]] table, -listen PROTOCOL=ADDRESS, or start from a systemd socket unit")

// Preflight checks everything serve needs before it opens anything: every
// file the State is built from (keys and their modes, certificates, rule
// files, robots, the issuers' key files, the directory's), what the loaded
// State says about itself (users who cannot log in, certificates and
// robots that expire, services sharing a key), what the directory says
// about the users of the files, and the listeners serve would open (specs)
// as this process would create them. serve and check both run it, so they
// cannot disagree about a configuration. This is check's entry: the State
// it builds fetches no issuer's keys, and its Directory is check's to Close.
func Preflight(cfg *config.Config, specs []listen.Spec, a Activation, now time.Time) Report {
	return preflight(cfg, specs, a, now, nil, nil)
}

// preflight is Preflight with what serve keeps from one State to the next:
// the issuers' key store, which starts fetching keys, and the directories,
// whose current one a new State reuses when its settings did not change.
// The State is built by buildState, as every reload's is.
func preflight(cfg *config.Config, specs []listen.Spec, a Activation, now time.Time, keys *oidc.Keys, dirs *directories) Report {
	var r Report
	dir, err := dirs.load(cfg)
	if err != nil {
		r.add(Fatal, "%v", err)
	}
	st, errs := buildState(cfg, keys, dir)
	for _, e := range errs {
		r.add(Fatal, "%v", e)
	}
	switch {
	case st != nil && err == nil:
		r.State, r.Directory = st, dir
		r.checkState(cfg, st, now)
		r.checkDirectory(cfg.LDAP, dir, st.Rules)
	case dir != nil:
		dirs.discard(dir)
	}
	r.checkListeners(specs, a)
	r.checkAuditFile(cfg.Log.AuditFile)
	r.checkStore(cfg)
	return r
}

// checkState reports what a loaded State says about itself. Preflight
// reports it at the start, and the reloader logs it after every reload.
func (r *Report) checkState(cfg *config.Config, st *endpoint.State, now time.Time) {
	r.checkKeyMode(cfg.Token)
	r.checkCertificates("", cfg.Token.KeyID, st.Signer.Certificates(), now)
	for _, service := range slices.Sorted(maps.Keys(st.ServiceSigners)) {
		r.checkCertificates(fmt.Sprintf("service %q: ", service), cfg.Token.KeyID, st.ServiceSigners[service].Certificates(), now)
	}
	r.checkSharedKeys(st)
	r.checkRotation(cfg, st, now)
	for _, p := range st.Rules.Check() {
		r.add(Problem, "%s", p)
	}
	r.checkNotBefore(st.Rules, now)
	r.checkRobots(st.Robots, now)
	r.checkGroupMap(cfg.LDAP, st.Rules)
}

// checkAuditFile reports an audit file serve could not open for appending.
func (r *Report) checkAuditFile(path string) {
	if path == "" {
		return
	}
	target, mode := path, uint32(unix.W_OK)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		target, mode = filepath.Dir(path), unix.W_OK|unix.X_OK // it will be created
	}
	if err := unix.Access(target, mode); err != nil {
		r.add(Fatal, "log.audit_file %s: cannot write %s: %v", path, target, err)
	}
}

func (r *Report) add(s Severity, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{Severity: s, Message: fmt.Sprintf(format, args...)})
}

// Close closes the report's directory. check calls it; serve hands the
// directory on instead.
func (r Report) Close() {
	if r.Directory != nil {
		r.Directory.Close()
	}
}

// Count returns how many findings have severity s.
func (r Report) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Log logs the findings as serve reports them: fatal ones as errors, the
// rest as warnings.
func (r Report) Log(log *slog.Logger) {
	for _, f := range r.Findings {
		if f.Severity == Fatal {
			log.Error(f.Message)
		} else {
			log.Warn(f.Message)
		}
	}
}

// checkNotBefore warns of a tokens_not_before in the future, almost always
// a typo: until then even a fresh login's refresh token is refused.
func (r *Report) checkNotBefore(rules *acl.Rules, now time.Time) {
	for _, name := range rules.Users() {
		if u, _ := rules.User(name); u.TokensNotBefore.After(now) {
			r.add(Warning, "user %s: tokens_not_before %s is in the future: every refresh token issued until then, "+
				"even after a new login, will be refused", name, u.TokensNotBefore.UTC().Format(time.RFC3339))
		}
	}
}

// checkKeyMode names, as a warning, a key that others can read and that
// LoadSigner accepted only because allow_readable_key is set.
func (r *Report) checkKeyMode(t config.Token) {
	if !t.AllowReadableKey {
		return
	}
	keys := []string{t.Key}
	for _, service := range slices.Sorted(maps.Keys(t.ServiceKeys)) {
		keys = append(keys, t.ServiceKeys[service].Key)
	}
	for _, key := range keys {
		if fi, err := os.Stat(key); err == nil && exposed(fi.Mode()) {
			r.add(Warning, "key %s is readable by group or others (mode %04o) and accepted only because token.allow_readable_key = true; "+
				"outside a demo, chmod 600 the key and remove allow_readable_key", key, fi.Mode().Perm())
		}
	}
}

// checkCertificates reports a missing certificate (registry 3.x needs the
// x5c it puts into tokens) and certificates that are not valid now or
// expire within CertificateWarnBefore. whose is "" for the key of every
// service without its own, else names the service.
func (r *Report) checkCertificates(whose, keyID string, chain []*x509.Certificate, now time.Time) {
	if len(chain) == 0 {
		other := map[string]string{"libtrust": "3.x", "thumbprint": "2.x"}[keyID]
		r.add(Warning, "%sno certificate: tokens carry only a %s kid; registry %s will reject them. "+
			"Set token.certificate so tokens carry x5c and both registry 2.x and 3.x accept them", whose, keyID, other)
	}
	for i, c := range chain {
		left := c.NotAfter.Sub(now)
		switch {
		case now.Before(c.NotBefore):
			r.add(Problem, "%scertificate %d is not valid until %s: registries reject its tokens", whose, i, c.NotBefore.UTC().Format(time.RFC3339))
		case left <= 0:
			r.add(Problem, "%scertificate %d expired %s: registries reject its tokens", whose, i, c.NotAfter.UTC().Format(time.RFC3339))
		case left < CertificateWarnBefore:
			r.add(Warning, "%scertificate %d expires in %d days: make a new one and add it to the registry's rootcertbundle", whose, i, int(left.Hours()/24))
		}
	}
}

// checkSharedKeys warns about services signed with one key: zot checks no
// aud, so a zot of one service accepts tokens signed for another.
func (r *Report) checkSharedKeys(st *endpoint.State) {
	for _, group := range SharedKeys(st) {
		quoted := make([]string, len(group))
		for i, s := range group {
			quoted[i] = strconv.Quote(s)
		}
		r.add(Warning, "services %s are signed with one key: zot checks no aud, so a zot of one of them accepts tokens "+
			"meant for the others; give each zot service its own key ([token.service.NAME])", strings.Join(quoted, ", "))
	}
}

// SharedKeys groups st's services by signing key, in the order of
// token.services, and returns the groups of two or more.
func SharedKeys(st *endpoint.State) [][]string {
	var groups [][]string
	for _, svc := range st.Services {
		i := slices.IndexFunc(groups, func(g []string) bool { return st.SignerFor(g[0]).SameKey(st.SignerFor(svc)) })
		if i < 0 {
			groups = append(groups, nil)
			i = len(groups) - 1
		}
		groups[i] = append(groups[i], svc)
	}
	return slices.DeleteFunc(groups, func(g []string) bool { return len(g) < 2 })
}

// checkListeners runs listen's checks on every spec: what would stop the
// socket from being created as asked is fatal, what would keep nginx out a
// warning.
func (r *Report) checkListeners(specs []listen.Spec, a Activation) {
	if len(specs) == 0 {
		switch a {
		case NotActivated:
			r.add(Fatal, "%v", errNoListeners)
		case ActivationUnknown:
			r.add(Warning, "no [[listen]] tables: serve will start only from a systemd socket unit (see deploy/systemd) or with -listen PROTOCOL=ADDRESS")
		}
		return
	}
	for _, s := range specs {
		warnings, err := s.Check()
		for _, e := range unjoin(err) {
			r.add(Fatal, "%v", e)
		}
		for _, w := range warnings {
			r.add(Warning, "%s", w)
		}
	}
}

// unjoin returns the errors errors.Join joined, one by one.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// startError is serve's error after Preflight logged fatal findings.
func (r Report) startError() error {
	n := r.Count(Fatal)
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%d %s above %s the start; `regtoken check` lists everything", n,
		plural(n, "problem", "problems"), plural(n, "stops", "stop"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
