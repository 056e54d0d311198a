package registrycheck

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Flavor is the registry family a configuration belongs to.
type Flavor string

const (
	// Distribution is distribution/registry 2.x and 3.x (Debian's
	// docker-registry, the registry image): one config.yml format.
	Distribution Flavor = "distribution"
	// Zot is project-zot's registry, configured by JSON.
	Zot Flavor = "zot"
)

// Setting is one value of a registry's configuration and where it came from,
// so that a finding can name the file and the key an operator must edit.
type Setting struct {
	Value string
	File  string // the file that set it: the config file or the env file
	Key   string // "auth.token.issuer", "REGISTRY_AUTH_TOKEN_ISSUER", "http.auth.bearer.cert"
	Set   bool
	// NotAString says what the value was when the key holds something other
	// than a string (a list, a number): the registry then refuses to start.
	NotAString string
}

// Registry is what a registry's configuration says about token
// authentication.
type Registry struct {
	File   string // the configuration file (or the env file, when given alone)
	Flavor Flavor
	Realm  Setting
	// Service is the audience the registry expects (aud).
	Service Setting
	// Issuer is the iss the registry expects; zot has none.
	Issuer Setting
	// Bundle is distribution's rootcertbundle or zot's cert: the path of
	// the certificates (or, for zot, the public key) it trusts. Relative
	// paths are resolved against the configuration file's directory.
	Bundle Setting
	// JWKS is distribution 3.x's jwks file.
	JWKS Setting
	// SigningAlgorithms is distribution 3.x's signingalgorithms; empty
	// means its default list.
	SigningAlgorithms    []string
	SigningAlgorithmsKey string
	// AutoRedirect is distribution's autoredirect: the registry then builds
	// the realm from the request's host and ignores Realm.
	AutoRedirect bool
}

// ErrUnknownFormat reports a file that is neither a distribution config.yml,
// an env file of REGISTRY_ variables, nor a zot JSON configuration.
var ErrUnknownFormat = errors.New("registrycheck: not a registry configuration")

// Load reads a registry's configuration. config is distribution's
// config.yml or zot's JSON (told apart by content); envFile, when not "",
// holds REGISTRY_* variables in docker --env-file form, which distribution
// applies over config.yml as it does its environment. config may be "" when
// everything about token auth comes from the environment, as with the
// registry image's own config.yml, which has no auth section.
func Load(config, envFile string) (*Registry, error) {
	var (
		reg *Registry
		err error
	)
	switch {
	case config == "" && envFile == "":
		return nil, fmt.Errorf("%w: no file given", ErrUnknownFormat)
	case config == "":
		reg = &Registry{File: envFile, Flavor: Distribution}
	default:
		reg, err = loadConfig(config)
		if err != nil {
			return nil, err
		}
	}
	if envFile != "" {
		if reg.Flavor != Distribution {
			return nil, fmt.Errorf("%s: REGISTRY_* variables apply to distribution only, not to %s", envFile, reg.Flavor)
		}
		if err := applyEnvFile(reg, envFile); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// LoadFile reads one file that is a registry's whole configuration as far
// as token auth goes: distribution's config.yml, zot's JSON, or an env file
// of REGISTRY_* variables alone (the registry image run with --env-file,
// whose own config.yml has no auth section), told apart by content.
func LoadFile(path string) (*Registry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if isEnvFile(data) {
		return Load("", path)
	}
	return Load(path, "")
}

// isEnvFile reports whether every line that is not blank or a comment is
// NAME=VALUE with a REGISTRY_ name: YAML and JSON configurations never are.
func isEnvFile(data []byte) bool {
	seen := false
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok || !strings.HasPrefix(name, "REGISTRY_") || strings.ContainsAny(name, " :") {
			return false
		}
		seen = true
	}
	return seen
}

// loadConfig reads config as zot's JSON when it is a JSON object, and as
// distribution's YAML otherwise.
func loadConfig(path string) (*Registry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		return parseZot(path, data)
	}
	return parseDistribution(path, data)
}

// applyEnvFile reads KEY=VALUE lines (blank lines and # comments skipped,
// one pair of surrounding quotes removed, as docker compose does) and
// applies the REGISTRY_AUTH_TOKEN_* ones.
func applyEnvFile(reg *Registry, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			return fmt.Errorf("%s:%d: want NAME=VALUE", path, n)
		}
		if err := applyEnv(reg, path, strings.TrimSpace(name), unquote(value)); err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
	}
	return sc.Err()
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// resolve makes a path from a registry configuration absolute against the
// directory of the file that named it. The registry itself resolves it
// against its working directory, which check cannot know; the file's
// directory is the best guess, and absolute paths, the usual case, are
// taken as they are.
func resolve(file, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(filepath.Dir(file), path)
}
