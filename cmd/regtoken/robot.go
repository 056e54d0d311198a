package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/regtoken/regtoken/pkg/acl"
	"github.com/regtoken/regtoken/pkg/config"
	"github.com/regtoken/regtoken/pkg/daemon"
	"github.com/regtoken/regtoken/pkg/robot"
)

// defaultRobotLifetime applies when create is given no -expires: a robot
// that nobody renews stops working, instead of a forgotten CI secret
// working for ever.
const defaultRobotLifetime = "90d"

var robotUsage = usage{
	synopsis: "regtoken robot create|list|rotate|revoke [flags] [NAME]",
	about: "Manage robot accounts, the credentials of machines (CI jobs, deploy scripts), in the configuration's\n" +
		"[robots] file (or -file):\n" +
		"  create  add a robot with rules and an expiry; prints its secret\n" +
		"  list    list the robots, their expiry, last login and rules\n" +
		"  rotate  give a robot a new secret (and expiry); prints the secret\n" +
		"  revoke  delete a robot\n" +
		"create and rotate print the secret, and only the secret, on stdout; regtoken keeps only its hash.\n" +
		"A running regtoken serve applies a change within a second. Run 'regtoken help robot create' (etc.)\n" +
		"for each one's flags.",
	example: "regtoken robot create ci-pusher -repo 'team-a/**=pull,push' -expires 90d > ci-pusher.secret",
	exit:    exitHelp,
}

var robotExit = []string{"0  done", "1  the change was refused or could not be written (nothing was changed)", "2  bad command line or configuration file"}

func robotCommands() []command {
	expires := "-expires EXPIRY"
	return []command{
		{"create", "add a robot", robotCommand("create", robotCreate), usage{
			synopsis: "regtoken robot create [-config regtoken.toml | -file robots.json] -repo PATTERN=ACTIONS [-repo ...] [-catalog] [" + expires + "] [-description TEXT] NAME",
			about:    "Add a robot with the rules given and print its secret, alone, on stdout. Without -expires it expires in " + defaultRobotLifetime + ".",
			args:     [][2]string{{"NAME", "the robot's name: its login name; not the name of a user of the rule files"}},
			example:  "regtoken robot create ci-pusher -repo 'team-a/**=pull,push' -repo 'team-a/secret=' -description 'team A CI'",
			exit:     robotExit,
		}},
		{"list", "list the robots", robotCommand("list", robotList), usage{
			synopsis: "regtoken robot list [-config regtoken.toml | -file robots.json] [-json]",
			about:    "List every robot with its expiry, its last login (with [robots] last_used) and its rules.",
			example:  "regtoken robot list -config /etc/regtoken/regtoken.toml",
			exit:     robotExit,
		}},
		{"rotate", "give a robot a new secret", robotCommand("rotate", robotRotate), usage{
			synopsis: "regtoken robot rotate [-config regtoken.toml | -file robots.json] [" + expires + "] NAME",
			about:    "Replace a robot's secret and print the new one, alone, on stdout; the old one stops working. -expires sets a new expiry.",
			args:     [][2]string{{"NAME", "an existing robot"}},
			example:  "regtoken robot rotate ci-pusher -expires 90d",
			exit:     robotExit,
		}},
		{"revoke", "delete a robot", robotCommand("revoke", robotRevoke), usage{
			synopsis: "regtoken robot revoke [-config regtoken.toml | -file robots.json] NAME",
			about:    "Delete a robot: its secret stops working.",
			args:     [][2]string{{"NAME", "an existing robot"}},
			example:  "regtoken robot revoke ci-pusher",
			exit:     robotExit,
		}},
	}
}

// runRobot runs a robot subcommand; alone, or with -h, it prints the list.
func runRobot(args []string, stdout, stderr io.Writer) int {
	return runSubcommand("robot", args, stdout, stderr)
}

// robotFlags are the flags of every robot command; each uses its own.
type robotFlags struct {
	fs          *flags
	name        string
	config      string
	file        string
	repos       stringList
	catalog     bool
	expires     string
	description string
	json        bool
}

// robotCommand parses the flags and NAME of the robot subcommand cmd, then
// runs it.
func robotCommand(cmd string, sub func(robotFlags, io.Writer, io.Writer) int) func([]string, io.Writer, io.Writer) int {
	return func(args []string, stdout, stderr io.Writer) int {
		f, code, ok := parseRobotFlags(cmd, args, stdout, stderr)
		if !ok {
			return code
		}
		return sub(f, stdout, stderr)
	}
}

// parseRobotFlags defines the flags of the subcommand cmd and parses args.
func parseRobotFlags(cmd string, args []string, stdout, stderr io.Writer) (robotFlags, int, bool) {
	f := robotFlags{fs: newFlags("robot "+cmd, stdout, stderr)}
	fs := f.fs
	fs.StringVar(&f.config, "config", "regtoken.toml", "configuration `FILE`: its [robots] file is the one used")
	fs.StringVar(&f.file, "file", "", "robots `FILE` (instead of the configuration's)")
	if cmd == "create" {
		fs.Var(&f.repos, "repo", "a rule `PATTERN=ACTIONS` the robot may use, e.g. team/app/**=pull,push (repeatable; PATTERN= denies)")
		fs.BoolVar(&f.catalog, "catalog", false, "the robot may list the catalog")
		fs.StringVar(&f.description, "description", "", "what the robot is for, as `TEXT`")
	}
	if cmd == "create" || cmd == "rotate" {
		fs.StringVar(&f.expires, "expires", "", "`EXPIRY`: a lifetime (90d, 12h), a date (2027-01-31) or never; create's default is "+defaultRobotLifetime+", rotate keeps the expiry")
	}
	if cmd == "list" {
		fs.BoolVar(&f.json, "json", false, "print JSON")
	}
	nameArgs := 1
	if cmd == "list" {
		nameArgs = 0
	}
	names, code, ok := fs.parse(args, nameArgs, nameArgs)
	if !ok {
		return f, code, false
	}
	if len(names) > 0 {
		f.name = names[0]
	}
	return f, exitOK, true
}

// robotPlace is where the robots are, and the users whose names a robot
// may not take.
type robotPlace struct {
	file     string
	lastUsed string
	users    *acl.Rules // nil when only -file was given
}

func (f robotFlags) place() (robotPlace, error) {
	if f.file != "" {
		return robotPlace{file: f.file}, nil
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		return robotPlace{}, err
	}
	if cfg.Robots.File == "" {
		return robotPlace{}, fmt.Errorf("%s has no [robots] file = ...; add one, or pass -file", cfg.File)
	}
	rules, err := acl.Load(cfg.ACL)
	if err != nil {
		return robotPlace{}, err
	}
	return robotPlace{file: cfg.Robots.File, lastUsed: cfg.Robots.LastUsed, users: rules}, nil
}

func robotCreate(f robotFlags, stdout, stderr io.Writer) int {
	now := time.Now().UTC().Truncate(time.Second)
	r := robot.Robot{Name: f.name, Rules: map[string][]string{}, Catalog: f.catalog, Description: f.description, Created: now}
	err := robot.CheckName(f.name)
	if err == nil {
		r.Rules, err = parseRepos(f.repos)
	}
	if err == nil && len(r.Rules) == 0 && !r.Catalog {
		err = errors.New("give the robot at least one -repo PATTERN=ACTIONS (or -catalog)")
	}
	if err == nil {
		r.Expires, err = parseExpiry(cmp.Or(f.expires, defaultRobotLifetime), now)
	}
	if err != nil {
		return robotFail(stderr, f, err, exitUsage)
	}
	place, err := f.place()
	if err != nil {
		return robotFail(stderr, f, err, exitUsage)
	}
	if place.users != nil && isUser(place.users, f.name) {
		return robotFail(stderr, f, fmt.Errorf("%q is a user of the rule files; pick another name", f.name), 1)
	}
	secret := robot.NewSecret()
	r.SecretHash = robot.HashSecret(secret)
	err = robot.Update(place.file, func(robots []robot.Robot) ([]robot.Robot, error) {
		if slices.ContainsFunc(robots, func(o robot.Robot) bool { return o.Name == f.name }) {
			return nil, fmt.Errorf("robot %q exists; use regtoken robot rotate %s for a new secret", f.name, f.name)
		}
		return append(robots, r), nil
	})
	if err != nil {
		return robotFail(stderr, f, err, 1)
	}
	fmt.Fprintf(stderr, "robot %s created in %s; it %s.\n", f.name, place.file, describeExpiry(r.Expires, now))
	printSecret(stdout, stderr, f.name, secret)
	return 0
}

func robotRotate(f robotFlags, stdout, stderr io.Writer) int {
	now := time.Now().UTC().Truncate(time.Second)
	var expires time.Time
	var err error
	if f.expires != "" {
		if expires, err = parseExpiry(f.expires, now); err != nil {
			return robotFail(stderr, f, err, exitUsage)
		}
	}
	place, err := f.place()
	if err != nil {
		return robotFail(stderr, f, err, exitUsage)
	}
	secret := robot.NewSecret()
	var after time.Time
	err = robot.Update(place.file, func(robots []robot.Robot) ([]robot.Robot, error) {
		i := slices.IndexFunc(robots, func(o robot.Robot) bool { return o.Name == f.name })
		if i < 0 {
			return nil, fmt.Errorf("no robot %q in %s", f.name, place.file)
		}
		robots[i].SecretHash = robot.HashSecret(secret)
		if f.expires != "" {
			robots[i].Expires = expires
		}
		after = robots[i].Expires
		return robots, nil
	})
	if err != nil {
		return robotFail(stderr, f, err, 1)
	}
	fmt.Fprintf(stderr, "robot %s has a new secret; the old one no longer works once regtoken reloads (within a second). It %s.\n",
		f.name, describeExpiry(after, now))
	printSecret(stdout, stderr, f.name, secret)
	return 0
}

func robotRevoke(f robotFlags, stdout, stderr io.Writer) int {
	place, err := f.place()
	if err != nil {
		return robotFail(stderr, f, err, exitUsage)
	}
	err = robot.Update(place.file, func(robots []robot.Robot) ([]robot.Robot, error) {
		i := slices.IndexFunc(robots, func(o robot.Robot) bool { return o.Name == f.name })
		if i < 0 {
			return nil, fmt.Errorf("no robot %q in %s", f.name, place.file)
		}
		return slices.Delete(robots, i, i+1), nil
	})
	if err != nil {
		return robotFail(stderr, f, err, 1)
	}
	fmt.Fprintf(stdout, "robot %s revoked: its secret no longer works once regtoken reloads (within a second)\n", f.name)
	return 0
}

func robotList(f robotFlags, stdout, stderr io.Writer) int {
	place, err := f.place()
	if err != nil {
		return robotFail(stderr, f, err, exitUsage)
	}
	set, err := daemon.LoadRobots(place.file, place.users)
	if err != nil {
		return robotFail(stderr, f, err, 1)
	}
	logins := map[string]time.Time{}
	if place.lastUsed != "" {
		if logins, err = robot.LoadLastUsed(place.lastUsed); err != nil {
			fmt.Fprintf(stderr, "regtoken robot list: last logins unknown: %v\n", err)
		}
	}
	if f.json {
		return listJSON(stdout, set.Robots(), logins)
	}
	now := time.Now()
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tEXPIRES\tLAST LOGIN\tCREATED\tRULES\tDESCRIPTION")
	for _, r := range set.Robots() {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, listExpiry(r, now), listLogin(logins, r.Name, place.lastUsed),
			r.Created.UTC().Format(time.DateOnly), describeRules(r), r.Description)
	}
	w.Flush()
	if len(set.Robots()) == 0 {
		fmt.Fprintf(stderr, "no robots in %s\n", place.file)
	}
	return 0
}

func listJSON(w io.Writer, robots []robot.Robot, logins map[string]time.Time) int {
	type entry struct {
		Name         string              `json:"name"`
		Description  string              `json:"description,omitempty"`
		Repositories map[string][]string `json:"repositories"`
		Catalog      bool                `json:"catalog,omitempty"`
		Created      time.Time           `json:"created"`
		Expires      *time.Time          `json:"expires,omitempty"`
		LastLogin    *time.Time          `json:"last_login,omitempty"`
	}
	out := []entry{}
	for _, r := range robots {
		e := entry{Name: r.Name, Description: r.Description, Repositories: r.Rules, Catalog: r.Catalog, Created: r.Created}
		if !r.Expires.IsZero() {
			e.Expires = &r.Expires
		}
		if at, ok := logins[r.Name]; ok {
			e.LastLogin = &at
		}
		out = append(out, e)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(out)
	return 0
}

func listExpiry(r robot.Robot, now time.Time) string {
	switch {
	case r.Expires.IsZero():
		return "never"
	case r.Expired(now):
		return r.Expires.UTC().Format(time.DateOnly) + " (EXPIRED)"
	case r.Expires.Sub(now) < robot.WarnBefore:
		return r.Expires.UTC().Format(time.DateOnly) + " (SOON)"
	}
	return r.Expires.UTC().Format(time.DateOnly)
}

func listLogin(logins map[string]time.Time, name, lastUsed string) string {
	switch at, ok := logins[name]; {
	case ok:
		return at.UTC().Format(time.DateTime)
	case lastUsed == "":
		return "unknown" // no [robots] last_used file configured
	}
	return "never"
}

func describeRules(r robot.Robot) string {
	var parts []string
	for _, g := range r.Grants("") {
		if g.Catalog {
			parts = append(parts, "catalog")
			continue
		}
		parts = append(parts, g.Pattern+"="+strings.Join(g.Actions, ","))
	}
	return strings.Join(parts, " ")
}

// printSecret shows the secret once: alone on stdout, so a script can
// capture it, with how to use it on stderr.
func printSecret(stdout, stderr io.Writer, name, secret string) {
	fmt.Fprintln(stdout, secret)
	fmt.Fprintf(stderr, "This is the only time the secret is shown; regtoken keeps only its hash. Log in with:\n"+
		"  printf '%%s' \"$SECRET\" | docker login -u %s --password-stdin REGISTRY\n", name)
}

func robotFail(stderr io.Writer, f robotFlags, err error, code int) int {
	f.fs.errorf("%v", err)
	return code
}

// parseRepos reads -repo PATTERN=ACTIONS values.
func parseRepos(repos []string) (map[string][]string, error) {
	rules := map[string][]string{}
	for _, r := range repos {
		pattern, actions, ok := strings.Cut(r, "=")
		if !ok || pattern == "" {
			return nil, fmt.Errorf("-repo %q: want PATTERN=ACTIONS, e.g. team/app/**=pull,push", r)
		}
		list := []string{}
		if actions != "" {
			list = strings.Split(actions, ",")
		}
		if err := robot.CheckRule(pattern, list); err != nil {
			return nil, err
		}
		rules[pattern] = list
	}
	return rules, nil
}

// parseExpiry reads 90d, 12h (any Go duration, plus d for days and w for
// weeks), a date or an RFC 3339 time, or never.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if s == "never" {
		return time.Time{}, nil
	}
	if n, unit := strings.TrimRight(s, "dw"), strings.TrimLeft(s, "0123456789"); unit == "d" || unit == "w" {
		days, err := strconv.Atoi(n)
		if err == nil && days > 0 {
			if unit == "w" {
				days *= 7
			}
			return now.AddDate(0, 0, days), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d), nil
	}
	for _, layout := range []string{time.DateOnly, time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			if !t.After(now) {
				return time.Time{}, fmt.Errorf("-expires %s is in the past", s)
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("-expires %q: want a lifetime like 90d or 12h, a date like 2027-01-31, or never", s)
}

func describeExpiry(expires, now time.Time) string {
	if expires.IsZero() {
		return "never expires"
	}
	return fmt.Sprintf("expires %s (in %d days)", expires.UTC().Format(time.RFC3339), int(expires.Sub(now).Hours()/24))
}

func isUser(rules *acl.Rules, name string) bool {
	_, ok := rules.User(name)
	return ok
}
