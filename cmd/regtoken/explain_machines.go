package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/daemon"
	"github.com/regtoken/regtoken/pkg/oidc"
)

// machineSubject is explain's subject for -claims (what a CI job's or a
// pod's token would get, by its issuer's rules) or -robot (a robot's
// rules). ok is false when such a login would be refused; out then says why.
func machineSubject(cfg *config.Config, rules *acl.Rules, claimsFile, issuerName, robotName string, out io.Writer) (s acl.Subject, who string, ok bool, err error) {
	if robotName != "" {
		return robotSubject(cfg, rules, robotName, out)
	}
	data, err := os.ReadFile(claimsFile)
	if err != nil {
		return s, "", false, err
	}
	claims, err := oidc.ReadClaims(data)
	if err != nil {
		return s, "", false, fmt.Errorf("%s: %w", claimsFile, err)
	}
	iss, err := findIssuer(cfg.OIDC, claims, issuerName)
	if err != nil {
		return s, "", false, err
	}
	login, err := iss.Apply(claims, cfg.File)
	who = "token " + login.Name()
	for _, n := range login.Matched {
		fmt.Fprintf(out, "matched: oidc %s rule %d\n", iss.Name, n+1)
	}
	for _, skipped := range login.Skipped {
		fmt.Fprintf(out, "no grant from %s\n", skipped)
	}
	if err != nil {
		fmt.Fprintf(out, "%s is refused: it %v (a real request gets 401)\n", who, err)
		return s, who, false, nil
	}
	if len(login.Groups) > 0 {
		fmt.Fprintf(out, "groups: %s\n", strings.Join(login.Groups, ", "))
	}
	fmt.Fprintln(out, "note: explain does not verify the token's signature, audience or expiry; serve does")
	return acl.Subject{Name: login.Name(), Grants: login.Grants, Groups: login.Groups, NotInFiles: true}, who, true, nil
}

// findIssuer picks the issuer by name, or else by the claims' iss.
func findIssuer(issuers []oidc.Issuer, claims map[string]any, name string) (*oidc.Issuer, error) {
	iss, _ := claims["iss"].(string)
	for i := range issuers {
		if (name != "" && issuers[i].Name == name) || (name == "" && issuers[i].URL == iss) {
			return &issuers[i], nil
		}
	}
	if name != "" {
		return nil, fmt.Errorf("no [[oidc]] issuer is named %q", name)
	}
	return nil, fmt.Errorf("the claims' issuer %q is not configured ([[oidc]] issuer = ...); -issuer NAME picks one", iss)
}

func robotSubject(cfg *config.Config, rules *acl.Rules, name string, out io.Writer) (acl.Subject, string, bool, error) {
	robots, err := daemon.LoadRobots(cfg.Robots.File, rules)
	if err != nil || robots == nil {
		return acl.Subject{}, "", false, fmt.Errorf("robots: %v (is [robots] file = ... set?)", err)
	}
	for _, r := range robots.Robots() {
		if r.Name == name {
			if r.Expired(time.Now()) {
				fmt.Fprintf(out, "note: robot %s expired %s; a real request gets 401\n", name, r.Expires.UTC().Format("2006-01-02"))
			}
			return acl.Subject{Name: authn.RobotPrefix + name, Grants: r.Grants(robots.File()), NotInFiles: true}, "robot " + name, true, nil
		}
	}
	return acl.Subject{}, "", false, fmt.Errorf("no robot %q in %s", name, robots.File())
}
