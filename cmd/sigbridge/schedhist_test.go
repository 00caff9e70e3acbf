package main

import (
	"math"
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestRebucket checks the cumulative counts at coarser bounds: a runtime
// bucket counts at a bound only when it lies wholly at or below it.
func TestRebucket(t *testing.T) {
	h := &metrics.Float64Histogram{
		Buckets: []float64{math.Inf(-1), 0, 0.001, 0.003, 0.006, math.Inf(1)},
		Counts:  []uint64{0, 10, 5, 3, 2},
	}
	count, sum, cum := rebucket(h, []float64{0.001, 0.005, 0.01})
	if count != 20 {
		t.Errorf("count %d, want 20", count)
	}
	want := map[float64]uint64{0.001: 10, 0.005: 15, 0.01: 18} // 0.003-0.006 straddles 0.005; 0.006-Inf never fits
	for b, n := range want {
		if cum[b] != n {
			t.Errorf("le %g: %d, want %d", b, cum[b], n)
		}
	}
	if wantSum := 10*0.0005 + 5*0.002 + 3*0.0045 + 2*0.006; math.Abs(sum-wantSum) > 1e-12 {
		t.Errorf("sum %g, want %g", sum, wantSum)
	}
	if _, _, cum := rebucket(&metrics.Float64Histogram{Buckets: []float64{0, 1}, Counts: []uint64{0}}, []float64{0.5}); cum[0.5] != 0 || len(cum) != 1 {
		t.Errorf("empty histogram: %v", cum)
	}
}

// TestSchedLatencyMetric gathers sigbridge_sched_latency_seconds from a
// registry: the fine buckets, cumulative, within the count.
func TestSchedLatencyMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newSchedLatency())
	for range 100 {
		runtime.Gosched() // some wake-ups for the runtime to sample
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != "sigbridge_sched_latency_seconds" || len(mfs[0].GetMetric()) != 1 {
		t.Fatalf("gathered %v", mfs)
	}
	h := mfs[0].GetMetric()[0].GetHistogram()
	if len(h.GetBucket()) != len(schedLatencyBounds) {
		t.Fatalf("%d buckets, want %d", len(h.GetBucket()), len(schedLatencyBounds))
	}
	var prev uint64
	for i, b := range h.GetBucket() {
		if b.GetUpperBound() != schedLatencyBounds[i] {
			t.Errorf("bucket %d bound %g, want %g", i, b.GetUpperBound(), schedLatencyBounds[i])
		}
		if b.GetCumulativeCount() < prev || b.GetCumulativeCount() > h.GetSampleCount() {
			t.Errorf("bucket %g: %d not between %d and the count %d", b.GetUpperBound(), b.GetCumulativeCount(), prev, h.GetSampleCount())
		}
		prev = b.GetCumulativeCount()
	}
}
