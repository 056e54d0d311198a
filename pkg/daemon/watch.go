package daemon

import (
	"context"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"
)

// debounce lets an editor finish writing (write, rename, chmod) before the
// reload reads the files.
const debounce = 250 * time.Millisecond

// pollInterval is a safety net for file systems where events are lost (NFS,
// some container bind mounts): every file is compared by size and mtime.
const pollInterval = time.Second

// watcher reloads whenever one of the files the configuration names changes.
// It watches the directories, not the files, because editors and config
// management replace files by renaming a new one into place.
type watcher struct {
	r       *reloader
	fs      *fsnotify.Watcher // nil where file watching is unavailable
	watched map[string]bool
}

// newWatcher starts watching at once, so that an edit made before Run's
// goroutine gets going is not lost; the poller compares against the files as
// they were before the reloader read them, which covers the gap before that.
func newWatcher(r *reloader, log *slog.Logger) *watcher {
	fs, err := fsnotify.NewWatcher()
	if err != nil {
		log.Warn("file watching unavailable; polling instead", "err", err)
		fs = nil
	}
	w := &watcher{r: r, fs: fs}
	w.watchDirs()
	return w
}

// Run reloads on changes until ctx ends.
func (w *watcher) Run(ctx context.Context) {
	var events <-chan fsnotify.Event
	if w.fs != nil {
		defer w.fs.Close()
		events = w.fs.Events
	}
	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			if w.watched[filepath.Clean(ev.Name)] {
				fire = time.After(debounce)
			}
		case <-poll.C:
			if fire == nil && w.changed() {
				fire = time.After(debounce)
			}
		case <-fire:
			fire = nil
			w.r.Reload("file change")
			w.watchDirs() // the new configuration may name other files
		}
	}
}

// changed reports whether a file differs from what the latest load saw.
// It compares the files that load read, which after a failed reload may be
// those a new, broken configuration names rather than those of the one in
// use: the fix is in those files.
func (w *watcher) changed() bool {
	then := w.r.Stamps()
	return !equalStamps(stampPaths(slices.Collect(maps.Keys(then))), then)
}

// watchDirs watches the directory of every file the latest load read.
func (w *watcher) watchDirs() {
	w.watched = map[string]bool{}
	for f := range w.r.Stamps() {
		w.watched[filepath.Clean(f)] = true
		if w.fs != nil {
			w.fs.Add(filepath.Dir(f)) // an error here leaves the poller in charge
		}
	}
}
