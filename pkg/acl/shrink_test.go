package acl

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// htpasswdOf is an htpasswd file of n users.
func htpasswdOf(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "user%d:%s\n", i, fooHash)
	}
	return []byte(b.String())
}

// usersOf is a users.json of n users.
func usersOf(n int) []byte {
	var entries []string
	for i := range n {
		entries = append(entries, fmt.Sprintf("%q: {\"pass_hash\": %q}", fmt.Sprint("user", i), fooHash))
	}
	return []byte("{" + strings.Join(entries, ",\n") + "}")
}

func TestCheckShrink(t *testing.T) {
	parse := func(users, htpasswd []byte, files Files) *Rules {
		t.Helper()
		r, err := Parse(users, nil, nil, htpasswd, files)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, c := range []struct {
		name         string
		before, next *Rules
		refused      string // the file named in the error; "" for none
	}{
		{"htpasswd cut to a third", parse(nil, htpasswdOf(30), Files{}), parse(nil, htpasswdOf(10), Files{}), "htpasswd"},
		{"users.json cut to a third", parse(usersOf(30), nil, Files{}), parse(usersOf(10), nil, Files{}), "users.json"},
		{"half of the users removed", parse(nil, htpasswdOf(30), Files{}), parse(nil, htpasswdOf(15), Files{}), ""},
		{"users added", parse(nil, htpasswdOf(30), Files{}), parse(nil, htpasswdOf(300), Files{}), ""},
		{"a small file emptied", parse(nil, htpasswdOf(9), Files{}), parse(nil, htpasswdOf(0), Files{}), ""},
		{"another file", parse(nil, htpasswdOf(30), Files{Htpasswd: "a"}), parse(nil, htpasswdOf(1), Files{Htpasswd: "b"}), ""},
		{"a stricter share", parse(nil, htpasswdOf(30), Files{}), parse(nil, htpasswdOf(25), Files{MaxShrink: 0.1}), "htpasswd"},
		{"the guard off", parse(nil, htpasswdOf(30), Files{}), parse(nil, htpasswdOf(0), Files{MaxShrink: 1}), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.before.CheckShrink(c.next)
			switch {
			case c.refused == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.refused != "" && !errors.Is(err, ErrShrunk):
				t.Fatalf("err = %v, want ErrShrunk", err)
			case c.refused != "" && !strings.HasPrefix(err.Error(), c.refused+": "):
				t.Fatalf("err = %q, want it to name %s", err, c.refused)
			}
			if err != nil {
				t.Log(err)
			}
		})
	}
}

func TestFilesValidate(t *testing.T) {
	for _, share := range []float64{0, 0.25, 1} {
		if err := (Files{MaxShrink: share}).Validate(); err != nil {
			t.Errorf("max_shrink %g: %v", share, err)
		}
	}
	for _, share := range []float64{-0.1, 1.5} {
		if err := (Files{MaxShrink: share}).Validate(); err == nil || !strings.HasPrefix(err.Error(), "acl: max_shrink") {
			t.Errorf("max_shrink %g: %v, want an error", share, err)
		}
	}
}
