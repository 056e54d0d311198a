package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/daemon"
	"github.com/regtoken/regtoken/pkg/oidc"
	"github.com/regtoken/regtoken/pkg/robot"
)

// printIssuers says, per OIDC issuer, where its keys come from and how
// many rules it has. Its key and CA files were checked by Preflight; they
// are read again here only to count the keys.
func printIssuers(out io.Writer, cfg *config.Config) {
	issuers, err := daemon.ReadIssuerFiles(cfg.OIDC)
	if err != nil {
		issuers = cfg.OIDC // Preflight reported it
	}
	for _, i := range issuers {
		keys, _ := i.CheckFiles()
		fmt.Fprintf(out, "oidc issuer %s: %s, audiences %q, keys %s, %d rule(s)\n",
			i.Name, i.URL, i.Audiences, keySource(i, keys), len(i.Rules))
	}
}

// printIssuerRules lists each issuer's rules (check -list).
func printIssuerRules(out io.Writer, issuers []oidc.Issuer) {
	for _, i := range issuers {
		fmt.Fprintf(out, "oidc issuer %s, every rule whose claims match grants:\n", i.Name)
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

// printRobots lists each robot's rules and expiry (check -list).
func printRobots(out io.Writer, robots *robot.Set) {
	if robots == nil {
		return
	}
	now := time.Now()
	for _, r := range robots.Robots() {
		fmt.Fprintf(out, "robot %s: %s, expires %s\n", r.Name, describeRules(r), listExpiry(r, now))
	}
}
