package daemon

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// debounce lets an editor finish writing (write, rename, chmod) before the
// reload reads the files.
const debounce = 250 * time.Millisecond

// pollInterval is a safety net for file systems where events are lost (NFS,
// some container bind mounts): every file is compared by size and mtime.
const pollInterval = time.Second

// Watch reloads whenever one of the files the configuration names changes,
// until ctx ends. It watches the directories, not the files, because editors
// and config management replace files by renaming a new one into place.
func Watch(ctx context.Context, r *Reloader, log *slog.Logger) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		log.Warn("file watching unavailable; polling instead", "err", err)
	}
	var events <-chan fsnotify.Event
	if w != nil {
		defer w.Close()
		events = w.Events
	}
	watched := watchDirs(w, r)
	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	stamps := fileStamps(WatchedFiles(r.path, r.Config()))
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			if isWatched(ev.Name, watched) {
				fire = time.After(debounce)
			}
		case <-poll.C:
			now := fileStamps(WatchedFiles(r.path, r.Config()))
			if !equalStamps(now, stamps) {
				stamps = now
				fire = time.After(debounce)
			}
		case <-fire:
			fire = nil
			r.Reload("file change")
			watched = watchDirs(w, r) // the new configuration may name other files
			stamps = fileStamps(WatchedFiles(r.path, r.Config()))
		}
	}
}

// watchDirs adds the directory of every watched file and returns the set of
// watched file paths.
func watchDirs(w *fsnotify.Watcher, r *Reloader) map[string]bool {
	files := map[string]bool{}
	for _, f := range WatchedFiles(r.path, r.Config()) {
		files[filepath.Clean(f)] = true
		if w != nil {
			w.Add(filepath.Dir(f)) // an error here leaves the poller in charge
		}
	}
	return files
}

func isWatched(name string, files map[string]bool) bool {
	return files[filepath.Clean(name)]
}
