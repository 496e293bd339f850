//go:build unix

package localstack

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// lockStarts holds an exclusive lock on a file shared by every process of
// the machine until the returned function is called: DynamoDB Local binds
// its port seconds after it starts, so two test binaries starting theirs
// at once could pick the same free port, and the one that fails to bind
// would find the other's answering its readiness probe.
func lockStarts() (func(), error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "uptake-localstack-dynamodb.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("localstack: start lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("localstack: start lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
