package main

import (
	"errors"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
)

// RuntimeConfig holds the Go runtime's garbage-collector settings
// (`runtime:` in the file). The environment variables GOGC and GOMEMLIMIT,
// when set, win over them, as they do for any Go program.
type RuntimeConfig struct {
	// GCPercent is the collector's target: the heap may grow this many
	// percent over the live heap before the next collection (GOGC). 0: the
	// default; negative: collections only near MemoryLimit (then required).
	GCPercent int `yaml:"gc_percent"`
	// MemoryLimit is a soft limit on the process's Go memory in bytes
	// (GOMEMLIMIT): near it the collector runs more often, whatever
	// GCPercent says. 0: none.
	MemoryLimit int64 `yaml:"memory_limit"`
	// GCMinHeap is a floor in bytes under the collector's heap goal: after
	// each collection GOGC is raised, never lowered below GCPercent, so
	// that the goal is at least this (gcfloor.go). 0: none. Default
	// DefaultGCMinHeap.
	GCMinHeap int64 `yaml:"gc_min_heap"`
}

// DefaultGCPercent is Go's own default. Measured on 2026-12-06
// (docs/PERFORMANCE.md, "Setup latency, GC and RSS"): 200 halves the
// collections of a browser → SIP call (25-29 → 12-13 per 10,000 calls) and
// cuts their mark time, but takes an idle WebSocket from 11.2 to 13.5 KiB
// and a held browser → SIP call from 20.3 to 24.6 KiB, past the 12 and 24
// KiB targets. Deployments with memory to spare set 200-400.
const DefaultGCPercent = 100

// DefaultGCMinHeap is runtime.gc_min_heap's default, 64 MiB. Measured on
// 2026-12-06 (docs/PERFORMANCE.md, "The setup tail and the collector"):
// browser → SIP at 1,000 calls/s collects 3.5 times less often and its p99
// setup fell from 16-423 ms (median 48) to 14-30 ms (median 16) in four
// alternating pairs on a calm box; browser → browser collects 9 times less
// often; 10,000 idle WebSockets (live heap 31-38 MB, goal 64-68 MB at
// GOGC 100) and 10,000 held calls are untouched (11 and 12.6-17.5 KiB against
// the 12 and 24 KiB targets); 128 MiB took an idle WebSocket to 17 KiB.
// The cost: a gateway's heap grows to 64 MiB before it collects, whatever
// its traffic.
const DefaultGCMinHeap = 64 << 20

func defaultRuntimeConfig() RuntimeConfig {
	return RuntimeConfig{GCPercent: DefaultGCPercent, GCMinHeap: DefaultGCMinHeap}
}

// Validate refuses a configuration that would never collect.
func (c RuntimeConfig) Validate() error {
	if c.MemoryLimit < 0 {
		return errors.New("runtime.memory_limit is negative")
	}
	if c.GCMinHeap < 0 || c.GCMinHeap > maxGCMinHeap {
		return errors.New("runtime.gc_min_heap must be between 0 and 1 TiB")
	}
	if c.GCPercent < 0 && c.MemoryLimit == 0 {
		return errors.New("runtime.gc_percent is negative (collector off) but runtime.memory_limit is not set: memory would grow without bound")
	}
	return nil
}

// maxGCMinHeap bounds runtime.gc_min_heap (1 TiB).
const maxGCMinHeap = 1 << 40

// applyRuntime sets the collector from c, except what GOGC or GOMEMLIMIT
// set, starts the heap floor (c.GCMinHeap, on top of the percentage in
// effect; not with the collector off) and logs the values in effect. The
// floor is returned (nil: none); its Stop puts the percentage back.
func applyRuntime(c RuntimeConfig, log *slog.Logger) *gcFloor {
	gcFrom, limitFrom := "config", "config"
	if _, ok := os.LookupEnv("GOGC"); ok {
		gcFrom = "GOGC"
	} else {
		pct := c.GCPercent
		if pct == 0 {
			pct = DefaultGCPercent
		}
		debug.SetGCPercent(pct)
	}
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		limitFrom = "GOMEMLIMIT"
	} else if c.MemoryLimit > 0 {
		debug.SetMemoryLimit(c.MemoryLimit)
	}
	pct := debug.SetGCPercent(-1) // read it back...
	debug.SetGCPercent(pct)       // ... and restore it
	limit := debug.SetMemoryLimit(-1)
	attrs := []any{"gc_percent", pct, "gc_percent_from", gcFrom, "memory_limit_from", limitFrom}
	if limit == math.MaxInt64 {
		attrs = append(attrs, "memory_limit", "none")
	} else {
		attrs = append(attrs, "memory_limit", limit)
	}
	var floor *gcFloor
	switch {
	case c.GCMinHeap > 0 && pct >= 0:
		floor = startGCFloor(c.GCMinHeap, pct)
		attrs = append(attrs, "gc_min_heap", c.GCMinHeap)
	case c.GCMinHeap > 0: // collections only near memory_limit: no goal to hold up
		attrs = append(attrs, "gc_min_heap", "off: gc_percent negative")
	default:
		attrs = append(attrs, "gc_min_heap", "none")
	}
	log.Info("go runtime", attrs...)
	return floor
}
