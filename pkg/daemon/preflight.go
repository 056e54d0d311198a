package daemon

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/endpoint"
	"github.com/regtoken/regtoken/pkg/listen"
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
// the key, the certificate or the rule files do not load).
type Report struct {
	Findings []Finding
	State    *endpoint.State
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

// Preflight checks everything serve needs before it opens anything: the
// key (and its mode), the certificate, the rule files and their problems,
// and the listeners serve would open (specs) as this process would create
// them. serve and check both run it, so they cannot disagree about a
// configuration.
func Preflight(cfg *config.Config, specs []listen.Spec, a Activation, now time.Time) Report {
	var r Report
	signer, keyErr := LoadSigner(cfg.Token)
	if keyErr != nil {
		r.add(Fatal, "key: %v", keyErr)
	} else {
		r.checkKeyMode(cfg.Token)
		r.checkCertificates(cfg.Token, signer.Certificates(), now)
	}
	rules, rulesErr := acl.Load(cfg.ACL)
	if rulesErr != nil {
		r.add(Fatal, "rules: %v", rulesErr)
	} else {
		for _, p := range rules.Check() {
			r.add(Problem, "%s", p)
		}
		r.checkNotBefore(rules, now)
	}
	if keyErr == nil && rulesErr == nil {
		r.State = newState(cfg, signer, rules)
	}
	r.checkListeners(specs, a)
	r.checkAuditFile(cfg.Log.AuditFile)
	return r
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
	fi, err := os.Stat(t.Key)
	if err == nil && t.AllowReadableKey && exposed(fi.Mode()) {
		r.add(Warning, "key %s is readable by group or others (mode %04o) and accepted only because token.allow_readable_key = true; "+
			"outside a demo, chmod 600 the key and remove allow_readable_key", t.Key, fi.Mode().Perm())
	}
}

// checkCertificates reports a missing certificate (registry 3.x needs the
// x5c it puts into tokens) and certificates that are not valid now or
// expire within CertificateWarnBefore.
func (r *Report) checkCertificates(t config.Token, chain []*x509.Certificate, now time.Time) {
	if len(chain) == 0 {
		other := map[string]string{"libtrust": "3.x", "thumbprint": "2.x"}[t.KeyID]
		r.add(Warning, "no certificate: tokens carry only a %s kid; registry %s will reject them. "+
			"Set token.certificate so tokens carry x5c and both registry 2.x and 3.x accept them", t.KeyID, other)
	}
	for i, c := range chain {
		left := c.NotAfter.Sub(now)
		switch {
		case now.Before(c.NotBefore):
			r.add(Problem, "certificate %d is not valid until %s: registries reject its tokens", i, c.NotBefore.UTC().Format(time.RFC3339))
		case left <= 0:
			r.add(Problem, "certificate %d expired %s: registries reject its tokens", i, c.NotAfter.UTC().Format(time.RFC3339))
		case left < CertificateWarnBefore:
			r.add(Warning, "certificate %d expires in %d days: make a new one and add it to the registry's rootcertbundle", i, int(left.Hours()/24))
		}
	}
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
