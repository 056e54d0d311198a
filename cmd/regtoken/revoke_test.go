package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/alicebob/miniredis/v2"
)

// regtoken user revoke writes the revocation to the store (miniredis here;
// the e2e test revokes through a real redis-server and watches replicas).
func TestUserRevoke(t *testing.T) {
	config, _ := userConfig(t)
	cliCase{[]string{"user", "revoke", "-config", config, "alice"}, 2, "", "has no [store]"}.run(t)

	mr := miniredis.RunT(t)
	dir := filepath.Dir(config)
	os.WriteFile(filepath.Join(dir, "store.secret"), []byte("0123456789abcdef0123456789abcdef\n"), 0o600)
	text, _ := os.ReadFile(config)
	os.WriteFile(config, append(text, []byte("[store]\nurl='redis://"+mr.Addr()+"/0'\nsecret_file='store.secret'\n")...), 0o644)
	cliCase{[]string{"user", "revoke", "-config", config, "alice"}, 0, "revoked the refresh tokens and remembered logins of alice", ""}.run(t)
	if v, _ := mr.Get("{regtoken}:revoked:version"); v != "1" {
		t.Errorf("revocation version %q, want 1", v)
	}
	mr.Close()
	cliCase{[]string{"user", "revoke", "-config", config, "alice"}, 1, "", "store: unavailable"}.run(t)
}
