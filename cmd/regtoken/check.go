package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/daemon"
	"github.com/regtoken/regtoken/pkg/listen"
	"github.com/regtoken/regtoken/pkg/token"
)

var checkUsage = usage{
	synopsis: "regtoken check [-config regtoken.toml] [-listen PROTOCOL=ADDRESS[?OPTIONS] ...] [-registry FILE ...] [-list]",
	about: "Check everything serve needs, with the checks serve runs before it starts: the configuration, the keys\n" +
		"and their modes, the certificates, the rule files, robots, OIDC issuers' key files, the LDAP directory\n" +
		"(connected to with the service account, and asked about every user of the files), and the sockets\n" +
		"(their directory, owner and group, and whether nginx's group could connect). -registry compares a\n" +
		"registry's own configuration with regtoken's and verifies a sample token as that registry would.\n" +
		"Errors and warnings come first, then what was found; -list adds every user's, group's, robot's and\n" +
		"issuer's rules. Run it before every deployment or reload.",
	example: "regtoken check -config /etc/regtoken/regtoken.toml -registry /etc/docker/registry/config.yml && systemctl reload regtoken",
	exit: []string{"0  nothing stops serve (warnings may be printed)",
		"1  errors: serve would refuse to start, part of it would not work, or a registry would refuse its tokens",
		"2  bad command line, or a configuration file that does not load"},
}

// runCheck prints what daemon.Preflight finds, as serve would find it, and
// what each -registry would make of regtoken's tokens, then what the
// configuration amounts to. It exits 1 on any error, so it can gate a
// deployment.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", stdout, stderr)
	path := configFlag(fs)
	listens := listenFlag(fs)
	var registries stringList
	fs.Var(&registries, "registry", "a registry's configuration `FILE` to check regtoken's against, repeatable: distribution's\n"+
		"config.yml, zot's JSON, or an env file of REGISTRY_AUTH_TOKEN_* variables; CONFIG,ENVFILE applies\n"+
		"the variables over config.yml")
	list := fs.Bool("list", false, "also list every user's, group's, robot's and issuer's rules, most specific first")
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
	defer report.Close()
	findings := report.Findings
	var compared []registryComparison
	for _, spec := range registries {
		c := compareRegistry(cfg, report.State, spec, time.Now())
		findings = append(findings, c.findings...)
		compared = append(compared, c)
	}
	printFindings(stdout, findings)
	printOverview(stdout, cfg, specs, report)
	printRegistries(stdout, compared)
	if *list && report.State != nil {
		printRuleListing(stdout, cfg, report)
	}
	return printSummary(stdout, findings)
}

// printFindings prints errors, then warnings, one per line.
func printFindings(out io.Writer, findings []daemon.Finding) {
	for _, f := range findings {
		if f.Severity != daemon.Warning {
			fmt.Fprintln(out, "ERROR", f.Message)
		}
	}
	for _, f := range findings {
		if f.Severity == daemon.Warning {
			fmt.Fprintln(out, "WARNING", f.Message)
		}
	}
}

func printSummary(out io.Writer, findings []daemon.Finding) int {
	errs, warnings := 0, 0
	for _, f := range findings {
		if f.Severity == daemon.Warning {
			warnings++
		} else {
			errs++
		}
	}
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
// the key IDs registries will see, the certificates, the listeners, the
// size of the rules, the issuers, robots and directory. Without a State
// (a file did not load) it says only what the configuration names.
func printOverview(out io.Writer, cfg *config.Config, specs []listen.Spec, r daemon.Report) {
	fmt.Fprintf(out, "config %s: issuer %q, services %q, lifetime %s, clock skew %s\n",
		cfg.File, cfg.Token.Issuer, cfg.Token.Services, lifetimeText(cfg.Token.Lifetimes), cfg.Token.ClockSkew)
	st := r.State
	if st != nil {
		printSigner(out, cfg.Token.Key, cfg.Token.Certificate, st.Signer)
		for _, name := range slices.Sorted(maps.Keys(st.ServiceSigners)) {
			sg, files := st.ServiceSigners[name], cfg.Token.ServiceKeys[name]
			fmt.Fprintf(out, "service %q: own key %s (%s), kid in tokens %q\n", name, files.Key, sg.Algorithm(), sg.KeyID())
		}
	}
	for _, s := range specs {
		fmt.Fprintf(out, "listen %s%s\n", s, socketOptions(s))
	}
	if st == nil {
		return
	}
	fmt.Fprintf(out, "rules: %d user(s), %d group(s)\n", len(st.Rules.Users()), len(st.Rules.Groups()))
	printIssuers(out, cfg)
	if st.Robots != nil {
		fmt.Fprintf(out, "robots %s: %d robot(s)\n", cfg.Robots.File, len(st.Robots.Robots()))
	}
	if cfg.LDAP != nil {
		printDirectory(out, cfg.LDAP, r, st.Rules)
	}
	printRotation(out, cfg, st, time.Now())
}

func printSigner(out io.Writer, keyFile, certFile string, s *token.Signer) {
	libtrust, _ := token.LibtrustKeyID(s.PublicKey())
	thumb, _ := token.ThumbprintKeyID(s.PublicKey())
	fmt.Fprintf(out, "key %s: %s, kid in tokens %q\n", keyFile, s.Algorithm(), s.KeyID())
	fmt.Fprintf(out, "  libtrust key ID (registry 2.x): %s\n  RFC 7638 thumbprint (registry 3.x): %s\n", libtrust, thumb)
	for i, c := range s.Certificates() {
		fmt.Fprintf(out, "certificate %d %s: subject %q, valid %s to %s\n", i, certFile, c.Subject.String(),
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
// effective rules, most specific first, then those of the directory's
// users, the issuers and the robots (check -list).
func printRuleListing(out io.Writer, cfg *config.Config, r daemon.Report) {
	rules := r.State.Rules
	for _, name := range rules.Users() {
		u, _ := rules.User(name)
		fmt.Fprintf(out, "user %s", name)
		if len(u.Groups) > 0 {
			fmt.Fprintf(out, " (groups %s)", strings.Join(u.Groups, ", "))
		}
		if cfg.LDAP != nil && len(u.PassHash) == 0 {
			fmt.Fprint(out, " (no password in the files: the directory's groups are added below)")
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
	if cfg.LDAP != nil {
		printDirectoryUsers(out, cfg.LDAP, r.DirectoryUsers, rules)
	}
	printIssuerRules(out, cfg.OIDC)
	printRobots(out, r.State.Robots)
}

func printRules(out io.Writer, rules []acl.Rule) {
	if len(rules) == 0 {
		fmt.Fprintln(out, "  (no rules: nothing granted)")
	}
	for _, r := range rules {
		fmt.Fprintf(out, "  %s\n", r)
	}
}
