package acl

import (
	"fmt"
	"slices"
)

// Rules is the loaded, validated and precompiled rule set. It is immutable
// after Load and safe for concurrent use.
type Rules struct {
	files    Files                    // the names used in references and messages
	subjects map[string]*subjectRules // by user name
	names    []string                 // sorted user names
	public   []rule                   // repositories.json, compiled
	anyCat   *RuleRef                 // catalog for everyone (Files.AnonymousCatalog)
	src      sources                  // the files as written, for Check and reports
}

// sources is what the parsers read, before compilation.
type sources struct {
	users      []userEntry
	groups     map[string]*groupEntry
	groupOrder []string
	public     publicList
	htpasswd   map[string]htpasswdEntry
	problems   []Problem // found while parsing: duplicate and unknown keys
}

// subjectRules is everything Decide needs about one user, compiled at load:
// its own keys and its groups' keys, with ${user} already replaced.
type subjectRules struct {
	user    User
	rules   []rule
	catalog *RuleRef // the rule granting the catalog; nil: none
}

// rule is one compiled key.
type rule struct {
	pattern pattern
	actions actionSet
	deny    bool
	ref     RuleRef
}

// Rule is one key as it applies to a subject, for reports.
type Rule struct {
	Ref     RuleRef
	Actions []string // empty: an explicit deny
}

// build merges the parsed files and compiles every user's rules.
func build(files Files, s sources) (*Rules, error) {
	r := &Rules{files: files, subjects: map[string]*subjectRules{}, src: s}
	for _, u := range s.users {
		user := User{Name: u.name, Groups: slices.Clone(u.groups), TokensNotBefore: u.notBefore}
		if u.passHash != "" {
			user.PassHash = []byte(u.passHash)
		}
		if h, ok := s.htpasswd[u.name]; ok {
			if u.passHash != "" {
				return nil, &LoadError{File: files.Users, Line: u.line, Key: u.name, Err: failure(ErrConflict,
					"user also has a password in %s (line %d); omit pass_hash here", files.Htpasswd, h.line)}
			}
			user.PassHash = []byte(h.hash)
		}
		r.subjects[u.name] = r.compileUser(user, u)
	}
	for name, h := range s.htpasswd {
		if _, ok := r.subjects[name]; !ok {
			r.subjects[name] = &subjectRules{user: User{Name: name, PassHash: []byte(h.hash)}}
		}
	}
	for name := range r.subjects {
		r.names = append(r.names, name)
	}
	slices.Sort(r.names)
	r.public = compilePublic(files.Repositories, s.public)
	if files.AnonymousCatalog {
		r.anyCat = &RuleRef{Owner: ownerAnonymous, Key: "catalog"}
	}
	return r, nil
}

const ownerAnonymous = "anonymous"

// compileUser compiles a user's own keys, then those of each known group in
// the order the user lists them.
func (r *Rules) compileUser(user User, u userEntry) *subjectRules {
	sr := &subjectRules{user: user}
	owner := "user " + u.name
	sr.rules = appendRules(sr.rules, r.files.Users, owner, u.rules, u.name)
	if u.catalog {
		sr.catalog = &RuleRef{File: r.files.Users, Owner: owner, Key: "catalog"}
	}
	for _, name := range u.groups {
		g, ok := r.src.groups[name]
		if !ok {
			continue // Check reports unknown groups
		}
		owner := "group " + name
		sr.rules = appendRules(sr.rules, r.files.Groups, owner, g.rules, u.name)
		if g.catalog && sr.catalog == nil {
			sr.catalog = &RuleRef{File: r.files.Groups, Owner: owner, Key: "catalog"}
		}
	}
	sr.user.Catalog = sr.catalog != nil
	return sr
}

func appendRules(dst []rule, file, owner string, entries []ruleEntry, user string) []rule {
	for _, e := range entries {
		dst = append(dst, rule{
			pattern: compilePattern(e.key, user),
			actions: e.actions,
			deny:    e.deny,
			ref:     RuleRef{File: file, Owner: owner, Key: e.key},
		})
	}
	return dst
}

// compilePublic turns repositories.json into rules. Whitelist: each entry
// allows pull. Blacklist: a bare "*" allows pull and each entry is a deny,
// which (being public) only ever hides the public pull, never a user's own.
func compilePublic(file string, p publicList) []rule {
	var rules []rule
	ref := func(key string) RuleRef { return RuleRef{File: file, Owner: ownerAnonymous, Key: key} }
	if p.blacklist {
		rules = append(rules, rule{pattern: compilePattern("*", ""), actions: actPull, ref: ref("*")})
	}
	for _, e := range p.entries {
		rl := rule{pattern: compilePattern(e.key, ""), ref: ref(e.key)}
		if p.blacklist {
			rl.deny = true
		} else {
			rl.actions = actPull
		}
		rules = append(rules, rl)
	}
	return rules
}

// User returns the named user. Its slices are copies: Rules stays immutable.
func (r *Rules) User(name string) (User, bool) {
	sr, ok := r.subjects[name]
	if !ok {
		return User{}, false
	}
	u := sr.user
	u.PassHash = slices.Clone(u.PassHash)
	u.Groups = slices.Clone(u.Groups)
	return u, true
}

// Users returns every user name (users.json and htpasswd), sorted.
func (r *Rules) Users() []string { return slices.Clone(r.names) }

// Groups returns the names of the groups defined in the groups file, sorted.
func (r *Rules) Groups() []string {
	names := slices.Clone(r.src.groupOrder)
	slices.Sort(names)
	return names
}

// Effective lists the rules that apply to s, most specific first, the
// public ones included: what `regtoken check` prints per user. ${user} is
// already replaced in each rule's pattern but Ref.Key shows the key as written.
func (r *Rules) Effective(s Subject) []Rule {
	var all []rule
	if sr := r.subjectRules(s); sr != nil {
		all = append(all, sr.rules...)
	}
	all = append(all, r.public...)
	slices.SortStableFunc(all, func(a, b rule) int { return b.pattern.level - a.pattern.level })
	out := make([]Rule, 0, len(all)+1)
	for _, rl := range all {
		out = append(out, rl.report())
	}
	if ref := r.catalogRef(s); ref != nil {
		out = append(out, Rule{Ref: *ref, Actions: []string{"*"}})
	}
	return out
}

// GroupRules lists a group's keys as written (${user} not replaced).
func (r *Rules) GroupRules(name string) ([]Rule, bool) {
	g, ok := r.src.groups[name]
	if !ok {
		return nil, false
	}
	owner := "group " + name
	out := make([]Rule, 0, len(g.rules)+1)
	for _, e := range g.rules {
		rl := rule{actions: e.actions, deny: e.deny, ref: RuleRef{File: r.files.Groups, Owner: owner, Key: e.key}}
		out = append(out, rl.report())
	}
	if g.catalog {
		out = append(out, Rule{Ref: RuleRef{File: r.files.Groups, Owner: owner, Key: "catalog"}, Actions: []string{"*"}})
	}
	return out, true
}

func (rl rule) report() Rule {
	acts := []string{}
	if !rl.deny {
		acts = rl.actions.names()
	}
	return Rule{Ref: rl.ref, Actions: acts}
}

func (r Rule) String() string {
	if len(r.Actions) == 0 {
		return fmt.Sprintf("%s -> deny", r.Ref)
	}
	return fmt.Sprintf("%s -> %v", r.Ref, r.Actions)
}
