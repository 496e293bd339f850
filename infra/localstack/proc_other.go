//go:build !unix

package localstack

import (
	"errors"
	"os"
	"os/exec"
)

func configureProcess(*exec.Cmd) {}

// terminate has no gentle form outside Unix: it kills the process.
func terminate(p *os.Process) error { return kill(p) }

func kill(p *os.Process) error {
	if err := p.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// lockStarts does nothing here: starts on a picked port rely on the port
// check and the retries alone.
func lockStarts() (func(), error) { return func() {}, nil }
