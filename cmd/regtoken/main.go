// Command regtoken is a token service ("token realm") for private Docker/OCI
// registries. See README.md for how to run it behind nginx.
//
// Usage:
//
//	regtoken serve   [-config regtoken.toml] [-listen PROTOCOL=ADDRESS[?OPTIONS] ...]
//	regtoken check   [-config regtoken.toml] [-registry FILE ...] [-list]
//	regtoken explain [-config regtoken.toml] [-user NAME | -claims FILE | -robot NAME] SCOPE...
//	regtoken user    add|passwd|del|revoke|list ...
//	regtoken robot   create|list|rotate|revoke ...
//	regtoken hash    [-cost 12]
//	regtoken keygen  [-dir certs] [-cn localhost] [-days 1024]
//	regtoken bundle  [-config regtoken.toml] [-service NAME]
//	regtoken jwks    [-config regtoken.toml] [-service NAME]
//	regtoken key     promote|retire [-config regtoken.toml] [-service NAME]
//	regtoken version
//	regtoken help    [COMMAND]
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/regtoken/regtoken/pkg/authn"
	"github.com/regtoken/regtoken/pkg/daemon"
)

// Exit statuses shared by every command.
const (
	exitOK      = 0
	exitProblem = 1 // the command ran and found or hit a problem
	exitUsage   = 2 // a bad command line or configuration
)

// command is one row of the command table. To add a command, add a row to
// commands: its run function parses its own flags with newFlags, which
// finds the usage text here by name.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
	usage   usage
}

func commands() []command {
	return []command{
		{"serve", "serve tokens on the configured listeners", runServe, serveUsage},
		{"check", "check everything serve needs, and a registry's configuration against regtoken's", runCheck, checkUsage},
		{"explain", "show which actions a user, token or robot gets for scopes, and which rule decided", runExplain, explainUsage},
		{"user", "add, change, delete and list the users of users.json or htpasswd", runUser, userUsage},
		{"robot", "create, list, rotate and revoke robot accounts (machine credentials)", runRobot, robotUsage},
		{"hash", "print a bcrypt hash of a password read from the terminal or stdin", runHash, hashUsage},
		{"keygen", "make a signing key (P-256, P-384, Ed25519, RSA) with a certificate, self-signed or from a CA", runKeygen, keygenUsage},
		{"bundle", "print the PEM bundle of every published certificate, for rootcertbundle", runBundle, bundleUsage},
		{"jwks", "print the JWKS of every published key, for distribution 3.x's jwks", runJWKS, jwksUsage},
		{"key", "promote the next signing key, retire the previous ones (edits the configuration)", runKey, keyUsage},
		{"version", "print the version and how the binary was built", runVersion, versionUsage},
		{"help", "print the usage of regtoken or of one command", runHelp, helpUsage},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		mainUsage(stdout)
		return exitOK
	}
	switch args[0] {
	case "-h", "-help", "--help":
		mainUsage(stdout)
		return exitOK
	case "-version", "--version":
		return runVersion(nil, stdout, stderr)
	case daemon.WorkerCommand: // started by serve, not by people: not listed
		if err := authn.ServeWorker(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(stderr, "regtoken bcrypt-worker:", err)
			return exitProblem
		}
		return exitOK
	}
	if c, ok := findCommand(args[0]); ok {
		return c.run(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "regtoken: unknown command %q (run 'regtoken help' for the list)\n", args[0])
	return exitUsage
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func mainUsage(w io.Writer) {
	fmt.Fprint(w, "regtoken is a token service for private Docker/OCI registries.\n\n"+
		"usage: regtoken COMMAND [flags] [arguments]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'regtoken help COMMAND' (or 'regtoken COMMAND -h') for a command's flags, arguments and an example.\n"+
		"Flags may be written -flag or --flag, before or after the arguments.\n")
}

var helpUsage = usage{
	synopsis: "regtoken help [COMMAND]",
	about:    "Print the list of commands, or the usage of one command, on stdout.",
	args:     [][2]string{{"COMMAND", "a command name, e.g. serve; 'user add' for a user subcommand"}},
	example:  "regtoken help check",
	exit:     exitHelp,
}

// runHelp prints the main usage, or a command's: "help serve" is "serve -h",
// and "help user add" is "user add -h".
func runHelp(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("help", stdout, stderr)
	names, code, ok := fs.parse(args, 0, 2)
	if !ok {
		return code
	}
	if len(names) == 0 {
		mainUsage(stdout)
		return exitOK
	}
	c, found := findCommand(names[0])
	if !found {
		fmt.Fprintf(stderr, "regtoken help: unknown command %q (run 'regtoken help' for the list)\n", names[0])
		return exitUsage
	}
	return c.run(append(names[1:], "-h"), stdout, stderr)
}
