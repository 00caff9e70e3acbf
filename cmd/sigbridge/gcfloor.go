package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// defaultHeapMinimum is the Go runtime's smallest heap goal at GOGC=100 (4
// MiB, runtime/mgcpacer.go); the runtime scales it with GOGC, so a large
// percentage raises the smallest goal with it.
const defaultHeapMinimum = 4 << 20

// gcFloor keeps the collector's heap goal at or above a floor
// (runtime.gc_min_heap): after each collection it sets GOGC to the
// smallest percentage, never below the configured one, whose goal reaches
// the floor for the live heap just marked. With a small live heap and a
// high allocation rate (thousands of short calls per second) collections
// come less often; once the live heap is above half the floor (at GOGC
// 100) the percentage is the configured one and the floor costs nothing.
// Go has no heap floor of its own: GOMEMLIMIT is a ceiling.
type gcFloor struct {
	floor uint64
	base  int
	// adjusted counts the adjustments (one at start, one per collection).
	adjusted atomic.Uint64

	mu      sync.Mutex
	stopped bool
	last    int              // the percentage last set
	samples []metrics.Sample // runtime/metrics buffer, under mu
}

// gcSentinel is garbage the moment it is made: its finalizer runs once
// after the collection that finds it, so once per cycle.
type gcSentinel struct{ f *gcFloor }

// startGCFloor starts keeping the heap goal at or above floor bytes, with
// base (GOGC in effect, not negative) as the smallest percentage. Stop
// ends it and puts base back.
func startGCFloor(floor int64, base int) *gcFloor {
	f := &gcFloor{floor: uint64(floor), base: base, last: base, samples: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}}
	f.adjust() // from the heap as it is now, before the first collection
	f.arm()
	return f
}

func (f *gcFloor) arm() {
	runtime.SetFinalizer(&gcSentinel{f: f}, func(s *gcSentinel) {
		if s.f.adjust() {
			s.f.arm()
		}
	})
}

// adjust sets GOGC for the live heap of the last collection; false once
// stopped.
func (f *gcFloor) adjust() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return false
	}
	metrics.Read(f.samples)
	var v [3]uint64
	for i, s := range f.samples {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	if pct := floorPercent(f.floor, v[0], v[1]+v[2], f.base); pct != f.last {
		debug.SetGCPercent(pct)
		f.last = pct
	}
	f.adjusted.Add(1)
	return true
}

// Stop ends the adjustments and restores the base percentage. A nil
// gcFloor (none configured) does nothing.
func (f *gcFloor) Stop() {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	f.stopped = true
	debug.SetGCPercent(f.base)
}

// floorPercent is the GOGC whose heap goal reaches floor for a live heap of
// live bytes and scan bytes of stacks and globals, never below base. The
// runtime's goal is live + (live+scan)·GOGC/100, and at least
// defaultHeapMinimum·GOGC/100; the percentage stops where that minimum
// alone reaches the floor, so a nearly empty heap's goal is the floor,
// not more.
func floorPercent(floor, live, scan uint64, base int) int {
	if live >= floor {
		return base
	}
	pct := uint64(math.MaxInt32)
	if live+scan > 0 {
		pct = ((floor-live)*100 + live + scan - 1) / (live + scan) // rounded up
	}
	pct = min(pct, floor*100/defaultHeapMinimum)
	return max(int(pct), base)
}
