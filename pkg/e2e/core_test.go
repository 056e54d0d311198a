//go:build e2e

package e2e

import (
	"path/filepath"
	"testing"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// TestCoreWithCrane is the core promise: the original service's users.json and
// repositories.json, unchanged, behind nginx's scgi_pass, give tokens that
// registry 2.8 and 3.x both accept, with the original's meaning: bar pushes and
// pulls everything, foo pulls some-image only, anonymous pulls some-image only.
func TestCoreWithCrane(t *testing.T) {
	for _, version := range []string{harness.Registry28, harness.Registry3} {
		t.Run("registry "+version, func(t *testing.T) {
			t.Parallel()
			s := harness.StartStack(t, harness.StackOptions{Registry: version})

			craneLogin(t, s, "bar", "bar")
			if out, ok := cranePush(t, s, "some-image:latest"); !ok {
				t.Fatalf("bar push some-image: %s", out)
			}
			if out, ok := cranePush(t, s, "private/app:v1"); !ok {
				t.Fatalf("bar push private/app: %s", out)
			}
			if out, ok := crane(t, s, "pull", s.Host+"/some-image:latest", filepath.Join(s.Dir, "bar.tar")); !ok {
				t.Fatalf("bar pull: %s", out)
			}

			craneLogin(t, s, "foo", "foo")
			if out, ok := crane(t, s, "pull", s.Host+"/some-image:latest", filepath.Join(s.Dir, "foo.tar")); !ok {
				t.Fatalf("foo pull some-image: %s", out)
			}
			if out, ok := cranePush(t, s, "some-image:foo"); ok || !refused(out) {
				t.Fatalf("foo push must be refused with an authorization error; ok=%v: %s", ok, out)
			}
			if out, ok := crane(t, s, "pull", s.Host+"/private/app:v1", filepath.Join(s.Dir, "foo2.tar")); ok || !refused(out) {
				t.Fatalf("foo pull private/app must be refused; ok=%v: %s", ok, out)
			}

			craneLogout(t, s)
			if out, ok := crane(t, s, "pull", s.Host+"/some-image:latest", filepath.Join(s.Dir, "anon.tar")); !ok {
				t.Fatalf("anonymous pull of whitelisted some-image: %s", out)
			}
			if out, ok := crane(t, s, "pull", s.Host+"/private/app:v1", filepath.Join(s.Dir, "anon2.tar")); ok || !refused(out) {
				t.Fatalf("anonymous pull of private/app must be refused; ok=%v: %s", ok, out)
			}
		})
	}
}
