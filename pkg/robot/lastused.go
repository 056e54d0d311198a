package robot

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"time"
)

// WarnBefore is how long before a robot expires `regtoken check`, the log
// and the regtoken_robots_expiring metric start to warn: long enough to
// rotate a CI secret before the pipelines that use it break.
const WarnBefore = 14 * 24 * time.Hour

// The last-used file records when each robot last logged in, for `regtoken
// robot list`: {"robots": {"ci-pusher": "2026-12-04T17:00:00Z"}}. regtoken
// serve writes it; it is no configuration and never triggers a reload.

type lastUsedBody struct {
	Robots map[string]time.Time `json:"robots"`
}

// LoadLastUsed reads a last-used file; a missing one is empty.
func LoadLastUsed(path string) (map[string]time.Time, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]time.Time{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("robot: %w", err)
	}
	var body lastUsedBody
	if err := json.Unmarshal(data, &body); err != nil {
		return nil, fmt.Errorf("robot: %s: %w", path, err)
	}
	if body.Robots == nil {
		body.Robots = map[string]time.Time{}
	}
	return body.Robots, nil
}

// SaveLastUsed merges logins into the last-used file (a later time wins)
// and writes it atomically.
func SaveLastUsed(path string, logins map[string]time.Time) error {
	unlock, err := lock(path)
	if err != nil {
		return err
	}
	defer unlock()
	known, err := LoadLastUsed(path)
	if err != nil {
		known = map[string]time.Time{} // a damaged file is rewritten
	}
	for name, at := range logins {
		if at.After(known[name]) {
			known[name] = at.UTC()
		}
	}
	b, err := json.MarshalIndent(lastUsedBody{Robots: maps.Clone(known)}, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomically(path, append(b, '\n'))
}
