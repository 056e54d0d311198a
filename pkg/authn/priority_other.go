//go:build !linux

package authn

// lowerThreadPriority does nothing where scheduling class and nice value
// are not per-thread attributes: lowering them would slow down the whole
// parent process.
func lowerThreadPriority() error { return nil }
