package harness

import "syscall"

// The child dies with its parent, so a test binary that panics or times out
// leaves no server behind. Pdeathsig follows the OS thread that forked; the
// Go runtime does not retire idle threads, so in practice that is the
// process.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
