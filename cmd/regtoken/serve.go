package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

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
	var audit *slog.Logger
	if cfg.Log.Audit {
		audit = slog.New(slog.NewJSONHandler(stderr, nil)).With("log", "audit")
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
