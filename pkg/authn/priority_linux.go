package authn

import "syscall"

// lowestPriority is the highest nice value: the thread runs when no
// normal-priority thread wants the CPU, and little otherwise.
const lowestPriority = 19

// lowerThreadPriority sets the calling thread's nice value to 19. On Linux
// the nice value belongs to the thread, and threads and processes created
// from it inherit it.
func lowerThreadPriority() error {
	return syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), lowestPriority)
}
