package main

import (
	"context"
	"log/slog"
	"math"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Elastic processors (runtime.procs: 0, the default): the gateway runs
// with as few Ps (GOMAXPROCS) as its load needs, from one up to what Go
// would use (the CPU count or the cgroup's limit), and changes the number
// as the load moves.
//
// Why: with a P more than the work needs, a goroutine made ready on one P
// wakes the other P's thread, which runs it on the other core or finds
// nothing, spins and sleeps again; system calls, futex wake-ups and cache
// misses that do no work. On the 2-core box of docs/PERFORMANCE.md
// ("Elastic processors") one P instead of two cut a browser → SIP call's
// CPU by about a quarter at 1,500 and at 3,000 calls/s.
//
// How: every procsTick the controller reads the process's CPU time
// (user and system, all threads) and keeps two measures of the cores it
// used: a moving average over about procsFastTau and the mean since the
// shrink window began. It adds Ps (half as many again, at least one) when
// the average passes procsGrowAt of the Ps it has, and gives Ps back when
// the mean over procsShrinkWindow, all of it at the current count, stayed
// under procsShrinkAt of fewer Ps. The CPU a load costs with more Ps is
// higher than with fewer, so a count that was grown is given back only
// when even that higher cost fits in fewer Ps: no flapping.
//
// procsGrowAt is close to one on purpose: a saturated P runs all the
// time, so its process uses a whole core or more (threads in system calls
// count too), while one P that keeps up with 3,000 browser → SIP calls/s
// on that box averaged 0.75-0.90 of a core over a second, and its
// collections and bursts reach 0.95 now and then. Growing at those would
// give the CPU back to the second P's wake-ups for as long as the load
// stays.
const (
	procsTick         = 100 * time.Millisecond
	procsFastTau      = time.Second
	procsGrowAt       = 0.97
	procsShrinkAt     = 0.75
	procsShrinkWindow = 3 * time.Second
)

// procsChanges counts the controller's changes of GOMAXPROCS, for
// sigbridge_procs_changes_total.
var procsChanges atomic.Uint64

// procsChangesMetric exports procsChanges; the P count itself is the Go
// collector's go_sched_gomaxprocs_threads.
func procsChangesMetric() prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sigbridge_procs_changes_total",
		Help: "Changes of the Go runtime's processor count (GOMAXPROCS) by the elastic controller (runtime.procs 0)."},
		func() float64 { return float64(procsChanges.Load()) })
}

// procsPolicy decides the P count from the process's CPU time. It holds
// no clock and no runtime: step takes both, so tests drive it.
type procsPolicy struct {
	min, max int
	n        int // the count in effect

	lastAt  time.Time
	lastCPU time.Duration
	fast    float64 // moving average of the cores used

	winAt  time.Time     // start of the shrink window (at the current count)
	winCPU time.Duration // CPU time then
}

func newProcsPolicy(least, most, n int, now time.Time, cpu time.Duration) *procsPolicy {
	return &procsPolicy{min: least, max: most, n: n, lastAt: now, lastCPU: cpu, winAt: now, winCPU: cpu}
}

// step takes the time and the process's CPU time at it and returns the
// P count to run with (p.n when unchanged).
func (p *procsPolicy) step(now time.Time, cpu time.Duration) int {
	dt := now.Sub(p.lastAt)
	if dt <= 0 {
		return p.n
	}
	used := float64(cpu-p.lastCPU) / float64(dt)
	p.lastAt, p.lastCPU = now, cpu
	a := 1 - math.Exp(-float64(dt)/float64(procsFastTau))
	p.fast += a * (used - p.fast)

	if p.n < p.max && p.fast > procsGrowAt*float64(p.n) {
		return p.change(now, cpu, max(p.n+1, int(math.Ceil(float64(p.n)*1.5))))
	}
	win := now.Sub(p.winAt)
	if p.n > p.min && win >= procsShrinkWindow {
		mean := float64(cpu-p.winCPU) / float64(win)
		if mean < procsShrinkAt*float64(p.n-1) {
			return p.change(now, cpu, int(math.Ceil(mean/procsShrinkAt)))
		}
		// slide: the window keeps its length
		p.winAt, p.winCPU = now, cpu
	}
	return p.n
}

// change moves to n Ps (bounded by min and max) and starts a new shrink
// window: what was measured at the old count says little about the new.
func (p *procsPolicy) change(now time.Time, cpu time.Duration, n int) int {
	n = min(max(n, p.min), p.max)
	p.n = n
	p.winAt, p.winCPU = now, cpu
	return n
}

// runProcs runs the controller until ctx ends, starting at least Ps; it
// puts Go's count (most) back when it returns.
func runProcs(ctx context.Context, least, most int, log *slog.Logger) {
	now, cpu := time.Now(), processCPU()
	p := newProcsPolicy(least, most, least, now, cpu)
	runtime.GOMAXPROCS(least)
	defer runtime.GOMAXPROCS(most)
	t := time.NewTicker(procsTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			was := p.n
			if n := p.step(now, processCPU()); n != was {
				runtime.GOMAXPROCS(n)
				procsChanges.Add(1)
				log.Debug("go runtime: processors", "procs", n, "was", was, "cores_used", math.Round(p.fast*100)/100)
			}
		}
	}
}

// startProcs sets the P count from runtime.procs (procs; 0: elastic) and
// logs it; the elastic controller runs until ctx ends. GOMAXPROCS in the
// environment wins, as GOGC does over gc_percent.
func startProcs(ctx context.Context, procs int, log *slog.Logger) {
	goCount := runtime.GOMAXPROCS(0)
	switch {
	case os.Getenv("GOMAXPROCS") != "":
		log.Info("go runtime: processors", "procs", goCount, "procs_from", "GOMAXPROCS")
	case procs > 0:
		runtime.GOMAXPROCS(procs)
		log.Info("go runtime: processors", "procs", procs, "procs_from", "config")
	case !procsElastic || goCount == 1:
		log.Info("go runtime: processors", "procs", goCount, "procs_from", "go")
	default:
		log.Info("go runtime: processors", "procs", "elastic", "procs_min", 1, "procs_max", goCount)
		go runProcs(ctx, 1, goCount, log)
	}
}
