//go:build unix

package acl

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time the test process has used so far, all threads
// (the garbage collector's too). Unlike the wall clock it does not grow
// while other processes have the CPU, so ratios of it stay meaningful on
// a busy machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return time.Duration(time.Now().UnixNano())
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
