package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/daemon"
	"github.com/regtoken/regtoken/pkg/listen"
)

// listenFlags collects repeated -listen PROTOCOL=ADDRESS flags.
type listenFlags []listen.Spec

func (l *listenFlags) String() string { return fmt.Sprint(*l) }

func (l *listenFlags) Set(v string) error {
	s, err := listen.ParseFlag(v)
	if err != nil {
		return err
	}
	*l = append(*l, s)
	return nil
}

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", stderr)
	path := fs.String("config", "regtoken.toml", "configuration file")
	var listens listenFlags
	fs.Var(&listens, "listen", "PROTOCOL=ADDRESS to serve on, repeatable; replaces the file's [[listen]] tables\n"+
		"(protocols scgi, uwsgi, fastcgi, http; addresses unix:PATH, tcp:HOST:PORT, systemd:NAME)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, "regtoken serve:", err)
		return exitUsage
	}
	log := newLogger(stderr, cfg.Log)
	var audit io.Writer // nil: no audit lines
	if cfg.Log.Audit {
		// One write(2) per audit line cost a quarter of regtoken's CPU under
		// load; lines are buffered and flushed every 100 ms and at exit.
		buffered := newFlushingWriter(stderr, 100*time.Millisecond)
		defer buffered.Close()
		audit = buffered
	}
	err = daemon.Run(context.Background(), cfg, daemon.Options{ConfigPath: cfg.File, Listen: listens, Log: log, Audit: audit})
	if err != nil {
		log.Error("cannot serve", "err", err)
		return exitUsage
	}
	return 0
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(strings.ToUpper(c.Level)))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// flushingWriter buffers writes and flushes them every interval and on Close.
type flushingWriter struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newFlushingWriter(w io.Writer, interval time.Duration) *flushingWriter {
	f := &flushingWriter{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				f.flush()
			case <-f.stop:
				f.flush()
				return
			}
		}
	}()
	return f
}

func (f *flushingWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.w.Write(p)
}

func (f *flushingWriter) flush() {
	f.mu.Lock()
	f.w.Flush()
	f.mu.Unlock()
}

// Close flushes what is buffered and stops the flusher.
func (f *flushingWriter) Close() {
	close(f.stop)
	<-f.done
}
