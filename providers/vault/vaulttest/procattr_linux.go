package vaulttest

import (
	"os/exec"
	"syscall"
)

// setProcAttr has the kernel kill the server if the test process dies first
// (for example when `go test -timeout` expires), so no server outlives it.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
