package main

import (
	"crypto"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/daemon"
	"github.com/regtoken/regtoken/pkg/registrycheck"
	"github.com/regtoken/regtoken/pkg/token"
)

// stringList collects a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// checkServiceKeys loads the keys of services that have their own and
// warns about services that share one: zot checks no aud, so a zot of one
// service accepts tokens signed for another with the same key.
func checkServiceKeys(cfg *config.Config, out io.Writer) int {
	signers, err := daemon.LoadServiceSigners(cfg.Token)
	if err != nil {
		fmt.Fprintf(out, "ERROR key: %v\n", err)
		return 1
	}
	for _, name := range slices.Sorted(maps.Keys(signers)) {
		fmt.Fprintf(out, "service %q: own key %s (%s), kid in tokens %q\n", name, cfg.Token.ServiceKeys[name].Key,
			signers[name].Algorithm(), signers[name].KeyID())
	}
	main, err := daemon.LoadSigner(cfg.Token)
	if err != nil {
		return 0 // checkSigner reported it
	}
	for _, group := range sharedKeys(cfg, main, signers) {
		fmt.Fprintf(out, "WARNING services %s are signed with one key: zot checks no aud, so a zot of one of them "+
			"accepts tokens meant for the others; give each zot service its own key ([token.service.NAME])\n", quoteAll(group))
	}
	return 0
}

// sharedKeys groups the services by signing key and returns the groups of
// two or more.
func sharedKeys(cfg *config.Config, main *token.Signer, signers map[string]*token.Signer) [][]string {
	type group struct {
		pub      crypto.PublicKey
		services []string
	}
	var groups []*group
	for _, svc := range cfg.Token.Services {
		pub := signerOf(svc, main, signers).PublicKey()
		i := slices.IndexFunc(groups, func(g *group) bool { return samePublicKey(g.pub, pub) })
		if i < 0 {
			groups = append(groups, &group{pub: pub})
			i = len(groups) - 1
		}
		groups[i].services = append(groups[i].services, svc)
	}
	var out [][]string
	for _, g := range groups {
		if len(g.services) > 1 {
			out = append(out, g.services)
		}
	}
	return out
}

func signerOf(service string, main *token.Signer, signers map[string]*token.Signer) *token.Signer {
	if s, ok := signers[service]; ok {
		return s
	}
	return main
}

func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// checkRegistry compares one registry's configuration (spec: FILE or
// CONFIG,ENVFILE) with regtoken's and verifies a sample token as that
// registry would at now. It returns the number of mismatches.
func checkRegistry(cfg *config.Config, spec string, now time.Time, out io.Writer) int {
	reg, err := loadRegistry(spec)
	if err != nil {
		fmt.Fprintf(out, "ERROR registry %s: %v\n", spec, err)
		return 1
	}
	rt, err := regtokenSide(cfg)
	if err != nil {
		fmt.Fprintf(out, "ERROR registry %s: %v\n", spec, err)
		return 1
	}
	fmt.Fprintf(out, "registry %s (%s):\n", spec, reg.Flavor)
	report := registrycheck.Check(reg, rt, now)
	for _, f := range report.Findings {
		fmt.Fprintf(out, "  %s\n", f)
	}
	for _, v := range report.Verdicts {
		fmt.Fprintf(out, "  %s\n", v)
	}
	if report.Mismatches() == 0 {
		fmt.Fprintln(out, "  no mismatch")
	}
	return report.Mismatches()
}

func loadRegistry(spec string) (*registrycheck.Registry, error) {
	if cfgFile, envFile, ok := strings.Cut(spec, ","); ok {
		return registrycheck.Load(cfgFile, envFile)
	}
	return registrycheck.LoadFile(spec)
}

// regtokenSide is what registrycheck needs to know of regtoken's
// configuration: names, listeners, and the key of each service.
func regtokenSide(cfg *config.Config) (registrycheck.Regtoken, error) {
	main, err := daemon.LoadSigner(cfg.Token)
	if err != nil {
		return registrycheck.Regtoken{}, err
	}
	signers, err := daemon.LoadServiceSigners(cfg.Token)
	if err != nil {
		return registrycheck.Regtoken{}, err
	}
	rt := registrycheck.Regtoken{
		File: cfg.File, Issuer: cfg.Token.Issuer, Services: cfg.Token.Services,
		Lifetime: cfg.Token.Lifetime, ClockSkew: cfg.Token.ClockSkew,
	}
	for _, l := range cfg.Listen {
		rt.Listeners = append(rt.Listeners, registrycheck.Listener{Protocol: l.Protocol, Address: l.Address})
	}
	rt.Signing = func(service string) registrycheck.Signing {
		sg := registrycheck.Signing{Signer: main, KeyFile: cfg.Token.Key, KeyKey: "token.key",
			CertFile: cfg.Token.Certificate, CertKey: "token.certificate"}
		if s, ok := signers[service]; ok {
			files := cfg.Token.ServiceKeys[service]
			sg = registrycheck.Signing{Signer: s, KeyFile: files.Key, KeyKey: fmt.Sprintf("token.service.%q.key", service),
				CertFile: files.Certificate, CertKey: fmt.Sprintf("token.service.%q.certificate", service)}
		}
		if sg.CertFile == "" {
			sg.CertKey = ""
		}
		for _, other := range cfg.Token.Services {
			if other != service && samePublicKey(signerOf(other, main, signers).PublicKey(), sg.Signer.PublicKey()) {
				sg.SharedWith = append(sg.SharedWith, other)
			}
		}
		return sg
	}
	return rt, nil
}

func quoteAll(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
