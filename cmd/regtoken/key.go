package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/regtoken/regtoken/pkg/accounts"
	"github.com/regtoken/regtoken/pkg/config"
)

var keyUsage = usage{
	synopsis: "regtoken key promote|retire [-config regtoken.toml] [-service NAME] [-force] [-dry-run]",
	about: "Rotate the signing key by editing the configuration file, which a running regtoken serve reloads:\n" +
		"  promote  the next key ([token.next]) signs from now on; the current key's certificate joins\n" +
		"           token.previous, token.promoted_at is set, and [refresh] key keeps the old key so refresh\n" +
		"           tokens keep working\n" +
		"  retire   drop token.previous, once no token of those keys can still be valid\n" +
		"Promote only after every registry trusts the next key (regtoken check -registry FILE says so).\n" +
		"Both refuse a file whose layout they cannot edit safely, and change nothing then. See docs/keys.md.",
	example: "regtoken key promote -config /etc/regtoken/regtoken.toml",
	exit:    exitHelp,
}

var keyExit = []string{"0  done", "1  refused (too early, nothing to promote, a layout it cannot edit): nothing was changed", "2  bad command line or configuration file"}

func runKey(args []string, stdout, stderr io.Writer) int {
	return runSubcommand("key", args, stdout, stderr)
}

func keyCommands() []command {
	return []command{
		{"promote", "make the next key the signing key", keyEdit("promote"), usage{
			synopsis: "regtoken key promote [-config regtoken.toml] [-service NAME] [-dry-run]",
			about: "Make the next key ([token.next], or [token.service.NAME.next]) the signing key: its key and certificate\n" +
				"replace key and certificate, the old certificate goes first into previous, promoted_at is set to now,\n" +
				"and, unless [refresh] key is set, it is set to the old key. The file is replaced atomically; a running\n" +
				"regtoken serve reloads it within a second.",
			example: "regtoken key promote -config /etc/regtoken/regtoken.toml",
			exit:    keyExit,
		}},
		{"retire", "stop publishing the previous keys", keyEdit("retire"), usage{
			synopsis: "regtoken key retire [-config regtoken.toml] [-service NAME] [-force] [-dry-run]",
			about: "Remove previous from the key's table. Refused before promoted_at + the longest token lifetime + 60 s\n" +
				"(the registries' leeway), when tokens of those keys may still be valid, unless -force. Keep the old key\n" +
				"file while [refresh] key names it.",
			example: "regtoken key retire -config /etc/regtoken/regtoken.toml",
			exit:    keyExit,
		}},
	}
}

// keyEdit runs promote or retire: it edits the configuration text and
// replaces the file, or prints the result with -dry-run.
func keyEdit(cmd string) func([]string, io.Writer, io.Writer) int {
	return func(args []string, stdout, stderr io.Writer) int {
		fs := newFlags("key "+cmd, stdout, stderr)
		path := configFlag(fs)
		service := fs.String("service", "", "rotate service `NAME`'s own key ([token.service.NAME]); default token.key")
		dry := fs.Bool("dry-run", false, "print the edited file instead of writing it")
		force := false
		if cmd == "retire" {
			fs.BoolVar(&force, "force", false, "retire even though tokens of the previous keys may still be valid")
		}
		if _, code, ok := fs.parse(args, 0, 0); !ok {
			return code
		}
		if _, ok := loadConfig(fs, *path); !ok {
			return exitUsage
		}
		data, err := os.ReadFile(*path)
		if err != nil {
			fs.errorf("%v", err)
			return exitUsage
		}
		abs, _ := filepath.Abs(*path)
		var edited []byte
		if cmd == "promote" {
			edited, err = config.Promote(abs, data, *service, time.Now())
		} else {
			edited, err = config.Retire(abs, data, *service, time.Now(), force)
		}
		if err != nil {
			fmt.Fprintf(stderr, "regtoken key %s: %v\n", cmd, err)
			return exitProblem
		}
		if *dry {
			stdout.Write(edited)
			return exitOK
		}
		if err := accounts.ReplaceFile(*path, edited); err != nil {
			fmt.Fprintf(stderr, "regtoken key %s: %v\n", cmd, err)
			return exitProblem
		}
		fmt.Fprintf(stdout, "%s: %s done; a running regtoken serve reloads it. Run regtoken check for the next step.\n", *path, cmd)
		return exitOK
	}
}
