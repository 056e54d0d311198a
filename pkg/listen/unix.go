package listen

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// staleProbeTimeout bounds the connect that tells a live socket from a stale one.
const staleProbeTimeout = time.Second

// listenUnix creates the socket at path for s. The listener removes the
// file when it is closed (Go does this for sockets it binds itself).
func listenUnix(s Spec, path string) (net.Listener, error) {
	if err := removeStale(path); err != nil {
		return nil, err
	}
	lc := net.ListenConfig{Control: ownerOnly}
	l, err := lc.Listen(context.Background(), "unix", path)
	if err != nil {
		return nil, err
	}
	if err := setPermissions(path, s); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// removeStale clears the way for a new socket at path: nothing there is
// fine; a socket nobody answers on (left by a crash) is removed; a socket
// that answers belongs to a running process, and any other file is not
// ours to delete.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%w: %s", ErrNotSocket, path)
	}
	conn, err := net.DialTimeout("unix", path, staleProbeTimeout)
	switch {
	case err == nil:
		conn.Close()
		return fmt.Errorf("%w: %s answers connections", ErrInUse, path)
	case errors.Is(err, syscall.EAGAIN): // backlog full: very much alive
		return fmt.Errorf("%w: %s", ErrInUse, path)
	case errors.Is(err, syscall.ECONNREFUSED):
		return os.Remove(path)
	default:
		return fmt.Errorf("listen: cannot tell whether %s is in use: %w", path, err)
	}
}

// ownerOnly runs between socket(2) and bind(2). On Linux bind gives the new
// file the socket inode's mode minus the umask, so setting 0600 here means
// the file is never connectable by others, without touching the
// process-wide umask (which would race with every other goroutine that
// creates files).
func ownerOnly(_, _ string, c syscall.RawConn) error {
	var chmodErr error
	err := c.Control(func(fd uintptr) { chmodErr = syscall.Fchmod(int(fd), 0o600) })
	if err != nil {
		return err
	}
	return chmodErr
}

// setPermissions gives the socket at path its owner, group (the spec's,
// else DefaultGroup) and mode, in that order, so the wider mode only applies
// once the group is right. It works on the file through a descriptor opened
// without following links and checked to be a socket this process owns: had
// anything replaced the socket with a symlink or a hard link since bind, a
// chown or chmod by name would change the file that link leads to.
func setPermissions(path string, s Spec) error {
	uid, err := lookupID(s.Owner, lookupUser)
	if err != nil {
		return err
	}
	gid, err := lookupID(s.socketGroup(), lookupGroup)
	if err != nil {
		return err
	}
	fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK || int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%w: %s was replaced before its permissions were set", ErrNotSocket, path)
	}
	if uid != -1 || gid != -1 {
		if err := unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH); err != nil {
			return &fs.PathError{Op: "chown", Path: path, Err: err}
		}
	}
	mode := s.Mode
	if mode == 0 {
		mode = DefaultMode
	}
	if err := chmodDescriptor(fd, uint32(mode.Perm())); err != nil {
		return &fs.PathError{Op: "chmod", Path: path, Err: err}
	}
	return nil
}

// chmodDescriptor sets the mode of the file an O_PATH descriptor holds.
// fchmod(2) refuses such descriptors. fchmodat2(2) takes them (Linux 6.6);
// on older kernels chmod(2) of /proc/self/fd/N reaches the same inode, which
// is how glibc implements lchmod.
func chmodDescriptor(fd int, mode uint32) error {
	err := unix.Fchmodat(fd, "", mode, unix.AT_EMPTY_PATH)
	if err != unix.EOPNOTSUPP && err != unix.ENOSYS {
		return err
	}
	return chmodThroughProc(fd, mode)
}

func chmodThroughProc(fd int, mode uint32) error {
	return unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), mode)
}

// lookupID resolves a user or group name, or takes a number as is; empty
// gives -1, which chown(2) reads as "leave alone".
func lookupID(name string, lookup func(string) (string, error)) (int, error) {
	if name == "" {
		return -1, nil
	}
	if id, err := strconv.Atoi(name); err == nil {
		return id, nil
	}
	id, err := lookup(name)
	if err != nil {
		return 0, fmt.Errorf("listen: %w", err)
	}
	return strconv.Atoi(id)
}

func lookupUser(name string) (string, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return "", err
	}
	return u.Uid, nil
}

func lookupGroup(name string) (string, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return "", err
	}
	return g.Gid, nil
}
