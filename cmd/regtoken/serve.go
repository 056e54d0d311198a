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

// listenFlag is -listen, for serve and check.
func listenFlag(fs *flags) *[]listen.Spec {
	var l listenFlags
	fs.Var(&l, "listen", "`PROTOCOL=ADDRESS[?OPTIONS]` to serve on, repeatable; replaces the file's [[listen]] tables\n"+
		"(protocols scgi, uwsgi, fastcgi, http; addresses unix:PATH, tcp:HOST:PORT, systemd:NAME;\n"+
		"options mode, owner, group, trust_proxy_headers)")
	return (*[]listen.Spec)(&l)
}

var serveUsage = usage{
	synopsis: "regtoken serve [-config regtoken.toml] [-listen PROTOCOL=ADDRESS[?OPTIONS] ...]",
	about: "Serve tokens until SIGTERM or SIGINT, then drain requests in flight. The configuration and every file it\n" +
		"names are checked first, as `regtoken check` does; any error stops the start. Changed files are\n" +
		"reloaded within 2 seconds; SIGHUP reloads at once and reopens the audit file, SIGUSR1 only reopens it.\n" +
		"-listen OPTIONS are mode, owner and group for unix: sockets and trust_proxy_headers for http, as in\n" +
		"[[listen]]: -listen 'uwsgi=unix:/run/regtoken/uwsgi.sock?group=www-data&mode=0660'.",
	example: "regtoken serve -config /etc/regtoken/regtoken.toml -listen scgi=unix:/run/regtoken/regtoken.sock",
	exit:    []string{"0  stopped by a signal after draining", "2  bad command line, configuration, file or listener: nothing was served"},
}

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", stdout, stderr)
	path := configFlag(fs)
	listens := listenFlag(fs)
	if _, code, ok := fs.parse(args, 0, 0); !ok {
		return code
	}
	cfg, ok := loadConfig(fs, *path)
	if !ok {
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
	err := daemon.Run(context.Background(), cfg, daemon.Options{ConfigPath: cfg.File, Listen: *listens, Log: log, Audit: audit})
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
