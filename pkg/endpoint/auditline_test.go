package endpoint

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/token"
)

// The hand-written audit line is one valid JSON object per line, with every
// field the slog version wrote, and strings escaped whatever they hold.
func TestAuditLineIsJSONWithEveryField(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rec := &record{
		start: start, client: "192.0.2.1:4711", method: "GET", user: `we"ird\user<>`, service: "Authentication",
		grantType: "password",
		scopes: []token.Scope{
			{Type: "repository", Name: "team/app", Actions: []string{"pull", "push"}},
			{Type: "registry", Name: "catalog", Actions: []string{"*"}},
		},
		decisions: []acl.Decision{
			{Granted: []string{"pull"}, Rule: acl.RuleRef{File: "/etc/regtoken/users.json", Owner: "group team-a", Key: "team/*"}},
			{Granted: []string{}},
		},
		status: 200, refreshID: "jti-1", refreshIssued: true, tokenReused: true,
	}
	line := appendAuditLine(nil, rec, start.Add(1500*time.Microsecond))
	if line[len(line)-1] != '\n' {
		t.Fatalf("no newline at the end: %q", line)
	}
	var got map[string]any
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, line)
	}
	want := map[string]any{
		"time": "2026-03-01T12:00:00.0015Z", "level": "INFO", "msg": "token request", "log": "audit",
		"client": "192.0.2.1:4711", "method": "GET", "user": `we"ird\user<>`, "service": "Authentication",
		"grant_type": "password",
		"requested":  []any{"repository:team/app:pull,push", "registry:catalog:*"},
		"granted":    []any{"repository:team/app:pull", "registry:catalog:"},
		"decision":   "partial",
		"rules":      []any{rec.decisions[0].Rule.String(), rec.decisions[1].Rule.String()},
		"status":     float64(200), "reason": "", "latency_ms": 1.5,
		"refresh_id": "jti-1", "refresh_issued": true, "token_reused": true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("audit line\n got %v\nwant %v", got, want)
	}
}

// An error answer has empty lists, not nulls, and leaves the optional
// fields out.
func TestAuditLineForAnError(t *testing.T) {
	rec := &record{start: time.Now(), method: "GET", status: 401, reason: "incorrect username or password"}
	var got map[string]any
	if err := json.Unmarshal(appendAuditLine(nil, rec, time.Now()), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"requested", "granted", "rules"} {
		if l, ok := got[k].([]any); !ok || len(l) != 0 {
			t.Errorf("%s = %#v, want []", k, got[k])
		}
	}
	if got["decision"] != "error" || got["status"] != float64(401) {
		t.Errorf("decision/status: %v", got)
	}
	for _, k := range []string{"refresh_id", "refresh_issued", "token_reused"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s present in an answer without it", k)
		}
	}
}
