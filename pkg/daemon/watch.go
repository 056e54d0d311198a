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

// settle is how long the watched files must stay as they are (the same
// size and modification time) before a reload reads them. An editor's
// write, rename and chmod, or a tool writing a large file in pieces, end
// before the reload starts, rather than the reload reading a file half
// written. A change is still served within two seconds: noticed at once
// (or by the next poll, within half a second), plus settle, plus the load.
const settle = 750 * time.Millisecond

// pollInterval is a safety net for file systems where events are lost (NFS,
// some container bind mounts): every file is compared by size and mtime.
const pollInterval = 500 * time.Millisecond

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
	var s settling
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			if w.watched[filepath.Clean(ev.Name)] {
				s.start(w.now())
			}
		case <-poll.C:
			if !s.active() && w.changed() {
				s.start(w.now())
			}
		case <-s.fire:
			if !s.settled(w.now()) {
				continue
			}
			w.r.Reload("file change", false)
			w.watchDirs() // the new configuration may name other files
		}
	}
}

// settling waits for changed files to stay unchanged for the settle time.
type settling struct {
	fire <-chan time.Time // nil while nothing is changing
	seen stamps           // the files when the wait began
}

func (s *settling) active() bool { return s.fire != nil }

// start begins the wait, unless one runs already.
func (s *settling) start(now stamps) {
	if s.fire == nil {
		s.seen, s.fire = now, time.After(settle)
	}
}

// settled reports, when the wait is over, whether the files are as they
// were when it began; if not, it waits again from now.
func (s *settling) settled(now stamps) bool {
	if !equalStamps(now, s.seen) {
		s.seen, s.fire = now, time.After(settle)
		return false
	}
	s.fire = nil
	return true
}

// now describes the watched files as they are.
func (w *watcher) now() stamps {
	return stampPaths(slices.Collect(maps.Keys(w.r.Stamps())))
}

// changed reports whether a file differs from what the latest load saw.
// It compares the files that load read, which after a failed reload may be
// those a new, broken configuration names rather than those of the one in
// use: the fix is in those files.
func (w *watcher) changed() bool {
	return !equalStamps(w.now(), w.r.Stamps())
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
