package main

import (
	"crypto"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/daemon"
	"github.com/regtoken/regtoken/pkg/endpoint"
	"github.com/regtoken/regtoken/pkg/registrycheck"
	"github.com/regtoken/regtoken/pkg/token"
)

var bundleUsage = usage{
	synopsis: "regtoken bundle [-config regtoken.toml] [-service NAME]",
	about: "Print the PEM bundle of every published certificate (the current key's, the next key's and the\n" +
		"previous ones', each once) for the registry's auth.token.rootcertbundle. A registry that loads it\n" +
		"accepts tokens signed by any of those keys, so the signing key can change without a failed pull.\n" +
		"The operator listener serves the same at /bundle.pem. See docs/keys.md.",
	example: "regtoken bundle -config /etc/regtoken/regtoken.toml > /etc/docker/registry/regtoken.pem",
	exit:    exitCheck,
}

var jwksUsage = usage{
	synopsis: "regtoken jwks [-config regtoken.toml] [-service NAME]",
	about: "Print the JWKS of every published public key (current, next, previous), each under its RFC 7638\n" +
		"thumbprint as kid, for distribution 3.x's auth.token.jwks. The operator listener serves the same at\n" +
		"/jwks.json. See docs/keys.md.",
	example: "regtoken jwks -config /etc/regtoken/regtoken.toml > /etc/docker/registry/regtoken.jwks",
	exit:    exitCheck,
}

func runBundle(args []string, stdout, stderr io.Writer) int {
	return printKeySet("bundle", args, stdout, stderr, func(k *token.KeySet) ([]byte, error) { return k.Bundle(), nil })
}

func runJWKS(args []string, stdout, stderr io.Writer) int {
	return printKeySet("jwks", args, stdout, stderr, (*token.KeySet).JWKS)
}

// printKeySet loads the key set of -service (the main one without it) and
// prints what render makes of it.
func printKeySet(name string, args []string, stdout, stderr io.Writer, render func(*token.KeySet) ([]byte, error)) int {
	fs := newFlags(name, stdout, stderr)
	path := configFlag(fs)
	service := fs.String("service", "", "the key set of service `NAME` ([token.service.NAME]); default the main key's")
	if _, code, ok := fs.parse(args, 0, 0); !ok {
		return code
	}
	cfg, ok := loadConfig(fs, *path)
	if !ok {
		return exitUsage
	}
	if *service != "" && !slices.Contains(cfg.Token.Services, *service) {
		fs.errorf("-service %q is not among token.services %q", *service, cfg.Token.Services)
		return exitUsage
	}
	main, services, err := daemon.LoadKeySets(cfg.Token)
	if err != nil {
		fmt.Fprintf(stderr, "regtoken %s: %v\n", name, err)
		return exitProblem
	}
	set := main
	if s, ok := services[*service]; ok {
		set = s
	}
	out, err := render(set)
	if err != nil {
		fmt.Fprintf(stderr, "regtoken %s: %v\n", name, err)
		return exitProblem
	}
	stdout.Write(out)
	return exitOK
}

// nextKeyVerdicts verifies a token signed by the next key of the
// registry's service, as the registry would at now: whether it already
// trusts the key that signs after the next promotion. nil without a next
// key; a warning when some version would refuse it.
func nextKeyVerdicts(reg *registrycheck.Registry, rt registrycheck.Regtoken, st *endpoint.State, now time.Time) ([]registrycheck.Verdict, []daemon.Finding) {
	set := st.KeysFor(reg.Service.Value)
	if set == nil || set.Next == nil || reg.Service.Value == "" {
		return nil, nil
	}
	current := rt.Signing
	rt.Signing = func(service string) registrycheck.Signing {
		sg := current(service)
		sg.Signer = set.Next
		return sg
	}
	sample, err := registrycheck.Sample(reg, rt, now)
	if err != nil {
		return nil, []daemon.Finding{{Severity: daemon.Warning, Message: fmt.Sprintf("next key: signing a sample token: %v", err)}}
	}
	verdicts := registrycheck.Verify(reg, sample, now)
	var findings []daemon.Finding
	for _, v := range verdicts {
		if !v.Accepts {
			findings = append(findings, daemon.Finding{Severity: daemon.Warning, Message: fmt.Sprintf(
				"registry %s: %s does not trust the next key yet (%s): do not promote it before this registry loads "+
					"the new bundle or JWKS (regtoken bundle, regtoken jwks)", reg.File, v.Registry, v.Why)})
		}
	}
	return verdicts, findings
}

// printRotation says where each key set is in its rotation and what to do
// next; nothing for a key set with one key.
func printRotation(out io.Writer, cfg *config.Config, st *endpoint.State, now time.Time) {
	print := func(whose string, files config.KeyFiles, set *token.KeySet) {
		r := files.Rotation
		stage := r.Stage()
		if stage == config.StageSteady {
			return
		}
		fmt.Fprintf(out, "rotation of %s: %s\n", whose, stage)
		if set.Next != nil {
			fmt.Fprintf(out, "  next key %s: %s, RFC 7638 kid %s, published in the bundle and the JWKS, not signing\n",
				r.Next.Key, set.Next.Algorithm(), mustThumbprint(set.Next.PublicKey()))
		}
		for i, p := range r.Previous {
			fmt.Fprintf(out, "  previous %s: published, not signing (kid %s)\n", p, mustThumbprint(set.Previous[i].Public))
		}
		for _, step := range rotationSteps(r, cfg.Token.Lifetimes, now) {
			fmt.Fprintf(out, "  next step: %s\n", step)
		}
	}
	print("token.key", cfg.Token.Main(), st.Keys)
	for _, name := range slices.Sorted(maps.Keys(st.ServiceKeys)) {
		print(fmt.Sprintf("service %q", name), cfg.Token.ServiceKeys[name], st.ServiceKeys[name])
	}
}

// rotationSteps says what to do next in a rotation at now.
func rotationSteps(r config.Rotation, l token.Lifetimes, now time.Time) []string {
	var steps []string
	if len(r.Previous) > 0 {
		switch after := r.RetireAfter(l); {
		case after.IsZero():
			steps = append(steps, "token.promoted_at is not set, so when the previous keys' last tokens expire is unknown; "+
				"retire them (regtoken key retire -force) once the longest token lifetime has passed since the promotion")
		case now.Before(after):
			steps = append(steps, fmt.Sprintf("wait until %s (promotion + the longest token lifetime %s + 60 s), then run regtoken key retire",
				after.UTC().Format(time.RFC3339), l.Longest()))
		default:
			steps = append(steps, "no token of the previous keys is valid any more: run regtoken key retire")
		}
	}
	if r.Next != nil {
		steps = append(steps, "make every registry load the new bundle or JWKS (regtoken check -registry FILE says whether it trusts "+
			"the next key), then run regtoken key promote")
	}
	return steps
}

func mustThumbprint(pub crypto.PublicKey) string {
	kid, err := token.RFC7638Thumbprint(pub)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return kid
}

// lifetimeText is the default lifetime, followed by the actions' own.
func lifetimeText(l token.Lifetimes) string {
	text := l.Default.String()
	for _, action := range []string{"pull", "push", "delete"} {
		if d := l.Of(action); d != l.Default {
			text += fmt.Sprintf(" (%s %s)", action, d)
		}
	}
	return text
}
