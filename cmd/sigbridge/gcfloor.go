package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
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
//
// With an interval (runtime.gc_min_interval) the floor also follows the
// allocation rate: after each collection it is at least the live heap
// plus what the process allocated in one interval at the rate over the
// last few collections, with an eighth of headroom, up to maxHeap
// (runtime.gc_max_heap; floorNow). Under load the
// collector then runs about once per interval whatever the rate, instead
// of several times a second (a browser → SIP call allocates about 40 KB,
// so at 3,000 calls/s a 64 MiB goal over a 25 MB live heap collected 3.4
// times a second); memory follows the load: an idle gateway allocates
// next to nothing, so its goal is the fixed floor again after its next
// collection (the runtime forces one at least every two minutes).
type gcFloor struct {
	floor    uint64
	base     int
	interval time.Duration
	maxHeap  uint64
	// adjusted counts the adjustments (one at start, one per collection).
	adjusted atomic.Uint64

	mu        sync.Mutex
	stopped   bool
	last      int              // the percentage last set
	samples   []metrics.Sample // runtime/metrics buffer, under mu
	marks     allocMarks       // the allocation counter at the last adjustments, for the rate (under mu)
	rateFloor uint64           // the rate part of the floor (floorNow), under mu
}

// gcFloorConfig is what startGCFloor keeps the goal at: the fixed floor
// (bytes, 0: none) and the allocation-rate floor (interval, 0: none, up to
// maxHeap bytes).
type gcFloorConfig struct {
	floor    int64
	interval time.Duration
	maxHeap  int64
}

// gcSentinel is garbage the moment it is made: its finalizer runs once
// after the collection that finds it, so once per cycle.
type gcSentinel struct{ f *gcFloor }

// startGCFloor starts keeping the heap goal at or above c's floors, with
// base (GOGC in effect, not negative) as the smallest percentage. Stop
// ends it and puts base back.
func startGCFloor(c gcFloorConfig, base int) *gcFloor {
	f := &gcFloor{floor: uint64(c.floor), base: base, last: base,
		interval: c.interval, maxHeap: uint64(max(c.maxHeap, 0)),
		samples: []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"},
			{Name: "/gc/scan/globals:bytes"}, {Name: "/gc/heap/allocs:bytes"}}}
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
	var v [4]uint64
	for i, s := range f.samples {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	floor := f.floorNow(v[0], v[3], time.Now())
	if pct := floorPercent(floor, v[0], v[1]+v[2], f.base); pct != f.last {
		debug.SetGCPercent(pct)
		f.last = pct
	}
	f.adjusted.Add(1)
	return true
}

// rateHeadroom: the rate part of the floor is set this fraction (1/8)
// above the figure it is computed from, and moves again only when that
// figure leaves the band it allows: above the floor, or under two thirds of
// it (a quarter under the figure it was set from).
const rateHeadroom = 8

// floorNow is the floor for the next cycle: the fixed one, or with an
// interval the live heap plus one interval's allocation at the rate over
// the last adjustments (allocMarks, up to rateWindow cycles), if that is
// higher, but not above maxHeap (nor lowered under the fixed floor by
// it). The rate part moves only when that figure leaves a band around
// it: it is set an eighth above the figure (rateHeadroom), is raised once
// the figure exceeds it and lowered once the figure is under two thirds of
// it. Under a steady load the goal then stays where the first seconds put
// it instead of rising with each new maximum of the cycles' noise (the
// live heap and rate of one cycle vary by a few percent, and a floor that
// followed every new maximum crept up for about a minute, and RSS with
// it). The first adjustment has no rate yet, and one without a rate (no
// time passed, or the counter went back) keeps the last. Called under mu.
func (f *gcFloor) floorNow(live, allocs uint64, now time.Time) uint64 {
	if f.interval > 0 {
		if perInterval, ok := f.marks.rate(allocs, now, f.interval); ok {
			want := min(float64(live)+perInterval, float64(f.maxHeap))
			if rf := float64(f.rateFloor); want > rf || want < rf*2/3 {
				f.rateFloor = uint64(min(want+want/rateHeadroom, float64(f.maxHeap)))
			}
		}
		f.marks.add(allocs, now)
	}
	return max(f.floor, f.rateFloor)
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
