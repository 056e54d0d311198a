package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"

	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/daemon"
	"github.com/regtoken/regtoken/pkg/token"
)

// runCheck validates everything serve would load and prints what it found. It
// exits non-zero on any problem, so it can gate a deployment.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", stderr)
	path := fs.String("config", "regtoken.toml", "configuration file")
	var registries stringList
	fs.Var(&registries, "registry", "a registry's configuration to check against regtoken's: distribution's config.yml, "+
		"zot's JSON, or an env file of REGISTRY_AUTH_TOKEN_* variables; CONFIG,ENVFILE applies the variables over "+
		"config.yml (repeatable)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "config %s: ok (issuer %q, services %q, lifetime %s, clock skew %s)\n",
		cfg.File, cfg.Token.Issuer, cfg.Token.Services, cfg.Token.Lifetime, cfg.Token.ClockSkew)
	problems := checkSigner(cfg, stdout) + checkServiceKeys(cfg, stdout) + checkRules(cfg, stdout) + checkMachines(cfg, stdout)
	for _, r := range registries {
		problems += checkRegistry(cfg, r, time.Now(), stdout)
	}
	if problems > 0 {
		fmt.Fprintf(stdout, "%d problem(s) found\n", problems)
		return 1
	}
	fmt.Fprintln(stdout, "no problems found")
	return 0
}

func checkSigner(cfg *config.Config, out io.Writer) int {
	s, err := daemon.LoadSigner(cfg.Token)
	if err != nil {
		fmt.Fprintf(out, "ERROR key: %v\n", err)
		return 1
	}
	libtrust, _ := token.LibtrustKeyID(s.PublicKey())
	thumb, _ := token.ThumbprintKeyID(s.PublicKey())
	fmt.Fprintf(out, "key %s: %s, kid in tokens %q\n", cfg.Token.Key, s.Algorithm(), s.KeyID())
	fmt.Fprintf(out, "  libtrust key ID (registry 2.x): %s\n  RFC 7638 thumbprint (registry 3.x): %s\n", libtrust, thumb)
	chain := s.Certificates()
	if len(chain) == 0 {
		fmt.Fprintf(out, "WARNING no certificate: tokens carry only a %s kid; registry %s will reject them.\n"+
			"  Set token.certificate so tokens carry x5c and both registry 2.x and 3.x accept them.\n",
			cfg.Token.KeyID, map[string]string{"libtrust": "3.x", "thumbprint": "2.x"}[cfg.Token.KeyID])
		return 0
	}
	problems := 0
	now := time.Now()
	for i, c := range chain {
		left := c.NotAfter.Sub(now)
		fmt.Fprintf(out, "certificate %d %s: subject %q, valid %s to %s\n", i, cfg.Token.Certificate, c.Subject.String(),
			c.NotBefore.UTC().Format(time.DateOnly), c.NotAfter.UTC().Format(time.DateOnly))
		switch {
		case now.Before(c.NotBefore):
			fmt.Fprintf(out, "ERROR certificate %d is not valid yet: registries reject its tokens\n", i)
			problems++
		case left <= 0:
			fmt.Fprintf(out, "ERROR certificate %d expired %s: registries reject its tokens\n", i, c.NotAfter.UTC().Format(time.RFC3339))
			problems++
		case left < daemon.CertificateWarnBefore:
			fmt.Fprintf(out, "WARNING certificate %d expires in %d days: make a new one and add it to the registry's rootcertbundle\n", i, int(left.Hours()/24))
		}
	}
	fmt.Fprintln(out, "  the certificate matches the key; registries need it (or its root) in auth.token.rootcertbundle")
	return problems
}

func checkRules(cfg *config.Config, out io.Writer) int {
	rules, err := acl.Load(cfg.ACL)
	if err != nil {
		fmt.Fprintf(out, "ERROR rules: %v\n", err)
		return 1
	}
	users := rules.Users()
	fmt.Fprintf(out, "rules: %d user(s), %d group(s)\n", len(users), len(rules.Groups()))
	for _, name := range users {
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
		if u.TokensNotBefore.After(time.Now()) {
			fmt.Fprintf(out, "  WARNING tokens_not_before %s is in the future: every refresh token issued until then, "+
				"even after a new login, will be refused\n", u.TokensNotBefore.UTC().Format(time.RFC3339))
		}
	}
	for _, name := range rules.Groups() {
		fmt.Fprintf(out, "group %s:\n", name)
		gr, _ := rules.GroupRules(name)
		printRules(out, gr)
	}
	fmt.Fprintln(out, "anonymous, most specific rule first:")
	printRules(out, rules.Effective(acl.Subject{Anonymous: true}))
	problems := rules.Check()
	for _, p := range problems {
		fmt.Fprintf(out, "ERROR %s: %q: %s\n", p.File, p.Key, p.Message)
	}
	if cfg.LDAP != nil {
		return len(problems) + checkDirectory(cfg, rules, out)
	}
	return len(problems)
}

func printRules(out io.Writer, rules []acl.Rule) {
	if len(rules) == 0 {
		fmt.Fprintln(out, "  (no rules: nothing granted)")
	}
	for _, r := range rules {
		fmt.Fprintf(out, "  %s\n", r)
	}
}
