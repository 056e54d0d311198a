// Command regtoken is a token service ("token realm") for private Docker/OCI
// registries. See README.md for how to run it behind nginx.
//
// Usage:
//
//	regtoken serve   -config regtoken.toml [-listen PROTOCOL=ADDRESS ...]
//	regtoken check   -config regtoken.toml
//	regtoken explain -config regtoken.toml [-user NAME] SCOPE...
//	regtoken hash    [-cost 12]
//	regtoken keygen  [-dir certs] [-cn localhost] [-days 1024]
//	regtoken robot   create|list|rotate|revoke ...
//	regtoken version
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/daemon"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitUsage is the status for a bad command line or configuration.
const exitUsage = 2

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "serve tokens on the configured listeners", runServe},
		{"check", "validate the configuration, key, certificate and rule files", runCheck},
		{"explain", "show which actions a user gets for scopes, and which rule decided", runExplain},
		{"hash", "print a bcrypt hash of a password read from the terminal or stdin", runHash},
		{"keygen", "make a P-256 signing key and a self-signed certificate", runKeygen},
		robotCommand,
		{"version", "print the version", func([]string, io.Writer, io.Writer) int { fmt.Println("regtoken", version); return 0 }},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		return exitUsage
	}
	if args[0] == daemon.WorkerCommand { // started by serve, not by people: not listed
		if err := authn.ServeWorker(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(stderr, "regtoken bcrypt-worker:", err)
			return 1
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "regtoken: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: regtoken COMMAND [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
}

// newFlags returns a flag set that reports errors instead of exiting. Go's flag
// package accepts both -config and --config.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("regtoken "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args and returns the exit status to use when parsing failed.
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return exitUsage, false
	}
	return 0, true
}
