package localstack

import "syscall"

// setParentDeathSignal makes the kernel kill the child when the process that
// started it dies, so a crashed or timed-out test binary, or a `make dev`
// killed with SIGKILL, does not leave a JVM behind.
//
// The signal is tied to the OS thread that forks the child; the Go runtime
// keeps its threads alive unless a goroutine exits while locked to one,
// which the callers of this package do not do around Start.
func setParentDeathSignal(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGKILL
}
