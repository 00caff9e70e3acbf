//go:build !unix

package main

import "time"

// procsElastic: no portable reading of the process's CPU time here, so
// runtime.procs: elastic keeps Go's own count.
const procsElastic = false

func processCPU() time.Duration { return 0 }
