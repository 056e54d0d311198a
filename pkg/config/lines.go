package config

import (
	"fmt"
	"sort"
	"strings"
)

// keyLines maps each key of a TOML document to the line it is on:
// "token.issuer", "listen[1].mode" (the second [[listen]] table),
// "oidc[0].rules[1].claims" (nested arrays of tables), and tables ("token",
// and "listen" or "oidc.rules" for every table of an array) to their
// header's line. The decoder keeps this to itself, so it is read from the
// text: table headers, and "key =" at the start of a line outside
// multi-line strings. Keys it misses (inside inline tables) take the line
// of the table around them.
type keyLines map[string]int

func scanKeyLines(text string) keyLines {
	lines := keyLines{}
	var arrays arrayTables
	table := ""
	inString := false
	for i, raw := range strings.Split(text, "\n") {
		n := i + 1
		line := strings.TrimSpace(raw)
		wasInString := inString
		if strings.Count(line, `"""`)%2 == 1 || strings.Count(line, `'''`)%2 == 1 {
			inString = !inString
		}
		if wasInString || line == "" || line[0] == '#' {
			continue
		}
		switch {
		case strings.HasPrefix(line, "[["):
			name := tomlKey(strings.TrimPrefix(line[:strings.Index(line+"]]", "]]")], "[["))
			table = arrays.next(name)
			lines.add(name, n)
			lines.add(table, n)
		case line[0] == '[':
			name := tomlKey(strings.TrimPrefix(line[:strings.Index(line+"]", "]")], "["))
			table = arrays.resolve(name)
			lines.add(name, n)
			lines.add(table, n)
		default:
			if key, _, ok := strings.Cut(line, "="); ok {
				lines.add(join(table, tomlKey(key)), n)
			}
		}
	}
	return lines
}

// arrayTables numbers the tables of arrays as the decoder does, each
// nested array counted within its parent table: the second [[oidc.rules]]
// after the first [[oidc]] is oidc[0].rules[1].
type arrayTables struct {
	latest map[string]string // "oidc" -> "oidc[1]": the table now open
	counts map[string]int    // "oidc[1].rules" -> tables so far
}

// next opens a new table of the array name and returns its key.
func (a *arrayTables) next(name string) string {
	if a.latest == nil {
		a.latest, a.counts = map[string]string{}, map[string]int{}
	}
	parent, last := splitKey(name)
	array := join(a.resolve(parent), last)
	table := fmt.Sprintf("%s[%d]", array, a.counts[array])
	a.counts[array]++
	for open := range a.latest { // the arrays nested in the previous table are closed
		if strings.HasPrefix(open, name+".") {
			delete(a.latest, open)
		}
	}
	a.latest[name] = table
	return table
}

// resolve writes a dotted name with the index of each array table in it.
func (a *arrayTables) resolve(name string) string {
	if name == "" {
		return ""
	}
	out, plain := "", ""
	for _, part := range strings.Split(name, ".") {
		plain = join(plain, part)
		if table, ok := a.latest[plain]; ok {
			out = table
		} else {
			out = join(out, part)
		}
	}
	return out
}

// tomlKey normalises a written key: `a . "b"` is a.b.
func tomlKey(s string) string {
	parts := strings.Split(strings.TrimSpace(s), ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}

func (l keyLines) add(key string, line int) {
	if _, seen := l[key]; !seen {
		l[key] = line
	}
}

// of returns the line of key (quoted parts as in token.service."zot"
// allowed), or of the nearest table around it; 0 when unknown.
func (l keyLines) of(key string) int {
	key = tomlKey(key)
	for key != "" {
		if n, ok := l[key]; ok {
			return n
		}
		key, _ = splitKey(key)
	}
	return 0
}

// inOrder returns the keys of the table at prefix in the order of their
// lines, so problems are listed as the file reads.
func (l keyLines) inOrder(prefix string, doc map[string]any) []string {
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := l.of(join(prefix, keys[i])), l.of(join(prefix, keys[j]))
		if a != b {
			return a < b
		}
		return keys[i] < keys[j]
	})
	return keys
}
