package config

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/regtoken/regtoken/pkg/oidc"
)

// oidc turns the [[oidc]] tables into issuers, which package oidc checks.
// What is left here is the file's own business: audience as a shorthand
// for audiences, paths relative to the file, and claim values written as
// TOML strings, lists, numbers, booleans or nested tables.
func (v *validator) oidc(sections []oidcSection) []oidc.Issuer {
	var out []oidc.Issuer
	names := map[string]bool{}
	for n, s := range sections {
		key := fmt.Sprintf("oidc[%d]", n)
		i := oidc.Issuer{
			Name: s.Name, URL: s.Issuer, Audiences: s.Audiences,
			JWKSURL: s.JWKSURL, JWKSFile: v.path(s.JWKSFile), CAFile: v.path(s.CAFile),
			Algorithms: s.Algorithms, ClockSkew: s.ClockSkew.Duration, Refresh: s.Refresh.Duration,
		}
		if s.Audience != "" {
			i.Audiences = append([]string{s.Audience}, i.Audiences...)
		}
		if s.ClockSkew.set && s.ClockSkew.Duration == 0 {
			v.problem(key+".clock_skew", "must be positive (1s for almost none); leave it out for the default")
		}
		for r, rule := range s.Rules {
			claims, err := claimConditions(rule.Claims)
			if err != nil {
				v.problem(fmt.Sprintf("%s.rules[%d].claims", key, r), "%v", err)
			}
			i.Rules = append(i.Rules, oidc.Rule{Claims: claims, Repositories: rule.Repositories,
				Groups: rule.Groups, Catalog: rule.Catalog})
		}
		if names[s.Name] {
			v.problem(key+".name", "%q names two issuers", s.Name)
		}
		names[s.Name] = true
		v.invalid(key, i.Validate())
		out = append(out, i)
	}
	return out
}

// claimConditions flattens claims = {...} into claim paths and the values
// accepted for each.
func claimConditions(raw map[string]any) (map[string][]string, error) {
	out := map[string][]string{}
	var walk func(prefix string, m map[string]any) error
	walk = func(prefix string, m map[string]any) error {
		for name, value := range m {
			path := prefix + name
			if nested, ok := value.(map[string]any); ok {
				if err := walk(path+".", nested); err != nil {
					return err
				}
				continue
			}
			values, err := claimValues(path, value)
			if err != nil {
				return err
			}
			out[path] = values
		}
		return nil
	}
	return out, walk("", raw)
}

func claimValues(path string, value any) ([]string, error) {
	if list, ok := value.([]any); ok {
		var out []string
		for _, v := range list {
			s, ok := claimScalar(v)
			if !ok {
				return nil, fmt.Errorf("%s: want strings, numbers or booleans in the list", path)
			}
			out = append(out, s)
		}
		return slices.Clip(out), nil
	}
	s, ok := claimScalar(value)
	if !ok {
		return nil, fmt.Errorf("%s: want a string, number, boolean or a list of them", path)
	}
	return []string{s}, nil
}

func claimScalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	}
	return "", false
}
