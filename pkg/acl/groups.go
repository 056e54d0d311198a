package acl

// groupEntry is one entry of the groups file as written.
type groupEntry struct {
	name    string
	line    int
	rules   []ruleEntry
	catalog bool
}

// parseGroups reads the groups file: {"name": {"repositories": {...},
// "catalog": bool}}. Group rules may use ${user}: it stands for the member
// whose request is decided.
func parseGroups(f *jsonFile) (map[string]*groupEntry, []string, error) {
	groups := map[string]*groupEntry{}
	var order []string
	err := f.object("", place{kind: "the groups file"}, func(name string, line int) error {
		g := &groupEntry{name: name, line: line}
		what := place{kind: "group", name: name}
		err := f.object(name, what, func(field string, line int) error {
			switch field {
			case "repositories":
				rules, err := parseRuleMap(f, field, what, true)
				g.rules = rules
				return err
			case "catalog":
				return f.decode(field, line, &g.catalog, "true or false")
			}
			return f.skip(field, line, what)
		})
		if err != nil {
			return err
		}
		if _, dup := groups[name]; !dup {
			order = append(order, name)
		}
		groups[name] = g
		return nil
	})
	return groups, order, err
}
