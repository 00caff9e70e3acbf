package main

import (
	"context"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// procsRun drives a procsPolicy with a synthetic load: cores(t) cores used
// at each procsTick over d, and returns the P count after each tick.
type procsRun struct {
	p   *procsPolicy
	now time.Time
	cpu time.Duration
	// waits gives the sampled wake-ups of tick k and how many of them
	// waited long (nil: 100 a tick, none long).
	waits func(k int) (woken, late uint64)
	k     int
}

func newProcsRun(least, most int) *procsRun {
	now := time.Unix(1000, 0)
	return &procsRun{p: newProcsPolicy(least, most, least, now, 0), now: now}
}

// run feeds cores used per tick for d and returns the counts seen.
func (r *procsRun) run(d time.Duration, cores func(n int) float64) []int {
	var seen []int
	for t := time.Duration(0); t < d; t += procsTick {
		r.now = r.now.Add(procsTick)
		r.cpu += time.Duration(cores(r.p.n) * float64(procsTick))
		woken, late := uint64(100), uint64(0)
		if r.waits != nil {
			woken, late = r.waits(r.k)
		}
		r.k++
		seen = append(seen, r.p.step(r.now, r.cpu, woken, late))
	}
	return seen
}

func last(s []int) int { return s[len(s)-1] }

// saturate runs d with every P busy and wants the count then to be want.
func (r *procsRun) saturate(t *testing.T, d time.Duration, want int) {
	t.Helper()
	r.run(d, func(n int) float64 { return float64(n) })
	if r.p.n != want {
		t.Fatalf("%d Ps after %v saturated, want %d", r.p.n, d, want)
	}
}

func constant(c float64) func(int) float64 { return func(int) float64 { return c } }

func TestProcsStaysAtOneBelowSaturation(t *testing.T) {
	r := newProcsRun(1, 2)
	// 0.85 of a core with a collection-like burst of 300 ms at a full
	// core every second: the one P is busy, not saturated.
	i := 0
	seen := r.run(20*time.Second, func(int) float64 {
		i++
		if i%10 < 3 {
			return 1.0
		}
		return 0.85
	})
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("tick %d: %d Ps, want 1 throughout", k, n)
		}
	}
}

func TestProcsGrowsWhenSaturated(t *testing.T) {
	r := newProcsRun(1, 2)
	r.run(5*time.Second, constant(0.7))
	// Saturated: the one P runs all the time.
	seen := r.run(4*time.Second, func(n int) float64 { return float64(n) })
	if got := last(seen); got != 2 {
		t.Fatalf("after 4 s saturated at one P: %d Ps, want 2", got)
	}
}

// TestProcsGrowsWhenGoroutinesWait: a gateway that shares its cores gets
// less than a core for its one P, so it never looks busy; its goroutines
// queue instead, and that grows it.
func TestProcsGrowsWhenGoroutinesWait(t *testing.T) {
	r := newProcsRun(1, 2)
	// Healthy, as one P at 3,000 browser → SIP calls/s measured: 1 % of
	// wake-ups wait long, with a burst of 30 % for 200 ms every 2 s (a
	// collection); 6 % over the worst 2 s.
	r.waits = func(k int) (uint64, uint64) {
		if k%20 >= 10 && k%20 < 12 {
			return 100, 30
		}
		return 100, 1
	}
	for k, n := range r.run(20*time.Second, constant(0.8)) {
		if n != 1 {
			t.Fatalf("tick %d: %d Ps with 1 %% late and bursts, want 1", k, n)
		}
	}
	// Queued: a third wait long, at 0.8 of a core (the rest of the core
	// goes to other processes).
	r.waits = func(int) (uint64, uint64) { return 100, 33 }
	seen := r.run(2*time.Second, constant(0.8))
	if got := last(seen); got != 2 {
		t.Fatalf("a third waiting long for 2 s: %d Ps, want 2", got)
	}
	// An idle process's few wake-ups say nothing, late or not.
	r = newProcsRun(1, 2)
	r.waits = func(int) (uint64, uint64) { return 5, 5 }
	for k, n := range r.run(10*time.Second, constant(0.01)) {
		if n != 1 {
			t.Fatalf("tick %d: %d Ps for 5 wake-ups a tick, want 1", k, n)
		}
	}
}

func TestProcsGrowsByHalfOnManyCores(t *testing.T) {
	r := newProcsRun(1, 16)
	seen := r.run(30*time.Second, func(n int) float64 { return float64(n) })
	var steps []int
	for _, n := range seen {
		if len(steps) == 0 || steps[len(steps)-1] != n {
			steps = append(steps, n)
		}
	}
	want := []int{1, 2, 3, 5, 8, 12, 16}
	if len(steps) != len(want) {
		t.Fatalf("counts %v, want %v", steps, want)
	}
	for i := range want {
		if steps[i] != want[i] {
			t.Fatalf("counts %v, want %v", steps, want)
		}
	}
}

func TestProcsKeepsCountAtBusyLoad(t *testing.T) {
	r := newProcsRun(1, 2)
	r.saturate(t, 5*time.Second, 2)
	// 1.0 core at two Ps: the same load would fit one P only barely (it
	// costs more at two), so it stays at two: no flapping.
	for k, n := range r.run(30*time.Second, constant(1.0)) {
		if n != 2 {
			t.Fatalf("tick %d: %d Ps at 1.0 cores, want 2", k, n)
		}
	}
}

func TestProcsShrinksWhenLoadFalls(t *testing.T) {
	r := newProcsRun(1, 8)
	r.saturate(t, 20*time.Second, 8)
	// 2.5 cores: fits in 4 Ps at 0.75 (ceil(2.5/0.75) = 4), once a whole
	// shrink window (3 s, which may have begun before the load fell) saw
	// it: after 3 s at the soonest, 6 s at the latest.
	seen := r.run(6*time.Second+procsTick, constant(2.5))
	first := -1
	for k, n := range seen {
		if n != 8 {
			first = k
			break
		}
	}
	if first < 0 || seen[first] != 4 || last(seen) != 4 {
		t.Fatalf("at 2.5 cores: counts %v, want 8 then 4", seen)
	}
	if at := time.Duration(first+1) * procsTick; at < procsShrinkWindow {
		t.Fatalf("shrank after %v, before a whole window (%v)", at, procsShrinkWindow)
	}
	if got := last(r.run(10*time.Second, constant(0.2))); got != 1 {
		t.Fatalf("idle: %d Ps, want 1", got)
	}
}

func TestProcsHoldsBounds(t *testing.T) {
	r := newProcsRun(2, 2)
	for _, n := range r.run(5*time.Second, func(n int) float64 { return float64(n) }) {
		if n != 2 {
			t.Fatalf("min = max = 2: got %d", n)
		}
	}
	for _, n := range r.run(5*time.Second, constant(0)) {
		if n != 2 {
			t.Fatalf("min = max = 2, idle: got %d", n)
		}
	}
}

// TestRunProcs runs the controller on this process: it starts at one P,
// gives a second one to goroutines that keep two cores busy, and puts
// Go's count back when it stops.
func TestRunProcs(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Fatal("needs two CPUs")
	}
	was := runtime.GOMAXPROCS(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { runProcs(ctx, 1, 2, newLogger(io.Discard, "error")); close(done) }()
	waitProcs(t, 1)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				spin()
			}
		}()
	}
	waitProcs(t, 2)
	stop.Store(true)
	wg.Wait()
	cancel()
	<-done
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Fatalf("after stop: GOMAXPROCS %d, want 2", got)
	}
	runtime.GOMAXPROCS(was)
}

// waitProcs waits for GOMAXPROCS to be n (the controller ticks every
// 100 ms; a minute bounds a stuck test).
func waitProcs(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for runtime.GOMAXPROCS(0) != n {
		if time.Now().After(deadline) {
			t.Fatalf("GOMAXPROCS stayed %d, want %d", runtime.GOMAXPROCS(0), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

//go:noinline
func spin() {
	x := 0
	for i := range 1 << 16 {
		x += i
	}
	sink.Store(int64(x))
}

var sink atomic.Int64

// TestProcsHoldsAfterFlapping: a load at the boundary (one P saturated,
// two Ps lightly busy) changes the count rarely: each grow soon after a
// shrink holds twice as long as the one before.
func TestProcsHoldsAfterFlapping(t *testing.T) {
	r := newProcsRun(1, 2)
	seen := r.run(10*time.Minute, func(n int) float64 {
		if n == 1 {
			return 1.0 // saturated
		}
		return 0.6 // fits in one at 0.75
	})
	changes := 0
	var at []time.Duration
	for k := 1; k < len(seen); k++ {
		if seen[k] != seen[k-1] {
			changes++
			at = append(at, time.Duration(k)*procsTick)
		}
	}
	// holds of 10, 20, 40, 80, 160, 300 s ...: about a dozen changes in
	// ten minutes, not one every few seconds.
	if changes > 14 {
		t.Fatalf("%d changes in 10 min (at %v): flapping", changes, at)
	}
	if changes < 4 {
		t.Fatalf("%d changes in 10 min (at %v): want it to keep trying fewer Ps", changes, at)
	}
}

// TestProcsKeepsCountWhileQueued: a gateway starved by the rest of the box
// uses little CPU at two Ps while its goroutines queue: it keeps its Ps.
func TestProcsKeepsCountWhileQueued(t *testing.T) {
	r := newProcsRun(1, 2)
	r.waits = func(int) (uint64, uint64) { return 100, 30 }
	r.run(5*time.Second, constant(0.6))
	if r.p.n != 2 {
		t.Fatalf("%d Ps with a third of wake-ups late, want 2", r.p.n)
	}
	for k, n := range r.run(time.Minute, constant(0.5)) {
		if n != 2 {
			t.Fatalf("tick %d: shrank to %d at 0.5 cores while goroutines queue", k, n)
		}
	}
	r.waits = nil // the queue drains: 100 a tick, none late
	if got := last(r.run(time.Minute, constant(0.5))); got != 1 {
		t.Fatalf("queue drained at 0.5 cores: %d Ps, want 1", got)
	}
}

// TestProcsGrowAll: an overload takes the most Ps at once and holds them
// as a grow does: an idle load gives them back only after procsHold.
func TestProcsGrowAll(t *testing.T) {
	r := newProcsRun(1, 4)
	if n := r.p.growAll(r.now, r.cpu); n != 4 || r.p.why != procsOverload {
		t.Fatalf("growAll from 1 of 4: %d (%s)", n, r.p.why)
	}
	if n := r.p.growAll(r.now, r.cpu); n != 4 {
		t.Fatalf("growAll at 4 of 4: %d", n)
	}
	for k, n := range r.run(procsHold-procsTick, constant(0.1)) {
		if n != 4 {
			t.Fatalf("tick %d: %d Ps within the hold, want 4", k, n)
		}
	}
	if got := last(r.run(procsShrinkWindow+time.Second, constant(0.1))); got != 1 || r.p.why != procsFewer {
		t.Fatalf("idle after the hold: %d Ps (%s), want 1 (%s)", got, r.p.why, procsFewer)
	}
	r.saturate(t, 5*time.Second, 2)
	if r.p.why != procsBusy {
		t.Fatalf("saturated: grew for %q, want %q", r.p.why, procsBusy)
	}
}

// TestProcsChangesMetric: sigbridge_procs_changes_total has one series
// per reason, each counting its own changes.
func TestProcsChangesMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(procsChangesMetric())
	before := procsChangesByReason(t, reg)
	countProcsChange(procsWaiting)
	countProcsChange(procsWaiting)
	countProcsChange(procsOverload)
	after := procsChangesByReason(t, reg)
	for _, r := range procsReasons {
		want := before[r]
		switch r {
		case procsWaiting:
			want += 2
		case procsOverload:
			want++
		}
		if after[r] != want {
			t.Errorf("reason %s: %v, want %v", r, after[r], want)
		}
	}
}

func procsChangesByReason(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	if len(got) != len(procsReasons) {
		t.Fatalf("series %v, want one per reason %v", got, procsReasons)
	}
	return got
}

// TestRunProcsOverload: the gateway's capacity hook (moreProcs) takes
// every P at once while the controller runs, reports nothing to add once
// there, and does nothing when no controller runs.
func TestRunProcsOverload(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Fatal("needs two CPUs")
	}
	was := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(was)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { runProcs(ctx, 1, 2, newLogger(io.Discard, "error")); close(done) }()
	waitProcs(t, 1)
	for elasticProcs.Load() == nil {
		time.Sleep(time.Millisecond)
	}
	if !moreProcs(time.Now()) {
		t.Fatal("moreProcs at one P of two: nothing added")
	}
	if n := runtime.GOMAXPROCS(0); n != 2 {
		t.Fatalf("GOMAXPROCS %d right after moreProcs, want 2", n)
	}
	if moreProcs(time.Now()) {
		t.Error("moreProcs at two Ps of two: reported more")
	}
	cancel()
	<-done
	if elasticProcs.Load() != nil || moreProcs(time.Now()) {
		t.Error("moreProcs after the controller stopped: still a controller")
	}
}
