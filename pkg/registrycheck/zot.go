package registrycheck

import (
	"encoding/json"
	"fmt"
	"strings"
)

// parseZot reads http.auth.bearer of a zot JSON configuration. zot reads
// its file through viper, which matches keys without regard to case, so
// this does too.
func parseZot(path string, data []byte) (*Registry, error) {
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrUnknownFormat, err)
	}
	if lookup(doc, "storage") == nil && lookup(doc, "http") == nil {
		return nil, fmt.Errorf("%s: %w: a JSON object without zot's http and storage sections", path, ErrUnknownFormat)
	}
	reg := &Registry{File: path, Flavor: Zot}
	bearer, _ := lookup(doc, "http", "auth", "bearer").(map[string]any)
	for _, f := range []struct {
		name string
		dst  *Setting
	}{{"realm", &reg.Realm}, {"service", &reg.Service}, {"cert", &reg.Bundle}} {
		v, ok := lookupKey(bearer, f.name)
		if !ok {
			continue
		}
		s := Setting{File: path, Key: "http.auth.bearer." + f.name, Set: true}
		if str, ok := v.(string); ok {
			s.Value = str
		} else {
			s.NotAString = fmt.Sprintf("%v", v)
		}
		*f.dst = s
	}
	reg.Bundle.Value = resolve(path, reg.Bundle.Value)
	return reg, nil
}

// lookup follows keys through nested objects, matching case-insensitively.
func lookup(doc map[string]any, keys ...string) any {
	var cur any = doc
	for _, k := range keys {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = lookupKey(m, k); !ok {
			return nil
		}
	}
	return cur
}

func lookupKey(m map[string]any, key string) (any, bool) {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}
