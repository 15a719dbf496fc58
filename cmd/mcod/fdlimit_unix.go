//go:build unix

package main

import (
	"math"
	"syscall"
)

// openFileLimit returns the process's limit on open files (Go raises the soft limit to the
// hard one when it starts), or 0 when it is unknown.
func openFileLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return int(min(r.Cur, math.MaxInt32))
}
