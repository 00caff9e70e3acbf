package main

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/sigbridge/sigbridge/internal/hugeheap"
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
	// GCMinInterval raises that floor with the allocation rate: after each
	// collection the goal is at least the live heap plus what the process
	// allocated in this interval at the rate over the last few
	// collections (an eighth of headroom, moved only when the load
	// leaves that band), so under load the collector runs about once per interval (gcfloor.go).
	// 0: off. Default DefaultGCMinInterval.
	GCMinInterval time.Duration `yaml:"gc_min_interval"`
	// GCMaxHeap caps what GCMinInterval raises the goal to, in bytes (the
	// fixed floor and GCPercent's goal are not capped by it; MemoryLimit
	// caps every goal). Default DefaultGCMaxHeap.
	GCMaxHeap int64 `yaml:"gc_max_heap"`
	// HugeHeap is how many bytes of heap address space are readied for
	// transparent huge pages at start, where the kernel gives them only on
	// request (internal/hugeheap); nothing is made resident. 0: none.
	// Default DefaultHugeHeap.
	HugeHeap int64 `yaml:"huge_heap"`
	// Procs is how many Ps (GOMAXPROCS) the gateway runs with: "elastic",
	// the default, as few as the load needs, from one up to Go's count
	// (procs.go); "" or "go", Go's own count (the CPU count or the cgroup's
	// limit); a number N: always N. The environment variable GOMAXPROCS,
	// when set, wins.
	Procs string `yaml:"procs"`
}

// DefaultGCMinInterval is runtime.gc_min_interval's default: collections at
// most about once a second under load. Measured on 2026-12-06
// (docs/PERFORMANCE.md, "Collections once a second under load"): browser →
// SIP at 3,000 calls/s collected 3.4 times a second with the 64 MiB floor
// alone.
const DefaultGCMinInterval = time.Second

// DefaultGCMaxHeap is runtime.gc_max_heap's default, 256 MiB: the rate
// floor of a browser → SIP load of 5,000 calls/s (live heap ~25 MB, 200
// MB/s allocated) fits under it.
const DefaultGCMaxHeap = 256 << 20

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

// DefaultHugeHeap is runtime.huge_heap's default, 256 MiB.
const DefaultHugeHeap = 256 << 20

func defaultRuntimeConfig() RuntimeConfig {
	return RuntimeConfig{GCPercent: DefaultGCPercent, GCMinHeap: DefaultGCMinHeap,
		GCMinInterval: DefaultGCMinInterval, GCMaxHeap: DefaultGCMaxHeap, HugeHeap: DefaultHugeHeap, Procs: procsElasticMode}
}

// Validate refuses a configuration that would never collect.
func (c RuntimeConfig) Validate() error {
	if c.MemoryLimit < 0 {
		return errors.New("runtime.memory_limit is negative")
	}
	if c.GCMinHeap < 0 || c.GCMinHeap > maxGCMinHeap {
		return errors.New("runtime.gc_min_heap must be between 0 and 1 TiB")
	}
	if c.GCMinInterval < 0 || c.GCMinInterval > maxGCMinInterval {
		return errors.New("runtime.gc_min_interval must be between 0 and 1m")
	}
	if c.GCMaxHeap < 0 || c.GCMaxHeap > maxGCMinHeap {
		return errors.New("runtime.gc_max_heap must be between 0 and 1 TiB")
	}
	if c.GCMinInterval > 0 && c.GCMaxHeap == 0 {
		return errors.New("runtime.gc_min_interval is set but runtime.gc_max_heap is 0: set a ceiling for it")
	}
	if c.HugeHeap != 0 {
		if err := hugeheap.CheckSize(c.HugeHeap); err != nil {
			return fmt.Errorf("runtime.huge_heap (0: off): %w", err)
		}
	}
	if _, err := parseProcs(c.Procs); err != nil {
		return err
	}
	if c.GCPercent < 0 && c.MemoryLimit == 0 {
		return errors.New("runtime.gc_percent is negative (collector off) but runtime.memory_limit is not set: memory would grow without bound")
	}
	return nil
}

// maxGCMinHeap bounds runtime.gc_min_heap and gc_max_heap (1 TiB).
const maxGCMinHeap = 1 << 40

// maxProcs bounds runtime.procs.
const maxProcs = 1024

// procsElasticMode is runtime.procs' value for the elastic controller.
const procsElasticMode = "elastic"

// parseProcs reads runtime.procs: 0 for Go's own count, -1 for elastic,
// else the fixed count.
func parseProcs(v string) (int, error) {
	switch v {
	case "", "go":
		return 0, nil
	case procsElasticMode:
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxProcs {
		return 0, fmt.Errorf("runtime.procs %q: want go, elastic or a count from 1 to %d", v, maxProcs)
	}
	return n, nil
}

// maxGCMinInterval bounds runtime.gc_min_interval.
const maxGCMinInterval = time.Minute

// applyRuntime sets the collector from c, except what GOGC or GOMEMLIMIT
// set, starts the heap floor (c.GCMinHeap, on top of the percentage in
// effect; not with the collector off) and logs the values in effect. The
// floor is returned (nil: none); its Stop puts the percentage back.
func applyRuntime(c RuntimeConfig, log *slog.Logger) *gcFloor {
	// First: its borrowed heap must be gone before the floor reads the
	// allocation rate (a rate floor would take it for load).
	huge := hugeHeapAttrs(c.HugeHeap)
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
	on := c.GCMinHeap > 0 || c.GCMinInterval > 0
	switch {
	case on && pct >= 0:
		floor = startGCFloor(gcFloorConfig{floor: c.GCMinHeap, interval: c.GCMinInterval, maxHeap: c.GCMaxHeap}, pct)
		attrs = append(attrs, "gc_min_heap", c.GCMinHeap)
		if c.GCMinInterval > 0 {
			attrs = append(attrs, "gc_min_interval", c.GCMinInterval.String(), "gc_max_heap", c.GCMaxHeap)
		}
	case on: // collections only near memory_limit: no goal to hold up
		attrs = append(attrs, "gc_min_heap", "off: gc_percent negative")
	default:
		attrs = append(attrs, "gc_min_heap", "none")
	}
	attrs = append(attrs, huge...)
	log.Info("go runtime", attrs...)
	return floor
}

// hugeHeapAttrs readies the heap for huge pages (c.HugeHeap bytes; none
// when 0) and says what happened, for the "go runtime" record.
func hugeHeapAttrs(size int64) []any {
	if size == 0 {
		return []any{"huge_heap", "none"}
	}
	r, err := hugeheap.Prepare(size)
	if err != nil {
		return []any{"huge_heap", "failed", "huge_heap_err", err.Error()}
	}
	return []any{"huge_heap", r.Advised, "thp", r.Mode}
}
