package listen

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// WebServerGroups are the groups web servers run their workers as, in the
// order DefaultGroup tries them: www-data (nginx and Apache on Debian and
// Ubuntu), nginx (nginx on Fedora, RHEL and Alpine), http (Arch).
var WebServerGroups = []string{"www-data", "nginx", "http"}

// ErrUnreachable is wrapped by the errors Check returns for a unix socket
// that regtoken could not create or give its owner and group.
var ErrUnreachable = errors.New("listen: cannot create socket")

// identity is who the process is, for permission checks.
type identity struct {
	uid, gid int
	groups   []int // supplementary groups
}

func processIdentity() identity {
	groups, _ := os.Getgroups()
	return identity{uid: os.Geteuid(), gid: os.Getegid(), groups: groups}
}

// mayGiveGroup reports whether the process may chown a file it owns to gid:
// root may, others only to a group they are in.
func (id identity) mayGiveGroup(gid int) bool {
	return id.uid == 0 || gid == id.gid || slices.Contains(id.groups, gid)
}

// DefaultGroup is the group a unix socket regtoken creates gets when its
// spec names none: the first of WebServerGroups that exists and that the
// process may give a file (it runs as root, or is in that group), so nginx's
// workers can connect with the default mode 0660. "" when there is none:
// the socket keeps the process's group.
func DefaultGroup() string {
	return defaultGroup(processIdentity())
}

func defaultGroup(id identity) string {
	for _, name := range WebServerGroups {
		if g, err := user.LookupGroup(name); err == nil {
			if gid, _ := strconv.Atoi(g.Gid); id.mayGiveGroup(gid) {
				return name
			}
		}
	}
	return ""
}

// socketGroup is the group the socket of s gets: its own, else DefaultGroup.
func (s Spec) socketGroup() string {
	if s.Group != "" {
		return s.Group
	}
	return DefaultGroup()
}

// Check reports, without creating anything, what would stop Open from
// creating the unix socket of s as asked (its directory is missing or not
// writable, its owner or group does not exist or may not be given by this
// process), as an error naming the fix; and, as warnings, what would keep a
// web server running as one of WebServerGroups from connecting. Other
// addresses have nothing to check here.
func (s Spec) Check() (warnings []string, err error) {
	return s.check(processIdentity())
}

func (s Spec) check(id identity) ([]string, error) {
	scheme, path, err := s.split()
	if err != nil || scheme != schemeUnix {
		return nil, nil
	}
	var errs []error
	fail := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w %s: %s", ErrUnreachable, s.Address, fmt.Sprintf(format, a...)))
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil {
		fail("directory %s: %v; create it first (install -d -m 0755 %s), or let systemd make the socket (see deploy/systemd)", dir, errors.Unwrap(err), dir)
	} else if !fi.IsDir() {
		fail("%s is not a directory", dir)
	} else if unix.Access(dir, unix.W_OK|unix.X_OK) != nil {
		fail("%s may not create files in %s; run it as the directory's owner, or chown the directory to its user", who(id), dir)
	}
	uid, gid := -1, -1
	if s.Owner != "" {
		if uid, err = lookupID(s.Owner, lookupUser); err != nil {
			fail("owner %q: no such user", s.Owner)
		} else if id.uid != 0 && uid != id.uid {
			fail("only root may give the socket another owner (%s); leave owner out", s.Owner)
		}
	}
	group := s.socketGroup()
	if group != "" {
		if gid, err = lookupID(group, lookupGroup); err != nil {
			fail("group %q: no such group", group)
		} else if !id.mayGiveGroup(gid) {
			fail("%s is not in group %s, so it may not give the socket that group; add it to the group "+
				"(usermod -aG %s USER) or run it as root", who(id), group, group)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s.reachWarnings(path, id, uid, gid), nil
}

// reachWarnings says when a web server's workers, running as the first of
// WebServerGroups that exists, could not connect to the socket at path: the
// socket would be neither theirs by group nor open to others, or a
// directory on the way would not let them through.
func (s Spec) reachWarnings(path string, id identity, uid, gid int) []string {
	web, webGID := webServerGroup()
	if web == "" {
		return nil
	}
	if uid == -1 {
		uid = id.uid
	}
	if gid == -1 {
		gid = id.gid
	}
	mode := s.Mode
	if mode == 0 {
		mode = DefaultMode
	}
	var out []string
	if !permits(mode, uid, gid, -1, webGID, 0o2) {
		out = append(out, fmt.Sprintf("%s: a web server running as group %s could not connect: "+
			"the socket will have group %s and mode %04o; set group = %q in its [[listen]] table, or -listen '%s=%s?group=%s'",
			s.Address, web, groupName(gid), mode, web, s.Protocol, s.Address, web))
	}
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		if fi, err := os.Stat(dir); err == nil {
			st := fi.Sys().(*syscall.Stat_t)
			if !permits(fi.Mode().Perm(), int(st.Uid), int(st.Gid), -1, webGID, 0o1) {
				out = append(out, fmt.Sprintf("%s: group %s may not enter %s (group %s, mode %04o), so a web server running "+
					"as it cannot reach the socket; chmod o+x %s or chgrp %s %s", s.Address, web, dir,
					groupName(int(st.Gid)), fi.Mode().Perm(), dir, web, dir))
			}
		}
		if dir == filepath.Dir(dir) {
			return out
		}
	}
}

// webServerGroup returns the first of WebServerGroups that exists and its gid.
func webServerGroup() (string, int) {
	for _, name := range WebServerGroups {
		if g, err := user.LookupGroup(name); err == nil {
			gid, _ := strconv.Atoi(g.Gid)
			return name, gid
		}
	}
	return "", -1
}

// permits reports whether a process with user uidP (-1: not the owner) and
// group gidP gets the permission bits want (0o2 write, 0o1 search) on a file
// with mode, owner uid and group gid.
func permits(mode os.FileMode, uid, gid, uidP, gidP int, want fs.FileMode) bool {
	switch {
	case uidP == uid:
		return mode&(want<<6) != 0
	case gidP == gid:
		return mode&(want<<3) != 0
	}
	return mode&want != 0
}

func who(id identity) string {
	if u, err := user.LookupId(strconv.Itoa(id.uid)); err == nil {
		return fmt.Sprintf("regtoken (running as %s)", u.Username)
	}
	return fmt.Sprintf("regtoken (running as uid %d)", id.uid)
}

// groupName is the name of group gid, or the number when it has none.
func groupName(gid int) string {
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		return g.Name
	}
	return strconv.Itoa(gid)
}
