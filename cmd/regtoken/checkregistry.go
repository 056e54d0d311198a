package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/daemon"
	"github.com/regtoken/regtoken/pkg/endpoint"
	"github.com/regtoken/regtoken/pkg/registrycheck"
)

// registryComparison is what check found comparing one registry's
// configuration with regtoken's: its findings join Preflight's, its
// verdicts are printed after the overview.
type registryComparison struct {
	spec     string
	flavor   string
	verdicts []registrycheck.Verdict
	// next are the verdicts on a token of the next key; nil without one.
	next     []registrycheck.Verdict
	findings []daemon.Finding
}

// compareRegistry compares one registry's configuration (spec: FILE or
// CONFIG,ENVFILE) with regtoken's and verifies a sample token as that
// registry would at now. A mismatch is an error; a sample token refused
// for a reason no mismatch explains is one too.
func compareRegistry(cfg *config.Config, st *endpoint.State, spec string, now time.Time) registryComparison {
	c := registryComparison{spec: spec}
	fail := func(format string, args ...any) registryComparison {
		c.findings = append(c.findings, daemon.Finding{Severity: daemon.Problem, Message: fmt.Sprintf(format, args...)})
		return c
	}
	if st == nil {
		return fail("registry %s: not compared: regtoken's own files do not load (see the errors above)", spec)
	}
	reg, err := loadRegistry(spec)
	if err != nil {
		return fail("registry %s: %v", spec, err)
	}
	rt := regtokenSide(cfg, st)
	report := registrycheck.Check(reg, rt, now)
	var nextFindings []daemon.Finding
	c.next, nextFindings = nextKeyVerdicts(reg, rt, st, now)
	c.findings = append(c.findings, nextFindings...)
	c.flavor, c.verdicts = string(reg.Flavor), report.Verdicts
	for _, f := range report.Findings {
		severity := daemon.Warning
		if f.Mismatch {
			severity = daemon.Problem
		}
		c.findings = append(c.findings, daemon.Finding{Severity: severity, Message: f.Text})
	}
	if report.Mismatches() > 0 && !slices.ContainsFunc(report.Findings, func(f registrycheck.Finding) bool { return f.Mismatch }) {
		for _, v := range report.Verdicts {
			if !v.Accepts {
				fail("registry %s: %s", spec, v)
			}
		}
	}
	return c
}

// printRegistries says, per registry, whether each version would accept
// regtoken's tokens.
func printRegistries(out io.Writer, compared []registryComparison) {
	for _, c := range compared {
		if c.flavor == "" {
			continue // not compared: the reason is among the errors
		}
		fmt.Fprintf(out, "registry %s (%s):\n", c.spec, c.flavor)
		for _, v := range c.verdicts {
			fmt.Fprintf(out, "  %s\n", v)
		}
		for _, v := range c.next {
			fmt.Fprintf(out, "  next key: %s\n", strings.Replace(v.String(), "regtoken's tokens", "the next key's tokens", 1))
		}
		if !slices.ContainsFunc(c.findings, func(f daemon.Finding) bool { return f.Severity != daemon.Warning }) {
			fmt.Fprintln(out, "  no mismatch")
		}
	}
}

func loadRegistry(spec string) (*registrycheck.Registry, error) {
	if cfgFile, envFile, ok := strings.Cut(spec, ","); ok {
		return registrycheck.Load(cfgFile, envFile)
	}
	return registrycheck.LoadFile(spec)
}

// regtokenSide is what registrycheck needs to know of regtoken's
// configuration: names, listeners, and the key of each service.
func regtokenSide(cfg *config.Config, st *endpoint.State) registrycheck.Regtoken {
	rt := registrycheck.Regtoken{
		File: cfg.File, Issuer: cfg.Token.Issuer, Services: cfg.Token.Services,
		Lifetime: cfg.Token.Lifetimes.Default, ClockSkew: cfg.Token.ClockSkew,
	}
	for _, l := range cfg.Listen {
		rt.Listeners = append(rt.Listeners, registrycheck.Listener{Protocol: l.Protocol, Address: l.Address})
	}
	rt.Signing = func(service string) registrycheck.Signing {
		sg := registrycheck.Signing{Signer: st.SignerFor(service), KeyFile: cfg.Token.Key, KeyKey: "token.key",
			CertFile: cfg.Token.Certificate, CertKey: "token.certificate"}
		if files, ok := cfg.Token.ServiceKeys[service]; ok {
			sg.KeyFile, sg.KeyKey = files.Key, fmt.Sprintf("token.service.%q.key", service)
			sg.CertFile, sg.CertKey = files.Certificate, fmt.Sprintf("token.service.%q.certificate", service)
		}
		if sg.CertFile == "" {
			sg.CertKey = ""
		}
		for _, other := range cfg.Token.Services {
			if other != service && st.SignerFor(other).SameKey(sg.Signer) {
				sg.SharedWith = append(sg.SharedWith, other)
			}
		}
		return sg
	}
	return rt
}
