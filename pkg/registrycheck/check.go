package registrycheck

import (
	"fmt"
	"slices"
	"time"

	"github.com/regtoken/regtoken/pkg/token"
)

// Report is what Check found about one registry.
type Report struct {
	Findings []Finding
	Verdicts []Verdict
}

// Mismatches counts the findings that stop the registry from accepting
// regtoken's tokens; a refused sample token that no finding explains counts
// as one more, so that a report that looks clean never passes a refusal.
func (r Report) Mismatches() int {
	n := 0
	for _, f := range r.Findings {
		if f.Mismatch {
			n++
		}
	}
	if n == 0 && slices.ContainsFunc(r.Verdicts, func(v Verdict) bool { return !v.Accepts }) {
		n = 1
	}
	return n
}

// Check compares the configurations (Compare), then signs a sample token
// as regtoken would for the registry's service at now, and verifies it the
// way each version of the registry does (Verify).
func Check(reg *Registry, rt Regtoken, now time.Time) Report {
	r := Report{Findings: Compare(reg, rt, now)}
	if reg.Flavor == Zot && rt.ClockSkew == 0 {
		r.Findings = append(r.Findings, Finding{Text: fmt.Sprintf("%s: token.clock_skew is 0: zot checks iat and nbf "+
			"without leeway, so a zot whose clock is a second behind regtoken's refuses fresh tokens", rt.File)})
	}
	if reg.Service.Value == "" || reg.Service.NotAString != "" {
		return r
	}
	sample, err := Sample(reg, rt, now)
	if err != nil {
		r.Findings = append(r.Findings, Finding{Mismatch: true, Text: fmt.Sprintf("%s: signing a sample token: %v", rt.File, err)})
		return r
	}
	r.Verdicts = Verify(reg, sample, now)
	return r
}

// Sample signs what regtoken would hand a client of the registry's service
// at now: the registry's service as aud (whether or not regtoken serves
// it, so that the key is checked all the same), regtoken's issuer, and a
// pull grant on a repository of no consequence.
func Sample(reg *Registry, rt Regtoken, now time.Time) (string, error) {
	sg := rt.Signing(reg.Service.Value)
	if sg.Signer == nil {
		return "", fmt.Errorf("no signing key for service %q", reg.Service.Value)
	}
	access := []token.ResourceActions{{Type: "repository", Name: "regtoken/check", Actions: []string{"pull"}}}
	lifetime := rt.Lifetime
	if lifetime <= 0 {
		lifetime = 5 * time.Minute
	}
	return sg.Signer.Sign(token.NewClaims(rt.Issuer, "regtoken-check", reg.Service.Value, access, now, lifetime, rt.ClockSkew))
}
