package gateway

import (
	"fmt"
	"log/slog"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// Signals that shed a call (the `signal` label of sigbridge_calls_shed_total).
const (
	SignalCallsInSetup = "calls_in_setup"
	SignalQueueDelay   = "queue_delay"
)

// delayQuantile is the quantile of the goroutine scheduling delay compared
// with Config.MaxQueueDelay.
const delayQuantile = 0.9

// delayWindow is the shortest window over which the scheduling delay is
// measured; the signal is refreshed at most this often.
const delayWindow = 100 * time.Millisecond

// delayMinSamples: a window with fewer sampled goroutine wake-ups (the
// runtime records about one in eight) says nothing (an idle process) and
// never sheds.
const delayMinSamples = 64

// schedLatencies is the runtime's histogram of the time runnable goroutines
// waited for a processor.
const schedLatencies = "/sched/latencies:seconds"

// admission decides whether a new call may start. It watches two measured
// signals (see docs/ARCHITECTURE.md, "Overload control"):
//
//   - calls in setup: placed, the callee has neither rung nor answered, not
//     ended (a ringing callee is a person deciding). Under overload every
//     step of a setup queues somewhere (sockets, goroutines, peers), so setups
//     take longer and, by Little's law, their number grows with the delay;
//   - queue delay: how long runnable goroutines (every call, connection and
//     SIP transaction runs on its own) waited for a CPU, a quantile over the
//     last window, from the Go runtime's own histogram.
//
// Adapters add signals of queues the runtime cannot see
// (Gateway.AddOverloadSignal: the SIP UDP receive queue's delay). Beyond
// any bound new calls are refused at once (ErrOverloaded), calls in
// progress go on. Safe for concurrent use.
type admission struct {
	maxSetup int64
	maxDelay time.Duration
	log      *slog.Logger
	metrics  *Metrics

	inSetup atomic.Int64

	// the queue-delay probe
	next    atomic.Int64 // unix nanos of the next refresh
	delayed atomic.Bool  // the last window was over maxDelay
	pressed atomic.Bool  // ... over maxDelay / capacityShare
	mu      sync.Mutex   // guards sample and prev (TryLock: one refresher)
	sample  []metrics.Sample
	prev    []uint64

	shedding atomic.Bool // for the start/stop log lines
	shedAt   atomic.Int64

	// signals of the adapters (AddOverloadSignal), copied on write
	signals atomic.Pointer[[]adapterSignal]
	sigMu   sync.Mutex

	// spare capacity (AddCapacity): asked before a delay signal sheds
	spare      atomic.Pointer[func(now time.Time) bool]
	graceUntil atomic.Int64 // unix nanos: delay signals do not shed before
}

// capacityGrace is how long, after a capacity hook added capacity, the
// delay signals (queue delay, the adapters') do not shed: they measure
// queues built before, which the added capacity needs a few of their
// 100 ms windows to work off.
const capacityGrace = 500 * time.Millisecond

// capacityShare: a signal past 1/capacityShare of its bound (calls in
// setup, queue delay) asks the capacity hook for more before it sheds
// anything. Half: on the 2-core box of docs/PERFORMANCE.md a quarter (250
// calls in setup) was reached by short stalls of the box that one P rode
// out at 3,000 browser → SIP calls/s, and cost that load its cheaper
// count; when one P falls behind for good (4,000 browser → browser
// calls/s), the calls in setup pass 500 on their way to the bound.
const capacityShare = 2

// adapterSignal is a measured signal an adapter adds to admission: a queue
// the Go runtime cannot see, such as the SIP UDP socket's receive queue.
type adapterSignal struct {
	name   string
	active func(now time.Time) bool
}

func newAdmission(cfg Config, log *slog.Logger, m *Metrics) *admission {
	a := &admission{maxSetup: int64(cfg.MaxCallsInSetup), maxDelay: cfg.MaxQueueDelay, log: log, metrics: m,
		sample: []metrics.Sample{{Name: schedLatencies}}}
	if a.maxDelay > 0 {
		metrics.Read(a.sample)
		if a.sample[0].Value.Kind() != metrics.KindFloat64Histogram {
			log.Warn("runtime has no scheduling-latency histogram; queue-delay admission off")
			a.maxDelay = 0
		} else {
			a.prev = append([]uint64(nil), a.sample[0].Value.Float64Histogram().Counts...)
		}
	}
	return a
}

// check reports, without reserving anything, which signal would shed a
// call now ("" when none).
func (a *admission) check(now time.Time) string {
	if a.maxSetup > 0 && a.inSetup.Load() >= a.maxSetup {
		return SignalCallsInSetup
	}
	return a.delayShed(now)
}

// delayShed names the delay signal (the queue delay, then the adapters')
// that sheds a call now: "" when none is active or capacity added instead
// absorbs it (absorbed).
func (a *admission) delayShed(now time.Time) string {
	if a.queueDelayed(now) && !a.absorbed(now, SignalQueueDelay) {
		return SignalQueueDelay
	}
	if s := a.adapterShed(now); s != "" && !a.absorbed(now, s) {
		return s
	}
	return ""
}

// adapterShed names the first adapter signal active at now ("" when none).
func (a *admission) adapterShed(now time.Time) string {
	if p := a.signals.Load(); p != nil {
		for _, s := range *p {
			if s.active(now) {
				return s.name
			}
		}
	}
	return ""
}

// add registers an adapter signal.
func (a *admission) add(s adapterSignal) {
	a.sigMu.Lock()
	defer a.sigMu.Unlock()
	var list []adapterSignal
	if p := a.signals.Load(); p != nil {
		list = append(list, *p...)
	}
	list = append(list, s)
	a.signals.Store(&list)
}

// acquire admits one call for setup; release ends it (answered or over).
// A refused call is counted as shed for dialect.
func (a *admission) acquire(dialect string) error {
	now := time.Now()
	if s := a.delayShed(now); s != "" {
		return a.shed(dialect, s, now)
	}
	n := a.inSetup.Add(1)
	if a.maxSetup > 0 && n > a.maxSetup {
		a.inSetup.Add(-1)
		a.absorbed(now, SignalCallsInSetup) // more capacity for the next calls; this one is over the bound
		return a.shed(dialect, SignalCallsInSetup, now)
	}
	a.press(now, n)
	a.metrics.setupStarted()
	a.calm(now)
	return nil
}

// press asks for capacity early, while no signal sheds yet: when the
// calls in setup (n) or the last window's queue delay passed
// 1/capacityShare of their bounds.
func (a *admission) press(now time.Time, n int64) {
	switch {
	case a.maxSetup > 0 && n*capacityShare >= a.maxSetup:
		a.absorbed(now, SignalCallsInSetup)
	case a.pressed.Load():
		a.absorbed(now, SignalQueueDelay)
	}
}

// absorbed reports whether the delay signal that would shed a call now is
// taken care of by capacity added instead: within capacityGrace of a
// capacity hook's success, or because the hook adds some now.
func (a *admission) absorbed(now time.Time, signal string) bool {
	if now.UnixNano() < a.graceUntil.Load() {
		return true
	}
	hook := a.spare.Load()
	if hook == nil || !(*hook)(now) {
		return false
	}
	a.graceUntil.Store(now.Add(capacityGrace).UnixNano())
	a.log.Info("load: added capacity", "signal", signal, "calls_in_setup", a.inSetup.Load())
	return true
}

// release ends the setup of one call admitted by acquire.
func (a *admission) release() {
	a.inSetup.Add(-1)
	a.metrics.setupEnded()
}

// shed counts and logs one refused call and returns its error.
func (a *admission) shed(dialect, signal string, now time.Time) error {
	a.metrics.CallShed(dialect, signal)
	a.shedAt.Store(now.UnixNano())
	if a.shedding.CompareAndSwap(false, true) {
		a.log.Warn("overloaded: shedding new calls", "signal", signal, "calls_in_setup", a.inSetup.Load(),
			"max_calls_in_setup", a.maxSetup, "max_queue_delay", a.maxDelay)
	}
	return fmt.Errorf("%w: %s", ErrOverloaded, signal)
}

// calm logs the end of a shedding episode: a call admitted a second or more
// after the last one shed.
func (a *admission) calm(now time.Time) {
	if a.shedding.Load() && now.UnixNano()-a.shedAt.Load() >= int64(time.Second) &&
		a.shedding.CompareAndSwap(true, false) {
		a.log.Info("overload over: admitting calls again", "calls_in_setup", a.inSetup.Load())
	}
}

// queueDelayed reports whether the last measured window's scheduling delay
// quantile exceeded maxDelay, refreshing the measure when the window is over.
func (a *admission) queueDelayed(now time.Time) bool {
	if a.maxDelay <= 0 {
		return false
	}
	if now.UnixNano() >= a.next.Load() && a.mu.TryLock() {
		a.refresh(now)
		a.mu.Unlock()
	}
	return a.delayed.Load()
}

// refresh measures the delay quantile of the goroutine wake-ups since the
// previous refresh. Called with mu held.
func (a *admission) refresh(now time.Time) {
	a.next.Store(now.Add(delayWindow).UnixNano())
	metrics.Read(a.sample)
	h := a.sample[0].Value.Float64Histogram()
	d, ok := delayQuantileOf(h, a.prev, delayQuantile)
	a.prev = append(a.prev[:0], h.Counts...)
	a.metrics.queueDelay(d)
	a.delayed.Store(ok && d > a.maxDelay)
	a.pressed.Store(ok && d*capacityShare > a.maxDelay)
}

// delayQuantileOf returns the q quantile of the delays counted in h since
// prev (the lower bound of its bucket, so it never overstates), false when
// the window holds too few samples.
func delayQuantileOf(h *metrics.Float64Histogram, prev []uint64, q float64) (time.Duration, bool) {
	var total uint64
	for i, c := range h.Counts {
		total += c - prevAt(prev, i)
	}
	if total < delayMinSamples {
		return 0, false
	}
	want := uint64(q * float64(total))
	var seen uint64
	for i, c := range h.Counts {
		seen += c - prevAt(prev, i)
		if seen > want {
			lo := h.Buckets[i]
			if lo < 0 {
				lo = 0
			}
			return time.Duration(lo * float64(time.Second)), true
		}
	}
	return 0, false
}

func prevAt(prev []uint64, i int) uint64 {
	if i < len(prev) {
		return prev[i]
	}
	return 0
}

// Shed reports whether a new call from dialect would be shed now, without
// reserving anything: adapters call it first thing for a new call (before
// authentication or SDP work) and refuse the call at once when it returns an
// error (wrapping ErrOverloaded, 503). The call is counted as shed. Place
// checks again, so a call that passes here may still be refused there.
func (g *Gateway) Shed(dialect string) error {
	now := time.Now()
	if s := g.adm.check(now); s != "" {
		return g.adm.shed(dialect, s, now)
	}
	return nil
}

// AddOverloadSignal adds an adapter's measured overload signal to
// admission: while active(now) reports true, new calls of every dialect are
// shed at once (ErrOverloaded), counted in sigbridge_calls_shed_total under
// signal. The SIP adapter adds the delay of its UDP receive queue
// ("socket_delay"), so browser offers toward SIP are shed when the
// responses of SIP peers wait in that queue, not only new INVITEs. active
// is called for every new call: it must be cheap and safe for concurrent
// use.
func (g *Gateway) AddOverloadSignal(signal string, active func(now time.Time) bool) {
	g.adm.add(adapterSignal{name: signal, active: active})
}

// AddCapacity registers a hook that adds capacity, such as more processors
// (cmd/sigbridge's elastic runtime.procs). The gateway calls more early,
// when the calls in setup or the queue delay pass half of their
// bounds, and when a delay signal (the queue delay, an adapter's signal)
// would shed a call: then, when more reports that it added capacity, the
// call is admitted. For capacityGrace after capacity was added the delay
// signals shed nothing, since they still measure the queues built before,
// and more is not called. Calls in setup stay a bound: over it a call is
// shed, after more was called. more must be cheap and safe for concurrent
// use, and report false once it has nothing to add. The last hook
// registered is the one called.
func (g *Gateway) AddCapacity(more func(now time.Time) bool) {
	g.adm.spare.Store(&more)
}

// CallsInSetup returns the number of calls placed whose callee has neither
// rung nor answered and that have not ended: the admission signal bounded by Config.MaxCallsInSetup.
func (g *Gateway) CallsInSetup() int { return int(g.adm.inSetup.Load()) }
