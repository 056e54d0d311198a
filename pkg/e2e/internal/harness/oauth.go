//go:build e2e

package harness

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// DockerConfigPath is the config.json that docker and crane read with the
// stack's Env.
func (s *Stack) DockerConfigPath() string {
	return filepath.Join(s.Dir, "home", ".docker", "config.json")
}

// AuthFilePath is the auth.json that skopeo and podman read with the stack's
// Env (REGISTRY_AUTH_FILE).
func (s *Stack) AuthFilePath() string {
	return filepath.Join(s.Dir, "home", "auth.json")
}

// StoreIdentityToken writes user's identityToken for the stack's registry
// host into both client credential files, in the form `docker login` leaves
// behind when the token service returns a refresh token:
// {"auths":{HOST:{"auth":base64("user:"),"identitytoken":..}}}, no password.
// Clients then use the OAuth2 POST refresh_token grant. The "auth" entry
// matters: containers/image (skopeo 1.9) ignores an identitytoken whose
// entry has no "user:" auth.
func (s *Stack) StoreIdentityToken(t testing.TB, user, identityToken string) {
	t.Helper()
	entry := map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":")), "identitytoken": identityToken}
	b, err := json.Marshal(map[string]any{"auths": map[string]any{s.Host: entry}})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{s.DockerConfigPath(), s.AuthFilePath()} {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		WriteFile(t, path, string(b), 0o600)
	}
}

// DockerEngine returns the docker CLI's path when a Docker engine answers
// `docker info`, and why not otherwise. Unlike Tool it does not fail the
// test, which then reports what it did not run: a machine without an engine
// can still run everything else. Where an engine is expected
// (REGTOKEN_REQUIRE_DOCKER is set, as bash .ci/test.sh does when docker info
// works) a missing one fails the test all the same.
func DockerEngine(t testing.TB) (path, whyNot string) {
	t.Helper()
	path, whyNot = dockerEngine()
	if whyNot != "" && os.Getenv("REGTOKEN_REQUIRE_DOCKER") != "" {
		t.Errorf("REGTOKEN_REQUIRE_DOCKER is set but %s", whyNot)
	}
	return path, whyNot
}

func dockerEngine() (path, whyNot string) {
	path, err := exec.LookPath("docker")
	if err != nil {
		return "", "there is no docker CLI in PATH (" + installHints["docker"] + ")"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "info", "--format", "{{.ServerVersion}}").CombinedOutput()
	if version := strings.TrimSpace(string(out)); err != nil || version == "" {
		return "", "no Docker engine answers (docker info: " + version + ")"
	}
	return path, ""
}
