//go:build unix

package main

import (
	"syscall"
	"time"
)

// procsElastic: the process's CPU time can be read (getrusage).
const procsElastic = true

// processCPU is the CPU time, user and system, of all the process's
// threads so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
