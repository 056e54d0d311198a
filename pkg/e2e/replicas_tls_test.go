//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// A store (redis-server, then valkey-server) that speaks TLS only, with a certificate from the test's own CA
// for a name that is not the URL's host (127.0.0.1), with and without
// client certificates required (tls-auth-clients): replicas given ca_file,
// server_name and, when asked for one, a client certificate share the
// throttle through it; replicas that trust the system's roots, or bring no
// client certificate, find the store unreachable and serve anonymous
// tokens all the same.
func TestReplicasStoreTLS(t *testing.T) {
	dir := harness.ShortDir(t)
	ca := harness.NewTestCA(t, dir, "regtoken test store CA")
	clientCert, clientKey := ca.Issue(t, "regtoken")
	const name = "store.test"
	trust := fmt.Sprintf("ca_file = %q\nserver_name = %q\n", ca.Path, name)
	client := fmt.Sprintf("cert_file = %q\nkey_file = %q\n", clientCert, clientKey)
	eachStore(t, func(t *testing.T, server harness.StoreServer) {
		for _, authClients := range []bool{false, true} {
			t.Run(fmt.Sprintf("tls-auth-clients=%v", authClients), func(t *testing.T) {
				redis := harness.StartStoreTLS(t, server, ca, name, authClients)
				store := trust
				if authClients {
					store += client
				}
				s := startReplicaProcesses(t, 2, redis, store)
				s.waitStore(t, "up")
				// Wrong passwords alternate between the replicas: together they
				// get the pair threshold's bcrypt checks (5), not 5 each.
				for i := range 10 {
					tokenRequest(t, s.direct[i%2], "alice", fmt.Sprintf("guess-%d", i), false)
				}
				if n := s.bcryptChecks(t); n != 5 {
					t.Errorf("10 wrong passwords over 2 replicas through the TLS store: %d bcrypt checks, want 5", n)
				}
				for i, url := range s.direct {
					if code, _ := tokenRequest(t, url, "alice", replicaUsers["alice"], false); code != 429 {
						t.Errorf("the right password through replica %d: %d, want 429 (throttled on both)", i, code)
					}
				}
				bad := map[string]string{"system roots": fmt.Sprintf("server_name = %q\n%s", name, client)}
				if authClients {
					bad["no client certificate"] = trust
				}
				for what, store := range bad {
					b := startReplicaProcesses(t, 1, redis, store)
					b.waitStore(t, "unreachable")
					_, why := storeHealthz(t, b.operator[0])
					t.Logf("%s: /healthz store unreachable: %s", what, why)
					if !strings.Contains(why, "certificate") {
						t.Errorf("%s: /healthz says the store is unreachable because %q, want a certificate error", what, why)
					}
					if code, _ := tokenRequest(t, b.direct[0], "", "", false); code != 200 {
						t.Errorf("%s: an anonymous token while the store is unreachable: %d, want 200", what, code)
					}
				}
			})
		}
	})
}

// regtoken check names the [store] TLS key and file at fault, warns with
// the certificate error when the store does not answer for want of the
// CA, and finds nothing wrong with the right ones.
func TestReplicasStoreTLSCheck(t *testing.T) {
	dir := harness.ShortDir(t)
	ca := harness.NewTestCA(t, dir, "regtoken test store CA")
	clientCert, clientKey := ca.Issue(t, "regtoken")
	redis := harness.StartStoreTLS(t, harness.RedisServer, ca, "store.test", true)
	s := startReplicaProcesses(t, 1, redis, fmt.Sprintf("ca_file = %q\nserver_name = \"store.test\"\ncert_file = %q\nkey_file = %q\n",
		ca.Path, clientCert, clientKey))
	config, err := os.ReadFile(s.configs[0])
	if err != nil {
		t.Fatal(err)
	}
	if out, ok := regtokenCmd(t, s.dir, "check", "-config", s.configs[0]); !ok || strings.Contains(out, "store") {
		t.Errorf("regtoken check with the right TLS files: ok=%v\n%s", ok, out)
	}
	if err := os.Chmod(clientKey, 0o644); err != nil {
		t.Fatal(err)
	}
	out, ok := regtokenCmd(t, s.dir, "check", "-config", s.configs[0])
	if ok || !strings.Contains(out, "key_file: "+clientKey+" is readable by others") {
		t.Errorf("regtoken check with a client key others can read: ok=%v\n%s", ok, out)
	}
	os.Chmod(clientKey, 0o600)
	// Without ca_file the store does not answer: a warning that says why.
	roots := filepath.Join(s.dir, "roots.toml")
	harness.WriteFile(t, roots, strings.Replace(string(config), fmt.Sprintf("ca_file = %q\n", ca.Path), "", 1), 0o644)
	out, ok = regtokenCmd(t, s.dir, "check", "-config", roots)
	if !ok || !strings.Contains(out, "does not answer (tls: failed to verify certificate: x509: certificate signed by unknown authority)") {
		t.Errorf("regtoken check trusting the system's roots: ok=%v\n%s", ok, out)
	}
	plain := filepath.Join(s.dir, "plain.toml")
	harness.WriteFile(t, plain, strings.Replace(string(config), redis.URL, "redis://"+redis.Addr+"/0", 1), 0o644)
	out, ok = regtokenCmd(t, s.dir, "check", "-config", plain)
	if ok || !strings.Contains(out, "need TLS: use a rediss:// or valkeys:// url") {
		t.Errorf("regtoken check with TLS keys on a redis:// url: ok=%v\n%s", ok, out)
	}
}
