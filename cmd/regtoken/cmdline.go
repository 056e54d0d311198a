package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"strings"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/config"
)

// usage is what a command's help says besides its flags.
type usage struct {
	synopsis string
	about    string
	args     [][2]string // name, meaning
	example  string
	exit     []string // one line per exit status
}

// Exit-status lines most commands share.
var (
	exitHelp  = []string{"0  done (or usage printed for -h)", "2  bad command line"}
	exitCheck = []string{"0  done", "1  the command failed (the message says why)", "2  bad command line or configuration file"}
)

// flags is a command's flag set, with the command's usage for -h and its
// arguments' rules. Flags and arguments may come in any order; "--" ends the
// flags.
type flags struct {
	*flag.FlagSet
	name           string
	stdout, stderr io.Writer
	// secretArgs: the arguments may be secrets, so an error never repeats them.
	secretArgs bool
}

// newFlags returns the flag set of the command name ("check", "user add").
// Errors go to stderr; help asked for with -h goes to stdout.
func newFlags(name string, stdout, stderr io.Writer) *flags {
	fs := flag.NewFlagSet("regtoken "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // parse prints the usage, or where to find it
	return &flags{FlagSet: fs, name: name, stdout: stdout, stderr: stderr}
}

// parse parses args and returns the arguments that are not flags, of which
// there must be at least min and at most max (max < 0: no limit). When ok is
// false the caller returns code: 0 after -h printed the usage, exitUsage
// after a message on stderr.
func (f *flags) parse(args []string, min, max int) (positional []string, code int, ok bool) {
	positional, err := f.parseInterspersed(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		f.printUsage(f.stdout)
		return nil, exitOK, false
	case err != nil: // the flag package printed the error
		fmt.Fprintf(f.stderr, "run 'regtoken help %s' for usage\n", f.name)
		return nil, exitUsage, false
	case max >= 0 && len(positional) > max:
		f.errorf("%s", f.unexpected(positional[max]))
		return nil, exitUsage, false
	case len(positional) < min:
		f.errorf("missing %s", f.argName(len(positional)))
		return nil, exitUsage, false
	}
	return positional, exitOK, true
}

// parseInterspersed lets flags follow arguments, as in
// "regtoken explain SCOPE -user alice", which the flag package alone stops
// parsing at SCOPE.
func (f *flags) parseInterspersed(args []string) ([]string, error) {
	var positional []string
	for {
		if err := f.Parse(args); err != nil {
			return nil, err
		}
		rest := f.Args()
		consumed := len(args) - len(rest)
		if len(rest) == 0 || (consumed > 0 && args[consumed-1] == "--") {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// unexpected explains an argument the command does not take, and suggests
// the flag that was probably meant.
func (f *flags) unexpected(arg string) string {
	if f.secretArgs {
		return "takes no arguments (a password is never read from the command line, where other users could see it)"
	}
	msg := fmt.Sprintf("unexpected argument %q", arg)
	if f.Lookup("config") != nil && strings.HasSuffix(arg, ".toml") {
		return msg + fmt.Sprintf("; did you mean -config %s?", arg)
	}
	if f.Lookup("dir") != nil && !strings.HasPrefix(arg, "-") {
		return msg + fmt.Sprintf("; did you mean -dir %s?", arg)
	}
	return msg + fmt.Sprintf(" (run 'regtoken help %s' for usage)", f.name)
}

// argName names the i-th argument as the usage does.
func (f *flags) argName(i int) string {
	args := lookupUsage(f.name).args
	if i < len(args) {
		return strings.TrimSuffix(args[i][0], "...")
	}
	return "argument"
}

func (f *flags) errorf(format string, a ...any) {
	fmt.Fprintf(f.stderr, "regtoken %s: %s\n", f.name, fmt.Sprintf(format, a...))
}

// printUsage writes the command's synopsis, description, arguments, flags,
// example and exit statuses.
func (f *flags) printUsage(w io.Writer) {
	u := lookupUsage(f.name)
	fmt.Fprintf(w, "usage: %s\n\n%s\n", u.synopsis, u.about)
	if len(u.args) > 0 {
		fmt.Fprintln(w, "\narguments:")
		for _, a := range u.args {
			fmt.Fprintf(w, "  %-10s %s\n", a[0], a[1])
		}
	}
	hasFlags := false
	f.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintln(w, "\nflags:")
		f.SetOutput(w)
		f.PrintDefaults()
		f.SetOutput(f.stderr)
	}
	if u.example != "" {
		fmt.Fprintf(w, "\nexample:\n  %s\n", strings.ReplaceAll(u.example, "\n", "\n  "))
	}
	if len(u.exit) > 0 {
		fmt.Fprintf(w, "\nexit status:\n  %s\n", strings.Join(u.exit, "\n  "))
	}
}

// lookupUsage finds the usage of a command ("serve") or of a subcommand
// ("user add") in the command tables.
func lookupUsage(name string) usage {
	cmd, sub, _ := strings.Cut(name, " ")
	c, _ := findCommand(cmd)
	if sub == "" {
		return c.usage
	}
	for _, s := range subcommands(cmd) {
		if s.name == sub {
			return s.usage
		}
	}
	return usage{synopsis: "regtoken " + name}
}

// subcommands are the subcommands of a command such as "user".
func subcommands(cmd string) []command {
	switch cmd {
	case "user":
		return userCommands()
	case "robot":
		return robotCommands()
	case "key":
		return keyCommands()
	}
	return nil
}

// runSubcommand runs the subcommand of cmd that args name; without one, or
// with -h, it prints cmd's usage.
func runSubcommand(cmd string, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		newFlags(cmd, stdout, stderr).printUsage(stdout)
		return exitOK
	}
	var names []string
	for _, c := range subcommands(cmd) {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
		names = append(names, c.name)
	}
	fmt.Fprintf(stderr, "regtoken %s: unknown subcommand %q (want %s or %s)\n", cmd, args[0],
		strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
	return exitUsage
}

// stringList collects a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// configFlag is -config, for every command that reads the configuration.
func configFlag(fs *flags) *string {
	return fs.String("config", "regtoken.toml", "configuration `FILE`")
}

// loadConfig loads the configuration file, printing why it cannot.
func loadConfig(fs *flags, path string) (*config.Config, bool) {
	cfg, err := config.Load(path)
	switch {
	case errors.Is(err, iofs.ErrNotExist) && !fs.flagSet("config"):
		fs.errorf("%s: no such file; name the configuration with -config FILE", path)
	case errors.Is(err, iofs.ErrNotExist):
		fs.errorf("%s: no such file", path)
	case err != nil:
		fs.errorf("%v", err)
	}
	return cfg, err == nil
}

// parseNameAndConfig parses the flags and the one NAME argument, and
// loads the configuration; when not ok, code is the exit code.
func parseNameAndConfig(fs *flags, args []string, path *string) (name string, cfg *config.Config, code int, ok bool) {
	names, code, ok := fs.parse(args, 1, 1)
	if !ok {
		return "", nil, code, false
	}
	if cfg, ok = loadConfig(fs, *path); !ok {
		return "", nil, exitUsage, false
	}
	return names[0], cfg, exitOK, true
}

// loadRules loads the configuration and the rule files it names, printing
// why it cannot; code is the exit status then.
func loadRules(fs *flags, path string) (cfg *config.Config, rules *acl.Rules, code int, ok bool) {
	cfg, ok = loadConfig(fs, path)
	if !ok {
		return nil, nil, exitUsage, false
	}
	rules, err := acl.Load(cfg.ACL)
	if err != nil {
		fs.errorf("%v", err)
		return nil, nil, exitProblem, false
	}
	return cfg, rules, exitOK, true
}

// flagSet reports whether the flag name was given on the command line.
func (f *flags) flagSet(name string) bool {
	set := false
	f.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}
