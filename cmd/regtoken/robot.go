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

// robotCommand is `regtoken robot`, registered in commands().
var robotCommand = command{"robot", "create, list, rotate and revoke robot accounts (machine credentials)", runRobot}

// defaultRobotLifetime applies when create is given no -expires: a robot
// that nobody renews stops working, instead of a forgotten CI secret
// working for ever.
const defaultRobotLifetime = "90d"

const robotUsage = `usage:
  regtoken robot create NAME -repo PATTERN=ACTIONS [-repo ...] [-catalog] [-expires 90d|DATE|never] [-description TEXT]
  regtoken robot list   [-json]
  regtoken robot rotate NAME [-expires 90d|DATE|never]
  regtoken robot revoke NAME
each also takes -config regtoken.toml (whose [robots] file is used) or -file robots.json.
create and rotate print the secret, and only the secret, on standard output.`

func runRobot(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, robotUsage)
		return exitUsage
	}
	sub := map[string]func(robotFlags, io.Writer, io.Writer) int{
		"create": robotCreate, "list": robotList, "rotate": robotRotate, "revoke": robotRevoke,
	}[args[0]]
	if sub == nil {
		fmt.Fprintf(stderr, "regtoken robot: unknown command %q\n%s\n", args[0], robotUsage)
		return exitUsage
	}
	f, code, ok := parseRobotFlags(args[0], args[1:], stderr)
	if !ok {
		return code
	}
	return sub(f, stdout, stderr)
}

// robotFlags are the flags of every robot command; each uses its own.
type robotFlags struct {
	cmd         string
	name        string
	config      string
	file        string
	repos       repoFlags
	catalog     bool
	expires     string
	description string
	json        bool
}

type repoFlags []string

func (r *repoFlags) String() string     { return strings.Join(*r, " ") }
func (r *repoFlags) Set(v string) error { *r = append(*r, v); return nil }

// parseRobotFlags accepts the robot's name before or after the flags.
func parseRobotFlags(cmd string, args []string, stderr io.Writer) (robotFlags, int, bool) {
	f := robotFlags{cmd: cmd}
	fs := newFlags("robot "+cmd, stderr)
	fs.StringVar(&f.config, "config", "regtoken.toml", "configuration file: its [robots] file is the one changed")
	fs.StringVar(&f.file, "file", "", "robots file (instead of the configuration's)")
	if cmd == "create" {
		fs.Var(&f.repos, "repo", "PATTERN=ACTIONS the robot may use, e.g. team/app/**=pull,push (repeat; PATTERN= denies)")
		fs.BoolVar(&f.catalog, "catalog", false, "the robot may list the catalog")
		fs.StringVar(&f.description, "description", "", "what the robot is for")
	}
	if cmd == "create" || cmd == "rotate" {
		fs.StringVar(&f.expires, "expires", "", "lifetime (90d, 12h), a date (2027-01-31) or never; create's default is "+defaultRobotLifetime+", rotate keeps the expiry")
	}
	if cmd == "list" {
		fs.BoolVar(&f.json, "json", false, "print JSON")
	}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		f.name, args = args[0], args[1:]
	}
	if code, ok := parseFlags(fs, args); !ok {
		return f, code, false
	}
	if f.name == "" && fs.NArg() > 0 {
		f.name = fs.Arg(0)
	}
	if cmd != "list" && f.name == "" {
		fmt.Fprintf(stderr, "regtoken robot %s: name the robot\n", cmd)
		return f, exitUsage, false
	}
	return f, 0, true
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
	fmt.Fprintf(stderr, "regtoken robot %s: %v\n", f.cmd, err)
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
