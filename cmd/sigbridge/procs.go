package main

import (
	"context"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Elastic processors (runtime.procs: elastic, the default; see
// docs/PERFORMANCE.md "Elastic processors"): the gateway runs with as few
// Ps (GOMAXPROCS) as its load needs, from one up to what Go would use (the
// CPU count or the cgroup's limit), and changes the number as the load
// moves.
//
// Why: with a P more than the work needs, a goroutine made ready on one P
// wakes the other P's thread, which runs it on the other core or finds
// nothing, spins and sleeps again; system calls, futex wake-ups and cache
// misses that do no work. On the 2-core box of docs/PERFORMANCE.md
// ("Elastic processors") one P instead of two cut a browser → SIP call's
// CPU by a fifth to a quarter at 1,500 and at 3,000 calls/s.
//
// How: every procsTick the controller reads the process's CPU time
// (user and system, all threads) and the runtime's histogram of how long
// runnable goroutines waited for a P (/sched/latencies, a sample of
// wake-ups). It adds Ps (half as many again, at least one) when either
// says the Ps it has are not enough:
//   - busy: the cores used, averaged over about procsFastTau, pass
//     procsGrowAt of the Ps;
//   - waiting: of the sampled wake-ups over about procsWaitTau, more than
//     procsWaitShare waited procsWaitLong or longer. This is the signal on
//     a box whose cores the gateway shares: its one thread then gets less
//     than a core, so it is never "busy", while its goroutines queue.
//
// It gives Ps back when the mean of the cores used over procsShrinkWindow,
// all of it at the current count, stayed under procsShrinkAt of fewer Ps.
// The CPU a load costs with more Ps is higher than with fewer, so a count
// that was grown is given back only when even that higher cost fits in
// fewer Ps. A grow holds for procsHold at least, twice as long as the
// last one when it follows a shrink within procsFlap (up to
// procsHoldMax), so a load at the boundary changes the count rarely.
//
// Overload: the gateway's admission asks for capacity (moreProcs, through
// gateway.Gateway.AddCapacity) when calls in setup or the goroutine queue
// delay pass half of their bounds, and before a delay signal sheds a
// call. The controller then takes all of Go's count at once (a grow, held
// as any other): on a box whose cores the gateway shares, its own signals
// above see the need a second or two late, and a call shed for want of a
// P it could have had is the one outcome worse than the CPU a P costs.
//
// The thresholds are from the 2-core box of docs/PERFORMANCE.md. One P
// that keeps up with 3,000 browser → SIP calls/s averaged 0.75-0.90 of a
// core over a second and touched 0.95 in bursts, so procsGrowAt is close
// to one: a saturated P runs all the time, and its process uses a whole
// core or more. Of its wake-ups, 0.8-1.9 % waited 10 ms or more (6 % at
// the worst two seconds); one P behind 4,000 browser → browser calls/s,
// whose setups took 22 ms at the median, had 9 % (17 % at the worst).
const (
	procsTick         = 100 * time.Millisecond
	procsFastTau      = time.Second
	procsGrowAt       = 0.97
	procsWaitTau      = 2 * time.Second
	procsWaitLong     = 10 * time.Millisecond
	procsWaitShare    = 0.12
	procsShrinkAt     = 0.75
	procsShrinkWindow = 3 * time.Second
	// After growing, the count is held at least procsHold; growing again
	// within procsFlap of a shrink doubles the hold, up to procsHoldMax:
	// a load that sits at the boundary changes the count rarely.
	procsHold    = 10 * time.Second
	procsFlap    = time.Minute
	procsHoldMax = 5 * time.Minute
)

// procsWaitMin: fewer sampled wake-ups a tick than this (on average over
// procsWaitTau) say nothing about waiting (a nearly idle process).
const procsWaitMin = 20

// Why the controller changed the count (the reason label of
// sigbridge_procs_changes_total).
const (
	procsBusy     = "busy"     // the Ps it had were busy
	procsWaiting  = "waiting"  // goroutines waited long for them
	procsOverload = "overload" // the gateway's admission asked (moreProcs)
	procsFewer    = "fewer"    // the load fit in fewer
)

var procsReasons = [...]string{procsBusy, procsWaiting, procsOverload, procsFewer}

// procsChanges counts the controller's changes of GOMAXPROCS by reason
// (procsReasons' order), for sigbridge_procs_changes_total.
var procsChanges [len(procsReasons)]atomic.Uint64

func countProcsChange(reason string) {
	for i, r := range procsReasons {
		if r == reason {
			procsChanges[i].Add(1)
		}
	}
}

// procsChangesDesc describes sigbridge_procs_changes_total; the P count
// itself is the Go collector's go_sched_gomaxprocs_threads.
var procsChangesDesc = prometheus.NewDesc("sigbridge_procs_changes_total",
	"Changes of the Go runtime's processor count (GOMAXPROCS) by the elastic controller (runtime.procs: elastic), by reason: busy, waiting, overload (asked by admission), fewer.",
	[]string{"reason"}, nil)

type procsChangesCollector struct{}

func (procsChangesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- procsChangesDesc }

func (procsChangesCollector) Collect(ch chan<- prometheus.Metric) {
	for i, r := range procsReasons {
		ch <- prometheus.MustNewConstMetric(procsChangesDesc, prometheus.CounterValue, float64(procsChanges[i].Load()), r)
	}
}

// procsChangesMetric exports procsChanges.
func procsChangesMetric() prometheus.Collector { return procsChangesCollector{} }

// procsPolicy decides the P count from the process's CPU time. It holds
// no clock and no runtime: step takes both, so tests drive it.
type procsPolicy struct {
	min, max int
	n        int // the count in effect

	lastAt  time.Time
	lastCPU time.Duration
	fast    float64   // moving average of the cores used
	woken   float64   // moving average of the sampled wake-ups a tick
	late    float64   // ... of those that waited procsWaitLong or longer
	since   time.Time // the first step: the wait averages count from procsWaitTau after it

	why string // the reason of the last change (procsReasons)

	hold      time.Duration // the current hold after a grow
	heldUntil time.Time     // no shrink before
	shrunkAt  time.Time     // the last shrink

	winAt  time.Time     // start of the shrink window (at the current count)
	winCPU time.Duration // CPU time then
}

func newProcsPolicy(least, most, n int, now time.Time, cpu time.Duration) *procsPolicy {
	return &procsPolicy{min: least, max: most, n: n, lastAt: now, lastCPU: cpu, winAt: now, winCPU: cpu, since: now}
}

// step takes the time, the process's CPU time at it and the sampled
// goroutine wake-ups since the last step (woken, of which late waited
// procsWaitLong or longer) and returns the P count to run with (p.n when
// unchanged).
func (p *procsPolicy) step(now time.Time, cpu time.Duration, woken, late uint64) int {
	dt := now.Sub(p.lastAt)
	if dt <= 0 {
		return p.n
	}
	used := float64(cpu-p.lastCPU) / float64(dt)
	p.lastAt, p.lastCPU = now, cpu
	a := 1 - math.Exp(-float64(dt)/float64(procsFastTau))
	p.fast += a * (used - p.fast)
	w := 1 - math.Exp(-float64(dt)/float64(procsWaitTau))
	p.woken += w * (float64(woken) - p.woken)
	p.late += w * (float64(late) - p.late)

	if busy := p.fast > procsGrowAt*float64(p.n); p.n < p.max && (busy || p.waiting(now)) {
		p.why = procsWaiting
		if busy {
			p.why = procsBusy
		}
		p.holdAfterGrow(now)
		return p.change(now, cpu, max(p.n+1, int(math.Ceil(float64(p.n)*1.5))))
	}
	win := now.Sub(p.winAt)
	if p.n > p.min && win >= procsShrinkWindow && !now.Before(p.heldUntil) && !p.queued() {
		mean := float64(cpu-p.winCPU) / float64(win)
		if mean < procsShrinkAt*float64(p.n-1) {
			p.shrunkAt = now
			p.why = procsFewer
			return p.change(now, cpu, int(math.Ceil(mean/procsShrinkAt)))
		}
		// slide: the window keeps its length
		p.winAt, p.winCPU = now, cpu
	}
	return p.n
}

// growAll moves to the most Ps, holding them as any grow does (for an
// overload the gateway's admission saw); p.n when already there.
func (p *procsPolicy) growAll(now time.Time, cpu time.Duration) int {
	if p.n >= p.max {
		return p.n
	}
	p.holdAfterGrow(now)
	p.why = procsOverload
	return p.change(now, cpu, p.max)
}

// holdAfterGrow sets how long a grow now holds: procsHold, doubled (up
// to procsHoldMax) for each grow within procsFlap of a shrink.
func (p *procsPolicy) holdAfterGrow(now time.Time) {
	if !p.shrunkAt.IsZero() && now.Sub(p.shrunkAt) < procsFlap {
		p.hold = min(max(2*p.hold, procsHold), procsHoldMax)
	} else {
		p.hold = procsHold
	}
	p.heldUntil = now.Add(p.hold)
}

// waiting: more than procsWaitShare of the recent wake-ups waited long,
// once the averages hold procsWaitTau of them (before, a burst in the
// first moments would weigh as much as seconds).
func (p *procsPolicy) waiting(now time.Time) bool {
	return now.Sub(p.since) >= procsWaitTau && p.woken >= procsWaitMin && p.late > procsWaitShare*p.woken
}

// queued: goroutines wait for the Ps there are (a share of late wake-ups
// over a third of the grow threshold). A process starved by the rest of
// the box uses little CPU while its work queues: it must not shrink then.
func (p *procsPolicy) queued() bool {
	return p.woken >= procsWaitMin && p.late > procsWaitShare/3*p.woken
}

// change moves to n Ps (bounded by min and max) and starts a new shrink
// window: what was measured at the old count says little about the new.
func (p *procsPolicy) change(now time.Time, cpu time.Duration, n int) int {
	n = min(max(n, p.min), p.max)
	p.n = n
	p.winAt, p.winCPU = now, cpu
	return n
}

// procsController is the elastic controller running: the policy, stepped
// every procsTick, and grown at once when the gateway's admission would
// shed a call (overload), both under mu.
type procsController struct {
	mu    sync.Mutex
	p     *procsPolicy
	waits *waitCounter
	log   *slog.Logger
	full  atomic.Bool // at the most Ps: overload has nothing to take
}

func newProcsController(least, most int, log *slog.Logger) *procsController {
	c := &procsController{waits: newWaitCounter(), log: log,
		p: newProcsPolicy(least, most, least, time.Now(), processCPU())}
	c.full.Store(least >= most)
	return c
}

// tick steps the policy.
func (c *procsController) tick(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	was := c.p.n
	woken, late := c.waits.since()
	if n := c.p.step(now, processCPU(), woken, late); n != was {
		c.set(n)
		c.log.Debug("go runtime: processors", "procs", n, "was", was, "reason", c.p.why, "cores_used", math.Round(c.p.fast*100)/100,
			"waited_long", math.Round(c.p.late/max(c.p.woken, 1)*1000)/1000)
	}
}

// overload takes the most Ps at once, for the gateway's admission
// (gateway.Gateway.AddCapacity): a delay signal there means calls are
// about to be shed, which more Ps may avoid. It reports whether it added
// any. Cheap when there are none to add.
func (c *procsController) overload(now time.Time) bool {
	if c.full.Load() {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	was := c.p.n
	n := c.p.growAll(now, processCPU())
	if n == was {
		return false
	}
	c.set(n)
	c.log.Info("go runtime: processors raised for an overload", "procs", n, "was", was)
	return true
}

// set puts n Ps in effect. Called with mu held.
func (c *procsController) set(n int) {
	runtime.GOMAXPROCS(n)
	countProcsChange(c.p.why)
	c.full.Store(n >= c.p.max)
}

// run steps the controller until ctx ends and puts Go's count (most) back.
func (c *procsController) run(ctx context.Context, most int) {
	defer func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		runtime.GOMAXPROCS(most)
		c.full.Store(true)
	}()
	t := time.NewTicker(procsTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c.tick(now)
		}
	}
}

// elasticProcs is the controller of runtime.procs: elastic once started
// (startProcs), for the gateway's admission (newServer); nil otherwise.
var elasticProcs atomic.Pointer[procsController]

// runProcs runs the controller until ctx ends, starting at least Ps; it
// puts Go's count (most) back when it returns.
func runProcs(ctx context.Context, least, most int, log *slog.Logger) {
	c := newProcsController(least, most, log)
	runtime.GOMAXPROCS(least)
	elasticProcs.Store(c)
	defer elasticProcs.CompareAndSwap(c, nil)
	c.run(ctx, most)
}

// moreProcs is the gateway's capacity hook (gateway.Gateway.AddCapacity):
// the elastic controller's overload, or nothing to add.
func moreProcs(now time.Time) bool {
	if c := elasticProcs.Load(); c != nil {
		return c.overload(now)
	}
	return false
}

// waitCounter counts, from the runtime's /sched/latencies histogram, the
// sampled goroutine wake-ups and those that waited procsWaitLong or longer.
type waitCounter struct {
	s    []metrics.Sample
	prev []uint64
}

func newWaitCounter() *waitCounter {
	c := &waitCounter{s: []metrics.Sample{{Name: schedLatencies}}}
	c.since()
	return c
}

// since returns the wake-ups since the last call (none when the runtime
// has no such histogram).
func (c *waitCounter) since() (woken, late uint64) {
	metrics.Read(c.s)
	if c.s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0, 0
	}
	h := c.s[0].Value.Float64Histogram()
	if len(c.prev) != len(h.Counts) {
		c.prev = make([]uint64, len(h.Counts))
	}
	for i, n := range h.Counts {
		d := n - c.prev[i]
		woken += d
		if h.Buckets[i] >= procsWaitLong.Seconds() {
			late += d
		}
	}
	copy(c.prev, h.Counts)
	return woken, late
}

// startProcs sets the P count from runtime.procs (validated) and logs
// it; the elastic controller runs until ctx ends. GOMAXPROCS in the
// environment wins, as GOGC does over gc_percent.
func startProcs(ctx context.Context, procs string, log *slog.Logger) {
	goCount := runtime.GOMAXPROCS(0)
	n, _ := parseProcs(procs)
	switch {
	case os.Getenv("GOMAXPROCS") != "":
		log.Info("go runtime: processors", "procs", goCount, "procs_from", "GOMAXPROCS")
	case n > 0:
		runtime.GOMAXPROCS(n)
		log.Info("go runtime: processors", "procs", n, "procs_from", "config")
	case n == 0 || !procsElastic || goCount == 1:
		log.Info("go runtime: processors", "procs", goCount, "procs_from", "go")
	default:
		log.Info("go runtime: processors", "procs", procsElasticMode, "procs_min", 1, "procs_max", goCount)
		go runProcs(ctx, 1, goCount, log)
	}
}
