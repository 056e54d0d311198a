package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sys/unix"
)

// runHash prints a bcrypt hash for users.json ("pass_hash") or an htpasswd file.
func runHash(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("hash", stderr)
	cost := fs.Int("cost", 12, "bcrypt cost (4-31); each step doubles the work")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	password, err := readPassword(os.Stdin, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "regtoken hash:", err)
		return 1
	}
	if password == "" {
		fmt.Fprintln(stderr, "regtoken hash: empty password")
		return 1
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), *cost)
	if err != nil {
		fmt.Fprintln(stderr, "regtoken hash:", err)
		return exitUsage
	}
	fmt.Fprintln(stdout, string(h))
	return 0
}

// readPassword reads one line. On a terminal it prompts twice with echo off.
func readPassword(in *os.File, prompt io.Writer) (string, error) {
	fd := int(in.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil { // not a terminal: read a line from the pipe
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", err
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err != nil {
		return "", err
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	r := bufio.NewReader(in)
	ask := func(p string) (string, error) {
		fmt.Fprint(prompt, p)
		line, err := r.ReadString('\n')
		fmt.Fprintln(prompt)
		return strings.TrimRight(line, "\r\n"), err
	}
	first, err := ask("Password: ")
	if err != nil {
		return "", err
	}
	second, err := ask("Again: ")
	if err != nil {
		return "", err
	}
	if first != second {
		return "", fmt.Errorf("the passwords differ")
	}
	return first, nil
}
