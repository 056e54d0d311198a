package accounts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// beforeRename runs with the temporary file written and synced, just
// before it replaces the old one; tests make it fail.
var beforeRename = func(tmp string) error { return nil }

// writeAtomic replaces the file at path (following symlinks to the real
// file) with data: a temporary file in the same directory gets the old
// file's mode and owner and is renamed over it, so readers see the old file
// or the new one, whole. When any step fails the old file is untouched and
// the temporary file is removed.
func writeAtomic(path string, data []byte) (err error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	old, err := os.Stat(real)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(real), "."+filepath.Base(real)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = keepOwnerAndMode(tmp, old); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = beforeRename(tmp.Name()); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), real); err != nil {
		return err
	}
	return syncDir(filepath.Dir(real))
}

// keepOwnerAndMode gives f the owner, group and permissions of old. Only
// root may give a file another owner; a user editing a file it owns but
// whose group it is not in cannot keep the group either, and is told so.
func keepOwnerAndMode(f *os.File, old os.FileInfo) error {
	st := old.Sys().(*syscall.Stat_t)
	if err := f.Chown(int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("cannot keep the file's owner and group (%d:%d): %w; run as root or as its owner", st.Uid, st.Gid, err)
	}
	return f.Chmod(old.Mode().Perm())
}

// syncDir makes the rename durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// lockDirs takes an exclusive lock on the directory of every path given
// (symlinks followed), in a fixed order, and returns the function that
// releases them. Two edits of the same files wait for each other; readers
// (regtoken serve) need no lock, as each file is replaced whole.
func lockDirs(paths ...string) (unlock func(), err error) {
	var dirs []string
	for _, p := range paths {
		if p == "" {
			continue
		}
		real, err := filepath.EvalSymlinks(p)
		if errors.Is(err, fs.ErrNotExist) {
			real = p // begin says what is missing
		} else if err != nil {
			return nil, err
		}
		if d := filepath.Dir(real); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	slices.Sort(dirs)
	var held []*os.File
	unlock = func() {
		for _, d := range held {
			syscall.Flock(int(d.Fd()), syscall.LOCK_UN)
			d.Close()
		}
	}
	for _, dir := range dirs {
		d, err := os.Open(dir)
		if err != nil {
			unlock()
			return nil, err
		}
		if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX); err != nil {
			d.Close()
			unlock()
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
		held = append(held, d)
	}
	return unlock, nil
}

// ReplaceFile replaces the file at path with data as the user commands do
// (see writeAtomic): for the other commands that edit a file in place,
// such as regtoken key editing the configuration.
func ReplaceFile(path string, data []byte) error { return writeAtomic(path, data) }
