package load

import (
	"math"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

// TestSummarizeWithin checks the shares within the gateway's bucket
// bounds: a setup exactly on a bound counts as within it, one a
// nanosecond over does not.
func TestSummarizeWithin(t *testing.T) {
	ds := []time.Duration{
		500 * time.Microsecond, time.Millisecond, time.Millisecond + 1, 3 * time.Millisecond,
		5 * time.Millisecond, 7 * time.Millisecond, 30 * time.Millisecond, 60 * time.Millisecond,
	}
	l := summarize(ds)
	want := map[float64]float64{1: 2.0 / 8, 2: 3.0 / 8, 5: 5.0 / 8, 10: 6.0 / 8, 20: 6.0 / 8, 50: 7.0 / 8}
	if len(l.Within) != len(WithinBoundsMS) {
		t.Fatalf("within: %d shares, want %d", len(l.Within), len(WithinBoundsMS))
	}
	for _, sh := range l.Within {
		if sh.Share != want[sh.LEMS] {
			t.Errorf("within %g ms: %g, want %g", sh.LEMS, sh.Share, want[sh.LEMS])
		}
	}
	if l.Count != 8 || l.Max != 60 {
		t.Errorf("count %d max %g, want 8 and 60", l.Count, l.Max)
	}
	if summarize(nil).Within != nil {
		t.Error("no calls: shares reported")
	}
	var b strings.Builder
	r := &Report{Users: 1, Setup: l}
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "answered within  1ms 25.00%  2ms 37.50%  5ms 62.50%") {
		t.Errorf("text report lacks the shares:\n%s", b.String())
	}
}

// TestSchedSummary checks the quantiles read off a runtime/metrics
// histogram: each is the upper bound of the bucket it falls in, the last
// bucket's infinite bound replaced by its lower one.
func TestSchedSummary(t *testing.T) {
	inf := math.Inf(1)
	h := &metrics.Float64Histogram{
		Buckets: []float64{0, 0.001, 0.002, 0.005, inf},
		Counts:  []uint64{900, 90, 9, 1},
	}
	got := schedSummary(h)
	want := SchedLatency{Count: 1000, P50: 1, P99: 2, P999: 5, Max: 5}
	if got != want {
		t.Errorf("schedSummary = %+v, want %+v", got, want)
	}
	if (schedSummary(&metrics.Float64Histogram{Buckets: h.Buckets, Counts: make([]uint64, 4)}) != SchedLatency{}) {
		t.Error("an empty histogram has quantiles")
	}
	later := &metrics.Float64Histogram{Buckets: h.Buckets, Counts: []uint64{1900, 90, 9, 1}}
	d := histDelta(later, h)
	if d == nil || d.Counts[0] != 1000 || d.Counts[1] != 0 {
		t.Fatalf("histDelta = %+v", d)
	}
	if got := schedSummary(d); got.P99 != 1 || got.Max != 1 {
		t.Errorf("delta summary = %+v, want everything within the first bucket (1 ms)", got)
	}
	// A real reading: the process's own counters never go backwards.
	a := readSelf()
	runtime.GC()
	st := readSelf().since(a)
	if st.GCCycles < 1 {
		t.Errorf("a forced collection was not counted: %+v", st)
	}
}
