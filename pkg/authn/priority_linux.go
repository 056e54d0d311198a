package authn

import (
	"syscall"
	"unsafe"
)

// lowestPriority is the highest nice value, the fallback where the idle
// scheduling class is not allowed.
const lowestPriority = 19

// schedIdle is SCHED_IDLE from <sched.h>: the thread runs only on CPU time
// that normal threads leave over, and a waking normal thread preempts it at
// once. Nice 19 alone still lets a busy machine's short idle gaps add up to
// a sixth of a core for bcrypt (measured); the idle class gives it less.
const schedIdle = 5

// lowerThreadPriority puts the calling thread in the idle scheduling class,
// or failing that at nice 19. On Linux both belong to the thread, and
// threads and processes created from it inherit them.
func lowerThreadPriority() error {
	var param struct{ priority int32 }
	_, _, errno := syscall.Syscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(syscall.Gettid()), schedIdle,
		uintptr(unsafe.Pointer(&param)))
	if errno == 0 {
		return nil
	}
	return syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), lowestPriority)
}
