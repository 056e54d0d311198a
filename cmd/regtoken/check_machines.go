package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/daemon"
	"github.com/regtoken/regtoken/pkg/oidc"
	"github.com/regtoken/regtoken/pkg/robot"
)

// checkMachines reports the OIDC issuers and the robots, and returns the
// number of problems: a key or CA file that cannot be read, a robots file
// that does not load. A robot that expired or expires within 14 days is a
// warning: the configuration is fine, a pipeline is about to break.
func checkMachines(cfg *config.Config, out io.Writer) int {
	problems := checkIssuers(cfg, out)
	rules, err := acl.Load(cfg.ACL)
	if err != nil {
		return problems // checkRules reported it
	}
	return problems + checkRobots(cfg, rules, out, time.Now())
}

func checkIssuers(cfg *config.Config, out io.Writer) int {
	issuers, err := daemon.ReadIssuerFiles(cfg.OIDC)
	if err != nil {
		fmt.Fprintf(out, "ERROR %v\n", err)
		return 1
	}
	problems := 0
	for _, i := range issuers {
		keys, err := i.CheckFiles()
		fmt.Fprintf(out, "oidc issuer %s: %s, audiences %q, keys %s, %d rule(s)\n",
			i.Name, i.URL, i.Audiences, keySource(i, keys), len(i.Rules))
		if err != nil {
			fmt.Fprintf(out, "ERROR oidc issuer %s: %v\n", i.Name, err)
			problems++
		}
		for n, r := range i.Rules {
			fmt.Fprintf(out, "  rule %d: when %s\n", n+1, describeClaims(r.Claims))
			for _, pattern := range slices.Sorted(maps.Keys(r.Repositories)) {
				fmt.Fprintf(out, "    %s -> %s\n", pattern, describeActions(r.Repositories[pattern]))
			}
			if len(r.Groups) > 0 {
				fmt.Fprintf(out, "    groups %s\n", strings.Join(r.Groups, ", "))
			}
			if r.Catalog {
				fmt.Fprintln(out, "    catalog")
			}
		}
	}
	return problems
}

func keySource(i oidc.Issuer, keys int) string {
	switch {
	case i.JWKSFile != "":
		return fmt.Sprintf("from %s (%d)", i.JWKSFile, keys)
	case i.JWKSURL != "":
		return "from " + i.JWKSURL
	}
	return "by discovery"
}

func describeClaims(claims map[string][]string) string {
	var parts []string
	for _, path := range slices.Sorted(maps.Keys(claims)) {
		parts = append(parts, fmt.Sprintf("%s in %q", path, claims[path]))
	}
	return strings.Join(parts, " and ")
}

func describeActions(actions []string) string {
	if len(actions) == 0 {
		return "deny"
	}
	return "[" + strings.Join(actions, " ") + "]"
}

func checkRobots(cfg *config.Config, rules *acl.Rules, out io.Writer, now time.Time) int {
	if cfg.Robots.File == "" {
		return 0
	}
	robots, err := daemon.LoadRobots(cfg.Robots.File, rules)
	if err != nil {
		fmt.Fprintf(out, "ERROR robots: %v\n", err)
		return 1
	}
	fmt.Fprintf(out, "robots %s: %d robot(s)\n", cfg.Robots.File, len(robots.Robots()))
	for _, r := range robots.Robots() {
		fmt.Fprintf(out, "robot %s: %s\n", r.Name, describeRules(r))
		switch {
		case r.Expires.IsZero():
		case r.Expired(now):
			fmt.Fprintf(out, "  WARNING expired %s: its logins are refused; rotate it with a new expiry or revoke it\n",
				r.Expires.UTC().Format(time.DateOnly))
		case r.Expires.Sub(now) < robot.WarnBefore:
			fmt.Fprintf(out, "  WARNING expires in %d days (%s): regtoken robot rotate %s -expires 90d, and update its users\n",
				int(r.Expires.Sub(now).Hours()/24), r.Expires.UTC().Format(time.DateOnly), r.Name)
		}
	}
	return 0
}
