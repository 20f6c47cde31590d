//go:build unix

package redistest

import "syscall"

var (
	sigStop = syscall.SIGSTOP
	sigCont = syscall.SIGCONT
)

// processAlive reports whether a process with this PID runs (or is a
// zombie): signal 0 checks without sending anything.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
