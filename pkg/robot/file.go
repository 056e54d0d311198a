package robot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// fileBody is the robots file as JSON.
type fileBody struct {
	Robots map[string]fileEntry `json:"robots"`
}

type fileEntry struct {
	SecretHash   string              `json:"secret_hash"`
	Repositories map[string][]string `json:"repositories"`
	Catalog      bool                `json:"catalog,omitempty"`
	Description  string              `json:"description,omitempty"`
	Created      time.Time           `json:"created"`
	Expires      *time.Time          `json:"expires,omitempty"`
}

// decode reads the file's robots; a field it does not know is an error, so
// a misspelt "expire" cannot quietly make a robot live for ever.
func decode(data []byte) ([]Robot, error) {
	var body fileBody
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return nil, fmt.Errorf("not a robots file: %w", err)
	}
	robots := make([]Robot, 0, len(body.Robots))
	for _, name := range slices.Sorted(maps.Keys(body.Robots)) {
		e := body.Robots[name]
		for pattern, actions := range e.Repositories {
			if actions == nil {
				return nil, fmt.Errorf("robot %q: %q: want a list of actions (use [] to deny), got null", name, pattern)
			}
		}
		r := Robot{Name: name, SecretHash: e.SecretHash, Rules: e.Repositories, Catalog: e.Catalog,
			Description: e.Description, Created: e.Created}
		if e.Expires != nil {
			r.Expires = *e.Expires
		}
		robots = append(robots, r)
	}
	return robots, nil
}

// encode writes robots as the file holds them, sorted by name (JSON
// objects keep Go's sorted map keys), one robot per few lines.
func encode(robots []Robot) []byte {
	body := fileBody{Robots: map[string]fileEntry{}}
	for _, r := range robots {
		e := fileEntry{SecretHash: r.SecretHash, Repositories: map[string][]string{}, Catalog: r.Catalog,
			Description: r.Description, Created: r.Created.UTC()}
		for pattern, actions := range r.Rules {
			e.Repositories[pattern] = append([]string{}, actions...)
		}
		if !r.Expires.IsZero() {
			at := r.Expires.UTC()
			e.Expires = &at
		}
		body.Robots[r.Name] = e
	}
	b, err := json.MarshalIndent(body, "", "  ")
	if err != nil {
		panic("robot: " + err.Error()) // only strings, maps, bools and times
	}
	return append(b, '\n')
}

// newFileMode is the mode of a robots file made by the first create: the
// hashes are no secret worth a bcrypt, but nobody else needs to read them.
const newFileMode = 0o640

// Update changes the robots file at path under an exclusive lock: it reads
// the robots, lets change edit them, and writes the result atomically (a
// temporary file renamed over the old one, with its mode and owner), so
// `regtoken serve` never reads half a file and two commands at once never
// lose each other's change. When change fails, the file is left alone.
func Update(path string, change func(robots []Robot) ([]Robot, error)) error {
	unlock, err := lock(path)
	if err != nil {
		return err
	}
	defer unlock()
	set, err := Load(path)
	if err != nil {
		return err
	}
	robots, err := change(set.Robots())
	if err != nil {
		return err
	}
	slices.SortFunc(robots, func(a, b Robot) int { return strings.Compare(a.Name, b.Name) })
	data := encode(robots)
	if _, err := Parse(data, path); err != nil { // never write what serve would refuse
		return err
	}
	return writeAtomically(path, data)
}

// lock takes an exclusive lock on path+".lock", which stays behind empty.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("robot: lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("robot: lock %s: %w", f.Name(), err)
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}

// writeAtomically replaces path with data: written to a temporary file in
// the same directory, synced, given the old file's mode and owner, renamed
// into place, and the directory synced, so a crash leaves the old file or
// the new one, never a mix.
func writeAtomically(path string, data []byte) error {
	mode, uid, gid := os.FileMode(newFileMode), -1, -1
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
		if st, ok := fi.Sys().(*unix.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("robot: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("robot: %w", err)
	}
	defer os.Remove(tmp.Name()) // gone after the rename; cleans up a failure
	if err := writeAndSync(tmp, data, mode, uid, gid); err != nil {
		return fmt.Errorf("robot: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("robot: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func writeAndSync(f *os.File, data []byte, mode os.FileMode, uid, gid int) error {
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if uid >= 0 && (uid != os.Getuid() || gid != os.Getgid()) {
		f.Chown(uid, gid) // only root may give a file away; others keep their own
	}
	return f.Sync()
}
