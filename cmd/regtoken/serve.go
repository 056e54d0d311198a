package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/daemon"
	"github.com/regtoken/regtoken/pkg/endpoint"
	"github.com/regtoken/regtoken/pkg/listen"
	"github.com/regtoken/regtoken/pkg/logstream"
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
	logs, err := openLogs(stderr, cfg.Log)
	if err != nil {
		fs.errorf("%v", err)
		return exitUsage
	}
	defer logs.Close() // after "stopped": every audit line is written
	log := newLogger(logs.process.Now(), cfg.Log)
	err = daemon.Run(context.Background(), cfg, daemon.Options{ConfigPath: cfg.File, Listen: *listens, Log: log,
		Audit: logs.auditWriter(), AuditFormat: auditFormat(cfg.Log), Reopen: logs.reopener()})
	if err != nil {
		log.Error("cannot serve", "err", err)
		return exitUsage
	}
	return exitOK
}

// logStreams are where serve writes: lifecycle lines on stderr, audit
// lines there too or in their own file. Lines on one stream keep their
// order: lifecycle lines flush the audit lines buffered before them.
type logStreams struct {
	process *logstream.Stream
	audit   *logstream.Stream // nil: no audit log; == process: on stderr
}

// auditFlushInterval bounds how late a buffered audit line appears.
const auditFlushInterval = 100 * time.Millisecond

func openLogs(stderr io.Writer, c config.Log) (*logStreams, error) {
	l := &logStreams{process: logstream.New(stderr, auditFlushInterval)}
	switch {
	case !c.Audit:
	case c.AuditFile == "":
		l.audit = l.process
	default:
		f, err := logstream.Open(c.AuditFile, auditFlushInterval)
		if err != nil {
			l.process.Close()
			return nil, fmt.Errorf("log.audit_file: %w", err)
		}
		l.audit = f
	}
	return l, nil
}

func (l *logStreams) auditWriter() io.Writer {
	if l.audit == nil {
		return nil // a nil *Stream in an io.Writer would not be nil
	}
	return l.audit
}

// reopener reopens the audit file, for logrotate; nil when there is none.
func (l *logStreams) reopener() func() error {
	if l.audit == nil || l.audit == l.process {
		return nil
	}
	return l.audit.Reopen
}

func (l *logStreams) Close() {
	if l.audit != nil && l.audit != l.process {
		l.audit.Close()
	}
	l.process.Close()
}

func auditFormat(c config.Log) endpoint.AuditFormat {
	if c.Format == "json" {
		return endpoint.AuditJSON
	}
	return endpoint.AuditText
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
