package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Editing the configuration for a key rotation.
//
// regtoken key promote and retire change a few values of one key's table
// and leave every other line, comment and blank as it was. They edit the
// layout regtoken's docs use, [token] (or [token.service."NAME"]) with
// key = "...", certificate = "...", previous = [...] on one line each, and
// a [token.next] table, and refuse anything else (inline tables, dotted
// keys, multi-line values) rather than guess: ErrLayout.

// ErrLayout reports a configuration file whose layout Promote or Retire
// cannot edit safely; the message says what to change by hand.
var ErrLayout = errors.New("configuration layout not editable")

var (
	headerLine = regexp.MustCompile(`^\s*\[\[?\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$`)
	keyLine    = regexp.MustCompile(`^\s*([A-Za-z0-9_."'-]+?)\s*=\s*(.*?)\s*$`)
)

// tomlDoc is a configuration file as lines, with its tables located.
type tomlDoc struct {
	lines []string
}

// table returns the index of the header line of table name (-1: absent)
// and the index after its last line.
func (d *tomlDoc) table(name string) (header, end int) {
	header, end = -1, -1
	for i, l := range d.lines {
		m := headerLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if header >= 0 {
			return header, i
		}
		if tableName(m[1]) == name {
			header = i
		}
	}
	if header >= 0 {
		end = len(d.lines)
	}
	return header, end
}

// tableName normalizes a header's dotted name: spaces around dots and
// quotes around simple components go.
func tableName(raw string) string {
	var parts []string
	for _, p := range strings.Split(raw, ".") {
		p = strings.TrimSpace(p)
		if unq, err := strconv.Unquote(p); err == nil && !strings.ContainsAny(unq, ".") {
			p = unq
		} else if len(p) >= 2 && p[0] == '\'' && p[len(p)-1] == '\'' {
			p = p[1 : len(p)-1]
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ".")
}

// value finds key in the table spanning header..end and returns its line
// and its raw value text (-1 when absent). A value Promote cannot rewrite
// on its own line is ErrLayout.
func (d *tomlDoc) value(header, end int, table, key string) (int, string, error) {
	for i := header + 1; i < end; i++ {
		m := keyLine.FindStringSubmatch(d.lines[i])
		if m == nil || strings.HasPrefix(strings.TrimSpace(d.lines[i]), "#") {
			continue
		}
		name, val := m[1], stripComment(m[2])
		if strings.Contains(name, ".") || strings.HasPrefix(val, "{") {
			return -1, "", fmt.Errorf("%w: %s has %s = %s: write it as a [%s.%s] table", ErrLayout, table, name, val, table, strings.Split(name, ".")[0])
		}
		if name != key {
			continue
		}
		if strings.HasPrefix(val, `"""`) || strings.HasPrefix(val, "'''") || (strings.HasPrefix(val, "[") && !strings.HasSuffix(val, "]")) {
			return -1, "", fmt.Errorf("%w: %s.%s spans several lines: write it on one line", ErrLayout, table, key)
		}
		return i, val, nil
	}
	return -1, "", nil
}

// stripComment drops a trailing # comment outside quotes.
func stripComment(s string) string {
	var quote byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0 && c == '\\' && quote == '"':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote == 0 && c == '#':
			return strings.TrimSpace(s[:i])
		}
	}
	return strings.TrimSpace(s)
}

// keyTable is the table name of service's key: "token" for "", else
// token.service.NAME.
func keyTable(service string) string {
	if service == "" {
		return "token"
	}
	return "token.service." + service
}

// Promote returns the configuration text data with service's next key
// promoted ("" for token.key): the next key and certificate become the
// current ones, the current certificate (the key file, without
// certificates) goes first into previous,
// promoted_at is set to now, and the [.next] table goes. Unless
// [refresh] key is set, it is set to the key that stops signing, so the
// refresh tokens issued so far keep verifying. The result is parsed as a
// configuration at path before it is returned.
func Promote(path string, data []byte, service string, now time.Time) ([]byte, error) {
	cfg, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	files := cfg.Token.Main()
	if service != "" {
		f, ok := cfg.Token.ServiceKeys[service]
		if !ok {
			return nil, fmt.Errorf("service %q has no key of its own ([token.service.%q])", service, service)
		}
		files = f
	}
	table := keyTable(service)
	if files.Rotation.Next == nil {
		return nil, fmt.Errorf("%s has no next key to promote: add a [%s.next] table with key and certificate first", table, table)
	}
	if (files.Rotation.Next.Certificate == "") != (files.Certificate == "") {
		return nil, fmt.Errorf("%w: only one of %s.certificate and %s.next.certificate is set; set both or neither", ErrLayout, table, table)
	}
	d := &tomlDoc{lines: strings.Split(string(data), "\n")}
	header, end := d.table(table)
	nextHeader, nextEnd := d.table(table + ".next")
	if header < 0 || nextHeader < 0 {
		return nil, fmt.Errorf("%w: promote edits a [%s] table and a [%s.next] table, and this file lacks one", ErrLayout, table, table)
	}
	if nextHeader < header {
		return nil, fmt.Errorf("%w: [%s.next] comes before [%s]", ErrLayout, table, table)
	}
	keyAt, keyVal, err1 := d.value(header, end, table, "key")
	certAt, certVal, err2 := d.value(header, end, table, "certificate")
	prevAt, prevVal, err3 := d.value(header, end, table, "previous")
	promAt, _, err4 := d.value(header, end, table, "promoted_at")
	_, nextKey, err5 := d.value(nextHeader, nextEnd, table+".next", "key")
	_, nextCert, err6 := d.value(nextHeader, nextEnd, table+".next", "certificate")
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		return nil, err
	}
	if keyAt < 0 || (certAt < 0) != (files.Certificate == "") {
		return nil, fmt.Errorf("%w: %s.key and %s.certificate must be written in [%s]", ErrLayout, table, table, table)
	}
	// Without certificates, previous names the old key file, whose public
	// half regtoken publishes; the line after which new lines go is the
	// certificate's, else the key's.
	published, anchor := certVal, certAt
	if certAt < 0 {
		published, anchor = keyVal, keyAt
	}
	for i := nextHeader + 1; i < nextEnd; i++ {
		if t := strings.TrimSpace(d.lines[i]); t != "" && !strings.HasPrefix(t, "#") && !keyLine.MatchString(t) {
			return nil, fmt.Errorf("%w: line %d of [%s.next] is not key = value", ErrLayout, i+1, table)
		}
	}
	previous := "[" + published
	if inner := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(prevVal, "["), "]")); inner != "" {
		previous += ", " + inner
	}
	previous += "]"
	d.lines[keyAt] = "key = " + nextKey
	if certAt >= 0 {
		d.lines[certAt] = "certificate = " + nextCert
	}
	stamp := fmt.Sprintf("promoted_at = %q", now.UTC().Format(time.RFC3339))
	// Insert after the certificate line what was not there, so the line
	// numbers of the edits above stay right until the [.next] table goes.
	var insert []string
	if prevAt >= 0 {
		d.lines[prevAt] = "previous = " + previous
	} else {
		insert = append(insert, "previous = "+previous)
	}
	if promAt >= 0 {
		d.lines[promAt] = stamp
	} else {
		insert = append(insert, stamp)
	}
	out := append([]string{}, d.lines[:nextHeader]...)
	out = append(out, d.lines[nextEnd:]...)
	out = append(out[:anchor+1], append(insert, out[anchor+1:]...)...)
	d.lines = out
	if cfg.Refresh.Enabled && cfg.Refresh.Key == "" {
		if err := d.setRefreshKey(keyVal); err != nil {
			return nil, err
		}
	}
	edited := []byte(strings.Join(d.lines, "\n"))
	if _, err := Parse(path, edited); err != nil {
		return nil, fmt.Errorf("%w: the edited file does not load: %v", ErrLayout, err)
	}
	return edited, nil
}

// setRefreshKey writes key = val into [refresh], adding the table at the
// end when the file has none.
func (d *tomlDoc) setRefreshKey(val string) error {
	header, end := d.table("refresh")
	if header < 0 {
		for len(d.lines) > 0 && strings.TrimSpace(d.lines[len(d.lines)-1]) == "" {
			d.lines = d.lines[:len(d.lines)-1]
		}
		d.lines = append(d.lines, "", "# The key refresh tokens were signed with before the first key promotion.", "[refresh]", "key = "+val, "")
		return nil
	}
	if _, _, err := d.value(header, end, "refresh", "key"); err != nil {
		return err
	}
	d.lines = append(d.lines[:header+1], append([]string{"key = " + val}, d.lines[header+1:]...)...)
	return nil
}

// Retire returns the configuration text data without service's previous
// keys ("" for token.key's). It refuses (ErrTooEarly) before the
// rotation's RetireAfter, or when promoted_at is unknown, unless force.
func Retire(path string, data []byte, service string, now time.Time, force bool) ([]byte, error) {
	cfg, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	r := cfg.Token.Rotation
	if service != "" {
		f, ok := cfg.Token.ServiceKeys[service]
		if !ok {
			return nil, fmt.Errorf("service %q has no key of its own ([token.service.%q])", service, service)
		}
		r = f.Rotation
	}
	table := keyTable(service)
	if len(r.Previous) == 0 {
		return nil, fmt.Errorf("%s has no previous keys to retire", table)
	}
	after := r.RetireAfter(cfg.Token.Lifetimes)
	switch {
	case force:
	case after.IsZero():
		return nil, fmt.Errorf("%w: %s.promoted_at is not set, so when the previous keys' last tokens expire is unknown (-force retires anyway)", ErrTooEarly, table)
	case now.Before(after):
		return nil, fmt.Errorf("%w: tokens of the previous keys may be valid until %s (promoted_at + the longest lifetime %s + 60 s); -force retires anyway",
			ErrTooEarly, after.UTC().Format(time.RFC3339), cfg.Token.Lifetimes.Longest())
	}
	d := &tomlDoc{lines: strings.Split(string(data), "\n")}
	header, end := d.table(table)
	if header < 0 {
		return nil, fmt.Errorf("%w: no [%s] table", ErrLayout, table)
	}
	at, _, err := d.value(header, end, table, "previous")
	if err != nil {
		return nil, err
	}
	if at < 0 {
		return nil, fmt.Errorf("%w: %s.previous is not written in [%s]", ErrLayout, table, table)
	}
	d.lines = append(d.lines[:at], d.lines[at+1:]...)
	edited := []byte(strings.Join(d.lines, "\n"))
	if _, err := Parse(path, edited); err != nil {
		return nil, fmt.Errorf("%w: the edited file does not load: %v", ErrLayout, err)
	}
	return edited, nil
}

// ErrTooEarly reports a retirement while tokens of the previous keys may
// still be valid.
var ErrTooEarly = errors.New("too early to retire the previous keys")
