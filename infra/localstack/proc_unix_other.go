//go:build unix && !linux

package localstack

import "syscall"

// setParentDeathSignal does nothing: only Linux can tie a child's life to
// its parent's. Call Stop (or localstacktest.Main in tests).
func setParentDeathSignal(*syscall.SysProcAttr) {}
