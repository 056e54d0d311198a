//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"sync"

	"github.com/regtoken/regtoken/pkg/e2e/internal/harness"
)

// A confFlow is one row of the conformance table: something real clients do
// against a registry that uses regtoken.
type confFlow struct {
	id    string // subtest name
	group string // row group, for the README paragraphs
	title string // the table's row label
}

// confFlows are the table's rows, in the order they run: later flows
// use what earlier ones pushed, and the README catalog example runs last
// because it turns on anonymous_catalog.
var confFlows = []confFlow{
	{"login", "login", "login without scope, then GET /v2/ with the token"},
	{"push", "push/pull", "push (client asks push,pull or pull,push)"},
	{"pull", "push/pull", "pull"},
	{"tags-list", "push/pull", "tags/list"},
	{"manifest-head", "push/pull", "manifest HEAD"},
	{"nested-name", "push/pull", "push+pull team/web-app.v2/api_x"},
	{"anonymous-pull", "push/pull", "anonymous pull of public some-image"},
	{"mount", "mount", "cross-repo mount, source allowed (two scopes, one request)"},
	{"mount-refused", "mount", "cross-repo mount, source refused: push uploads"},
	{"repeated-scope", "scopes", "several scope parameters in one request"},
	{"space-scope", "scopes", "space-separated scopes in one parameter"},
	{"account-differs", "scopes", "account parameter differs from Basic user"},
	{"delete", "delete", "delete manifest (grant pull,push,delete)"},
	{"delete-star", "delete", "delete manifest (rule \"*\")"},
	{"delete-refused", "delete", "delete refused without delete grant"},
	{"catalog", "catalog", "catalog, user granted it"},
	{"catalog-anonymous", "catalog", "catalog refused for anonymous (default)"},
	{"readme-tags", "readme", "README curl: token, then tags/list"},
	{"readme-catalog", "readme", "README curl: token, then _catalog"},
	{"wrong-password", "errors", "wrong password: client shows it"},
	{"unknown-user", "errors", "unknown user: client shows it"},
	{"no-credentials", "errors", "no credentials, private repo: client shows it"},
}

// Cell values. A cell the suite never filled is reported as a failure, so a
// flow cannot silently drop out of the table.
const (
	confCellPass     = "pass"
	confCellFail     = "FAIL"
	confCellNA       = "n/a"
	confCellNoDocker = "not run: no Docker engine"
	confCellNoZot    = "not run: no zot"
	confCellMissing  = "FAIL (no result)"
)

// confClients are the table's client columns, each run against every
// registry version.
var confClients = []string{"crane", "skopeo", "docker", "oras", confCtrd16.column, confCtrd24.column, "curl"}

// confTable collects results from the per-registry stacks, which run in
// parallel, and why each n/a cell is n/a.
type confTable struct {
	mu       sync.Mutex
	versions []string
	cells    map[string]string // flow id + "|" + column
	notes    map[string]string // client + "|" + flow id: why n/a
}

func confNewTable(versions []string) *confTable {
	return &confTable{versions: versions, cells: map[string]string{}, notes: map[string]string{}}
}

// confColumn names a client × registry column: "crane/2.8", "skopeo/3.1",
// "oras/zot".
func confColumn(client, version string) string {
	return client + "/" + confRegistryName(version)
}

// confRegistryName is how the table names a registry version.
func confRegistryName(version string) string {
	if version == harness.Registry3 {
		return "3.1"
	}
	return version
}

func (tb *confTable) set(flowID, col, value string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.cells[flowID+"|"+col] = value
}

// setNA marks a cell n/a and keeps the reason for the notes under the table.
func (tb *confTable) setNA(flowID, client, version, why string) {
	tb.set(flowID, confColumn(client, version), confCellNA)
	tb.mu.Lock()
	defer tb.mu.Unlock()
	key := client + "|" + flowID
	if old, ok := tb.notes[key]; ok && old != why {
		why = old + "; " + why
	}
	tb.notes[key] = why
}

// naNotes explains every n/a cell, once per client and flow.
func (tb *confTable) naNotes() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var b strings.Builder
	for _, client := range confClients {
		for _, f := range confFlows {
			if why := tb.notes[client+"|"+f.id]; why != "" {
				fmt.Fprintf(&b, "- %s, %s: %s\n", client, f.title, why)
			}
		}
	}
	return b.String()
}

func (tb *confTable) get(flowID, col string) string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if v, ok := tb.cells[flowID+"|"+col]; ok {
		return v
	}
	return confCellMissing
}

func (tb *confTable) columns() []string {
	var cols []string
	for _, c := range confClients {
		for _, v := range tb.versions {
			cols = append(cols, confColumn(c, v))
		}
	}
	return cols
}

// missing lists the cells no flow filled.
func (tb *confTable) missing() []string {
	var out []string
	for _, f := range confFlows {
		for _, col := range tb.columns() {
			if tb.get(f.id, col) == confCellMissing {
				out = append(out, f.id+" × "+col)
			}
		}
	}
	return out
}

// markdown renders the table as GitHub markdown, the form the README uses.
func (tb *confTable) markdown() string {
	var b strings.Builder
	cols := tb.columns()
	b.WriteString("| flow | " + strings.Join(cols, " | ") + " |\n")
	b.WriteString("|---" + strings.Repeat("|---", len(cols)) + "|\n")
	for _, f := range confFlows {
		row := make([]string, len(cols))
		for i, col := range cols {
			row[i] = tb.get(f.id, col)
		}
		fmt.Fprintf(&b, "| %s | %s |\n", f.title, strings.Join(row, " | "))
	}
	return b.String()
}
