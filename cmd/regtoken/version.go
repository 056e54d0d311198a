package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// version, when set at build time (-ldflags "-X main.version=v1.2.3"),
// replaces the version Go records in the binary. Left empty, `go install
// …@v1.2.3` reports v1.2.3, and a build from a checkout its commit.
var version string

var versionUsage = usage{
	synopsis: "regtoken version",
	about: "Print regtoken's version: the module version for `go install …@VERSION`, the commit, its time and\n" +
		"whether the checkout had uncommitted changes for a build from a checkout, and the Go version.\n" +
		"regtoken --version does the same.",
	example: "regtoken version",
	exit:    exitHelp,
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", stdout, stderr)
	if _, code, ok := fs.parse(args, 0, 0); !ok {
		return code
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintln(stdout, "regtoken", describeBuild(version, info))
	return exitOK
}

// describeBuild says which regtoken this is: "v1.2.3 (go1.26.0)", or for a
// build from a checkout "v0.0.0-20261201…-abcdef123456+dirty (commit
// abcdef123456, 2026-12-01T12:00:00Z, uncommitted changes; go1.26.0)".
// override, when not empty, is the version set with -ldflags.
func describeBuild(override string, info *debug.BuildInfo) string {
	if info == nil {
		return nameOr(override, "unknown (no build information)")
	}
	v := nameOr(override, info.Main.Version)
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var details []string
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		details = append(details, "commit "+rev[:min(12, len(rev))])
		if t := settings["vcs.time"]; t != "" {
			details = append(details, t)
		}
		if settings["vcs.modified"] == "true" {
			details = append(details, "uncommitted changes")
		}
	}
	goVersion := info.GoVersion
	if len(details) == 0 {
		return fmt.Sprintf("%s (%s)", v, goVersion)
	}
	return fmt.Sprintf("%s (%s; %s)", v, strings.Join(details, ", "), goVersion)
}

func nameOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
