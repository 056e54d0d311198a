package endpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
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
	line := appendAuditLine(nil, rec, start.Add(1500*time.Microsecond), AuditJSON)
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
	if err := json.Unmarshal(appendAuditLine(nil, rec, time.Now(), AuditJSON), &got); err != nil {
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

// In text form the audit line is what slog's text handler writes for the
// same fields, so a text log has one format throughout.
func TestAuditLineTextIsSlogText(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	scope := func(name string, actions ...string) token.Scope {
		return token.Scope{Type: "repository", Name: name, Actions: actions}
	}
	rule := acl.RuleRef{File: "/etc/regtoken/users.json", Owner: "user bar", Key: "*"}
	for _, rec := range []*record{
		{start: start, client: "192.0.2.1:4711", method: "GET", user: "bar", service: "Authentication", grantType: "password",
			scopes: []token.Scope{scope("team/app", "pull", "push")}, decisions: []acl.Decision{{Granted: []string{"pull"}, Rule: rule}},
			status: 200, refreshID: "jti-1", refreshIssued: true, tokenReused: true},
		{start: start, client: "@", method: "POST", user: `we"ird us=er`, service: "Auth entication",
			scopes:    []token.Scope{scope("a", "pull"), scope("b", "*")},
			decisions: []acl.Decision{{Granted: []string{"pull"}, Rule: rule}, {}}, status: 200},
		{start: start, method: "GET", status: 401, reason: "incorrect username or password"},
		{start: start, method: "GET", user: "é\u00a0x", status: 400, reason: "bad scope \"a b\"",
			scopes: []token.Scope{scope("x\ty", "pull")}, decisions: []acl.Decision{{}}},
	} {
		now := start.Add(1500 * time.Microsecond)
		got := string(appendAuditLine(nil, rec, now, AuditText))
		if want := slogTextLine(t, rec, now); got != want {
			t.Errorf("audit line\n got %s\nwant %s", got, want)
		}
	}
}

// slogTextLine is the line slog's text handler writes for rec.
func slogTextLine(t *testing.T, rec *record, now time.Time) string {
	t.Helper()
	var requested, granted, rules []string
	for i, s := range rec.scopes {
		requested = append(requested, s.String())
		granted = append(granted, grantString(s, rec.decisions[i].Granted))
		rules = append(rules, rec.decisions[i].Rule.String())
	}
	r := slog.NewRecord(now, slog.LevelInfo, "token request", 0)
	r.AddAttrs(slog.String("log", "audit"), slog.String("client", rec.client), slog.String("method", rec.method),
		slog.String("user", rec.user), slog.String("service", rec.service), slog.String("grant_type", rec.grantType),
		slog.Any("requested", orEmpty(requested)), slog.Any("granted", orEmpty(granted)), slog.String("decision", decision(rec)),
		slog.Any("rules", orEmpty(rules)), slog.Int("status", rec.status), slog.String("reason", rec.reason),
		slog.Float64("latency_ms", float64(now.Sub(rec.start).Microseconds())/1000))
	if rec.refreshID != "" {
		r.AddAttrs(slog.String("refresh_id", rec.refreshID), slog.Bool("refresh_issued", rec.refreshIssued))
	}
	if rec.tokenReused {
		r.AddAttrs(slog.Bool("token_reused", true))
	}
	var b bytes.Buffer
	if err := slog.NewTextHandler(&b, nil).Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func BenchmarkAuditLine(b *testing.B) {
	rec := &record{start: time.Now(), client: "192.0.2.1:4711", method: "GET", service: "Authentication",
		scopes:    []token.Scope{{Type: "repository", Name: "some-image", Actions: []string{"pull"}}},
		decisions: []acl.Decision{{Granted: []string{"pull"}, Rule: acl.RuleRef{File: "/etc/regtoken/repositories.json", Owner: "anonymous", Key: "some-image"}}},
		status:    200}
	for _, f := range []struct {
		name   string
		format AuditFormat
	}{{"json", AuditJSON}, {"text", AuditText}} {
		b.Run(f.name, func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				buf = appendAuditLine(buf[:0], rec, now, f.format)
			}
		})
	}
}
