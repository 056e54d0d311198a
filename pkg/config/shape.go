package config

import (
	"encoding"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// The TOML decoder reports a value of the wrong type in Go's terms
// ("destination has type slice") and stops at the first one; an unknown key
// it only lists, without its line. shape checks the decoded document against
// the layout of file first and says, for every key at once, what was wanted
// and what was found in TOML's terms, with the line, and for a key it does
// not know the nearest one it does.

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// shape checks the table doc (at key prefix, "" for the document) against
// the struct type t.
func (v *validator) shape(prefix string, doc map[string]any, t reflect.Type, lines keyLines) {
	fields := tomlFields(t)
	for _, name := range lines.inOrder(prefix, doc) {
		key := join(prefix, name)
		field, ok := fields[name]
		if !ok {
			v.problemAt(lines.of(key), key, "unknown key%s", suggest(key, knownKeys(), lines))
			continue
		}
		v.shapeValue(key, doc[name], field, lines)
	}
}

func (v *validator) shapeValue(key string, value any, t reflect.Type, lines keyLines) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	want, ok := fits(value, t)
	if !ok {
		v.problemAt(lines.of(key), key, "want %s, got %s", want, describeValue(value))
		return
	}
	if text, ok := value.(string); ok && t == reflect.TypeFor[lifetimeSection]() {
		t, value = reflect.TypeFor[duration](), text // lifetime = "5m": one duration
	}
	if t == reflect.TypeFor[duration]() { // its text too, so it is reported with the rest
		var d duration
		if err := d.UnmarshalText([]byte(value.(string))); err != nil {
			v.problemAt(lines.of(key), key, "%v", err)
		}
		return
	}
	switch {
	case t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(textUnmarshaler):
		v.shape(key, value.(map[string]any), t, lines)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		for i, table := range tables(value) {
			v.shape(fmt.Sprintf("%s[%d]", key, i), table, t.Elem(), lines)
		}
	case t.Kind() == reflect.Map && t.Elem().Kind() != reflect.Interface:
		// A table of names the operator chooses ([token.service."NAME"],
		// repositories, group_map): every value has the map's type. Tables
		// of any values (claims) are their validator's business.
		table := value.(map[string]any)
		for _, name := range lines.inOrder(key, table) {
			v.shapeValue(join(key, name), table[name], t.Elem(), lines)
		}
	}
}

// fits reports whether a decoded TOML value can fill a field of type t, and
// what t wants in TOML's words.
func fits(value any, t reflect.Type) (want string, ok bool) {
	switch {
	case reflect.PointerTo(t).Implements(textUnmarshaler) && t == reflect.TypeFor[duration]():
		_, ok = value.(string)
		return `a duration string like "30m" or "90s"`, ok
	case t == reflect.TypeFor[lifetimeSection]():
		_, ok = value.(string)
		_, table := value.(map[string]any)
		return `a duration string like "5m" or a table of them by action`, ok || table
	case t == reflect.TypeFor[stringList]():
		_, ok = value.(string)
		return "a string or a list of strings", ok || allStrings(value)
	case t.Kind() == reflect.String:
		_, ok = value.(string)
		return "a string", ok
	case t.Kind() == reflect.Bool:
		_, ok = value.(bool)
		return "true or false", ok
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		_, ok = value.(int64)
		return "an integer", ok
	case t.Kind() == reflect.Float64:
		switch value.(type) {
		case float64, int64: // 1 is as good a share as 1.0
			ok = true
		}
		return "a number", ok
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map:
		_, ok = value.(map[string]any)
		return "a table", ok
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "a list of strings", allStrings(value)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return "an array of tables", tables(value) != nil
	}
	return t.String(), false // a field type this function does not know yet
}

func allStrings(value any) bool {
	list, ok := value.([]any)
	for _, e := range list {
		if _, isString := e.(string); !isString {
			return false
		}
	}
	return ok
}

// tables returns an array of tables ([[listen]] or listen = [{…}]) as its
// tables, or nil when value is something else.
func tables(value any) []map[string]any {
	switch v := value.(type) {
	case []map[string]any:
		return v
	case []any:
		out := make([]map[string]any, 0, len(v))
		for _, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				return nil
			}
			out = append(out, m)
		}
		return out
	}
	return nil
}

// describeValue names a decoded TOML value's type as TOML does.
func describeValue(value any) string {
	switch v := value.(type) {
	case string:
		return fmt.Sprintf("a string (%q)", truncate(v, 40))
	case int64:
		return fmt.Sprintf("an integer (%d)", v)
	case float64:
		return fmt.Sprintf("a float (%v)", v)
	case bool:
		return fmt.Sprintf("a boolean (%v)", v)
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	case []any:
		for _, e := range v {
			if _, ok := e.(string); !ok {
				return "a list with " + describeValue(e)
			}
		}
		return "a list"
	case time.Time:
		return "a date-time"
	}
	return "a date or time"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// tomlFields maps the TOML names of struct t's fields to their types.
func tomlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("toml"), ","); name != "" && name != "-" {
			out[name] = f.Type
		}
	}
	return out
}

// knownKeys lists every key the file may have, dotted ("token.issuer",
// "listen.mode"), tables included.
func knownKeys() []string {
	var out []string
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for name, ft := range tomlFields(t) {
			key := join(prefix, name)
			out = append(out, key)
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(textUnmarshaler) {
				walk(key, ft)
			}
		}
	}
	walk("", reflect.TypeFor[file]())
	sort.Strings(out)
	return out
}

// suggest returns "; did you mean KEY?" for the known key nearest to key, or
// "" when none is near. A name that exists in another table (issuer written
// under [acl]) counts as nearest; of two such, the one in a table the file
// has (lines) wins: issuer under [acl] is token.issuer when there is a
// [token] table and no [[oidc]].
func suggest(key string, known []string, lines keyLines) string {
	table, name := splitKey(stripIndexes(key))
	best, bestScore := "", 1<<30
	for _, k := range known {
		kTable, kName := splitKey(k)
		d := editDistance(name, kName)
		if d > max(1, len(name)/3) {
			continue
		}
		score := 4 * d
		if kTable != table {
			score += 2 // at the same distance, prefer the key's own table
		}
		if _, written := lines[kTable]; !written && kTable != "" {
			score++ // then a table the file has
		}
		if score < bestScore {
			best, bestScore = k, score
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %s?", best)
}

func splitKey(key string) (table, name string) {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return key[:i], key[i+1:]
	}
	return "", key
}

// stripIndexes turns "listen[1].mode" into "listen.mode".
func stripIndexes(key string) string {
	var b strings.Builder
	skip := false
	for _, r := range key {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
