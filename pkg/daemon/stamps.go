package daemon

import (
	"os"
	"time"

	"github.com/regtoken/regtoken/pkg/config"
)

// stamp is what the poller compares: a file that changed has a new size or
// modification time, or appeared or vanished.
type stamp struct {
	size    int64
	modTime time.Time
	exists  bool
}

// stamps describe a set of files by path, as the poller compares them.
type stamps map[string]stamp

// stampFiles describes the files cfg (read from path) names. Taken before
// the files are read, it lets a watcher notice an edit that raced the read.
func stampFiles(path string, cfg *config.Config) stamps {
	return stampPaths(watchedFiles(path, cfg))
}

func stampPaths(paths []string) stamps {
	out := make(stamps, len(paths))
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			out[p] = stamp{size: fi.Size(), modTime: fi.ModTime(), exists: true}
		} else {
			out[p] = stamp{}
		}
	}
	return out
}

func equalStamps(a, b stamps) bool {
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
