package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sys/unix"
)

var hashUsage = usage{
	synopsis: "regtoken hash [-cost 12]",
	about: "Print a bcrypt hash of a password, for \"pass_hash\" in users.json or an htpasswd line. The password is\n" +
		"read from the terminal without echo (asked twice), or as one line from stdin when stdin is not a\n" +
		"terminal. It is never taken from the command line, where other users could see it.",
	example: "regtoken hash -cost 12              # asks for the password\nregtoken hash < password.txt       # first line of the file",
	exit:    []string{"0  the hash was printed", "1  no password could be read, or the two differ", "2  bad command line (e.g. -cost outside 4-31)"},
}

// runHash prints a bcrypt hash for users.json ("pass_hash") or an htpasswd file.
func runHash(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("hash", stdout, stderr)
	fs.secretArgs = true
	cost := costFlag(fs)
	if _, code, ok := fs.parse(args, 0, 0); !ok {
		return code
	}
	if err := checkCost(*cost); err != nil {
		fs.errorf("%v", err)
		return exitUsage
	}
	h, err := hashPassword(os.Stdin, stderr, *cost)
	if err != nil {
		fs.errorf("%v", err)
		return exitProblem
	}
	fmt.Fprintln(stdout, h)
	return exitOK
}

// costFlag is -cost, shared by hash and user add/passwd.
func costFlag(fs *flags) *int {
	return fs.Int("cost", 12, "bcrypt `COST`, 4-31; each step doubles the work (10-12 is right for most)")
}

// checkCost refuses what bcrypt would silently replace: it makes a cost-10
// hash for any cost below 4.
func checkCost(cost int) error {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return fmt.Errorf("-cost %d is outside %d-%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	return nil
}

// hashPassword reads a password (see readPassword) and returns its bcrypt hash.
func hashPassword(in *os.File, prompt io.Writer, cost int) (string, error) {
	password, err := readPassword(in, prompt)
	if err != nil {
		return "", err
	}
	if password == "" {
		return "", errors.New("empty password")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	return string(h), err
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
