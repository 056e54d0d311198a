package registrycheck

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v2"
)

// The keys of distribution's auth.token section that matter here.
var tokenKeys = []string{"realm", "service", "issuer", "rootcertbundle", "jwks", "signingalgorithms", "autoredirect"}

// parseDistribution reads the auth.token section of a config.yml. It uses
// the YAML library distribution itself parses its configuration with
// (go.yaml.in/yaml/v2, YAML 1.1), so values decode to the same types: a
// service written as a list is a list here too, and the registry would
// refuse it.
func parseDistribution(path string, data []byte) (*Registry, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrUnknownFormat, err)
	}
	if _, ok := doc["version"]; !ok {
		return nil, fmt.Errorf("%s: %w: no version key (distribution's config.yml starts with version: 0.1)", path, ErrUnknownFormat)
	}
	reg := &Registry{File: path, Flavor: Distribution}
	auth, _ := asMap(doc["auth"])
	tok, _ := asMap(auth["token"])
	for _, k := range tokenKeys {
		if v, ok := tok[k]; ok {
			if err := reg.setToken(path, "auth.token."+k, k, v); err != nil {
				return nil, err
			}
		}
	}
	return reg, nil
}

// asMap turns a YAML mapping (map[any]any in yaml v2) into one keyed by
// string, as distribution's Parameters are.
func asMap(v any) (map[string]any, bool) {
	m, ok := v.(map[any]any)
	if !ok {
		return nil, false
	}
	out := make(map[string]any, len(m))
	for k, val := range m {
		if s, ok := k.(string); ok {
			out[s] = val
		}
	}
	return out, true
}

// applyEnv applies one variable the way distribution's configuration
// parser does: REGISTRY_AUTH_TOKEN_REALM sets auth.token.realm, the key
// lower-cased, the value decoded as YAML (so "[RS256,ES256]" is a list).
// Variables for other sections are not about token auth and are skipped.
func applyEnv(reg *Registry, file, name, value string) error {
	key, ok := strings.CutPrefix(name, "REGISTRY_AUTH_TOKEN_")
	if !ok {
		return nil
	}
	var v any
	if err := yaml.Unmarshal([]byte(value), &v); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	return reg.setToken(file, name, strings.ToLower(key), v)
}

// setToken records one auth.token option. The string options must be
// strings: distribution refuses to start otherwise ("token auth requires a
// valid option string").
func (reg *Registry) setToken(file, key, option string, v any) error {
	switch option {
	case "autoredirect":
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("%s: %s must be true or false", file, key)
		}
		reg.AutoRedirect = b
		return nil
	case "signingalgorithms":
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %s must be a list of algorithms", file, key)
		}
		reg.SigningAlgorithms, reg.SigningAlgorithmsKey = nil, key
		for _, a := range list {
			reg.SigningAlgorithms = append(reg.SigningAlgorithms, fmt.Sprint(a))
		}
		return nil
	}
	s := Setting{File: file, Key: key, Set: true}
	if str, ok := v.(string); ok {
		s.Value = str
	} else {
		s.NotAString = fmt.Sprintf("%v", v)
	}
	switch option {
	case "realm":
		reg.Realm = s
	case "service":
		reg.Service = s
	case "issuer":
		reg.Issuer = s
	case "rootcertbundle":
		s.Value = resolve(file, s.Value)
		reg.Bundle = s
	case "jwks":
		s.Value = resolve(file, s.Value)
		reg.JWKS = s
	}
	return nil
}
