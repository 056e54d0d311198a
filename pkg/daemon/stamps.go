package daemon

import (
	"os"
	"time"
)

// stamp is what the poller compares: a file that changed has a new size or
// modification time, or appeared or vanished.
type stamp struct {
	size    int64
	modTime time.Time
	exists  bool
}

func fileStamps(paths []string) map[string]stamp {
	out := make(map[string]stamp, len(paths))
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			out[p] = stamp{size: fi.Size(), modTime: fi.ModTime(), exists: true}
		} else {
			out[p] = stamp{}
		}
	}
	return out
}

func equalStamps(a, b map[string]stamp) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
