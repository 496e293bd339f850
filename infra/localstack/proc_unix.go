//go:build unix

package localstack

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// configureProcess puts the command in its own process group, so that
// signals sent to the caller's group (Ctrl-C in a terminal) do not reach it
// and [terminate] and [kill] reach everything it started.
func configureProcess(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
}

// terminate asks the process group led by p to exit.
func terminate(p *os.Process) error { return signalGroup(p, syscall.SIGTERM) }

// kill ends the process group led by p at once.
func kill(p *os.Process) error { return signalGroup(p, syscall.SIGKILL) }

func signalGroup(p *os.Process, sig syscall.Signal) error {
	err := syscall.Kill(-p.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil // already gone
	}
	return err
}
