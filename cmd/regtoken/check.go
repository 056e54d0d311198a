package main

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/daemon"
	"github.com/regtoken/regtoken/pkg/endpoint"
	"github.com/regtoken/regtoken/pkg/listen"
	"github.com/regtoken/regtoken/pkg/token"
)

var checkUsage = usage{
	synopsis: "regtoken check [-config regtoken.toml] [-listen PROTOCOL=ADDRESS[?OPTIONS] ...] [-list]",
	about: "Check everything serve needs, with the checks serve runs before it starts: the configuration, the key\n" +
		"and its mode, the certificate, the rule files, and the sockets (their directory, owner and group, and\n" +
		"whether nginx's group could connect). Errors and warnings come first, then what was found; -list adds\n" +
		"every user's and group's effective rules. Run it before every deployment or reload.",
	example: "regtoken check -config /etc/regtoken/regtoken.toml && systemctl reload regtoken",
	exit: []string{"0  nothing stops serve (warnings may be printed)", "1  errors: serve would refuse to start, or part of it would not work",
		"2  bad command line, or a configuration file that does not load"},
}

// runCheck prints what daemon.Preflight finds, as serve would find it, then
// what the configuration amounts to. It exits 1 on any error, so it can
// gate a deployment.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", stdout, stderr)
	path := configFlag(fs)
	listens := listenFlag(fs)
	list := fs.Bool("list", false, "also list every user's and group's effective rules, most specific first")
	if _, code, ok := fs.parse(args, 0, 0); !ok {
		return code
	}
	cfg, ok := loadConfig(fs, *path)
	if !ok {
		return exitUsage
	}
	specs := cfg.Listen
	if len(*listens) > 0 {
		specs = *listens
	}
	report := daemon.Preflight(cfg, specs, daemon.ActivationUnknown, time.Now())
	printFindings(stdout, report)
	printOverview(stdout, cfg, specs, report.State)
	if *list && report.State != nil {
		printRuleListing(stdout, report.State.Rules)
	}
	return printSummary(stdout, report)
}

// printFindings prints errors, then warnings, one per line.
func printFindings(out io.Writer, r daemon.Report) {
	for _, f := range r.Findings {
		if f.Severity != daemon.Warning {
			fmt.Fprintln(out, "ERROR", f.Message)
		}
	}
	for _, f := range r.Findings {
		if f.Severity == daemon.Warning {
			fmt.Fprintln(out, "WARNING", f.Message)
		}
	}
}

func printSummary(out io.Writer, r daemon.Report) int {
	errs := r.Count(daemon.Fatal) + r.Count(daemon.Problem)
	warnings := r.Count(daemon.Warning)
	switch {
	case errs > 0:
		fmt.Fprintf(out, "%s, %s\n", count(errs, "error"), count(warnings, "warning"))
		return exitProblem
	case warnings > 0:
		fmt.Fprintf(out, "no errors, %s\n", count(warnings, "warning"))
	default:
		fmt.Fprintln(out, "no problems found")
	}
	return exitOK
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// printOverview says what the configuration amounts to: the token settings,
// the key IDs registries will see, the certificates, the listeners and the
// size of the rules. st is nil when the key or the rules did not load.
func printOverview(out io.Writer, cfg *config.Config, specs []listen.Spec, st *endpoint.State) {
	fmt.Fprintf(out, "config %s: issuer %q, services %q, lifetime %s\n", cfg.File, cfg.Token.Issuer, cfg.Token.Services, cfg.Token.Lifetime)
	if st != nil {
		printSigner(out, cfg.Token, st.Signer)
	}
	for _, s := range specs {
		fmt.Fprintf(out, "listen %s%s\n", s, socketOptions(s))
	}
	if st != nil {
		fmt.Fprintf(out, "rules: %d user(s), %d group(s)\n", len(st.Rules.Users()), len(st.Rules.Groups()))
	}
}

func printSigner(out io.Writer, t config.Token, s *token.Signer) {
	libtrust, _ := token.LibtrustKeyID(s.PublicKey())
	thumb, _ := token.ThumbprintKeyID(s.PublicKey())
	fmt.Fprintf(out, "key %s: %s, kid in tokens %q\n", t.Key, s.Algorithm(), s.KeyID())
	fmt.Fprintf(out, "  libtrust key ID (registry 2.x): %s\n  RFC 7638 thumbprint (registry 3.x): %s\n", libtrust, thumb)
	for i, c := range s.Certificates() {
		fmt.Fprintf(out, "certificate %d %s: subject %q, valid %s to %s\n", i, t.Certificate, c.Subject.String(),
			c.NotBefore.UTC().Format(time.DateOnly), c.NotAfter.UTC().Format(time.DateOnly))
	}
	if len(s.Certificates()) > 0 {
		fmt.Fprintln(out, "  the certificate matches the key; registries need it (or its root) in auth.token.rootcertbundle")
	}
}

// socketOptions describes how a unix socket will be created: mode and group.
func socketOptions(s listen.Spec) string {
	if !strings.HasPrefix(s.Address, "unix:") {
		return ""
	}
	mode := cmp.Or(s.Mode, listen.DefaultMode)
	group := cmp.Or(s.Group, listen.DefaultGroup(), "the process's group")
	text := fmt.Sprintf(" (mode %04o, group %s", mode, group)
	if s.Owner != "" {
		text += ", owner " + s.Owner
	}
	return text + ")"
}

// printRuleListing prints every user's, group's and anonymous clients'
// effective rules, most specific first (check -list).
func printRuleListing(out io.Writer, rules *acl.Rules) {
	for _, name := range rules.Users() {
		u, _ := rules.User(name)
		fmt.Fprintf(out, "user %s", name)
		if len(u.Groups) > 0 {
			fmt.Fprintf(out, " (groups %s)", strings.Join(u.Groups, ", "))
		}
		fmt.Fprintln(out, ", most specific rule first:")
		printRules(out, rules.Effective(acl.Subject{Name: name}))
	}
	for _, name := range rules.Groups() {
		fmt.Fprintf(out, "group %s:\n", name)
		gr, _ := rules.GroupRules(name)
		printRules(out, gr)
	}
	fmt.Fprintln(out, "anonymous, most specific rule first:")
	printRules(out, rules.Effective(acl.Subject{Anonymous: true}))
}

func printRules(out io.Writer, rules []acl.Rule) {
	if len(rules) == 0 {
		fmt.Fprintln(out, "  (no rules: nothing granted)")
	}
	for _, r := range rules {
		fmt.Fprintf(out, "  %s\n", r)
	}
}
