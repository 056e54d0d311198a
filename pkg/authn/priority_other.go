//go:build !linux

package authn

// lowerThreadPriority does nothing where the nice value is not a
// per-thread attribute: lowering it would lower the whole parent process.
func lowerThreadPriority() error { return nil }
