package load

import (
	"math"
	"runtime/metrics"
)

// SelfStats is what the tool's own Go runtime did while calls were placed
// and drained: the tool is on the measured interval (it stamps the offer's
// write and the answer's read), so a goroutine of its own waiting for a CPU,
// or a collection of its own, lengthens the setups it reports. The figures
// are the whole process's (a test running several Runs in one process sees
// them all).
type SelfStats struct {
	// GCCycles counts the tool's collections.
	GCCycles uint64 `json:"gc_cycles"`
	// GCPauseMS is the tool's stop-the-world time for GC, in total.
	GCPauseMS float64 `json:"gc_pause_ms"`
	// SchedLatency is how long the tool's goroutines waited between
	// becoming runnable and running (/sched/latencies:seconds): a read loop
	// woken by the answer's arrival waits this long before it stamps it.
	SchedLatency SchedLatency `json:"sched_latency_ms"`
}

// SchedLatency summarises scheduling latencies in milliseconds (upper
// bounds of runtime/metrics' histogram buckets).
type SchedLatency struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

// selfSample is one reading of the runtime metrics SelfStats is made of.
type selfSample struct {
	gcCycles uint64
	pauses   *metrics.Float64Histogram
	sched    *metrics.Float64Histogram
}

var selfMetrics = []string{"/gc/cycles/total:gc-cycles", "/sched/pauses/total/gc:seconds", "/sched/latencies:seconds"}

func readSelf() selfSample {
	s := make([]metrics.Sample, len(selfMetrics))
	for i, n := range selfMetrics {
		s[i].Name = n
	}
	metrics.Read(s)
	var out selfSample
	if s[0].Value.Kind() == metrics.KindUint64 {
		out.gcCycles = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindFloat64Histogram {
		out.pauses = s[1].Value.Float64Histogram()
	}
	if s[2].Value.Kind() == metrics.KindFloat64Histogram {
		out.sched = s[2].Value.Float64Histogram()
	}
	return out
}

// since returns what happened between from and s.
func (s selfSample) since(from selfSample) SelfStats {
	st := SelfStats{GCCycles: s.gcCycles - from.gcCycles}
	if d := histDelta(s.pauses, from.pauses); d != nil {
		for i, n := range d.Counts {
			st.GCPauseMS += float64(n) * bucketMid(d.Buckets[i], d.Buckets[i+1]) * 1000
		}
	}
	if d := histDelta(s.sched, from.sched); d != nil {
		st.SchedLatency = schedSummary(d)
	}
	return st
}

// histDelta returns b's counts minus a's (same buckets), or nil.
func histDelta(b, a *metrics.Float64Histogram) *metrics.Float64Histogram {
	if b == nil || a == nil || len(a.Counts) != len(b.Counts) {
		return nil
	}
	d := &metrics.Float64Histogram{Buckets: b.Buckets, Counts: make([]uint64, len(b.Counts))}
	for i := range b.Counts {
		d.Counts[i] = b.Counts[i] - a.Counts[i]
	}
	return d
}

// schedSummary gives the quantiles of h as its buckets' upper bounds, in
// milliseconds.
func schedSummary(h *metrics.Float64Histogram) SchedLatency {
	var l SchedLatency
	for _, n := range h.Counts {
		l.Count += n
	}
	if l.Count == 0 {
		return l
	}
	upper := func(i int) float64 {
		u := h.Buckets[i+1]
		if math.IsInf(u, 1) {
			u = h.Buckets[i]
		}
		return u * 1000
	}
	var seen uint64
	q := []struct {
		f    float64
		dst  *float64
		done bool
	}{{f: 0.5, dst: &l.P50}, {f: 0.99, dst: &l.P99}, {f: 0.999, dst: &l.P999}}
	for i, n := range h.Counts {
		if n == 0 {
			continue
		}
		seen += n
		for j := range q {
			if !q[j].done && float64(seen) >= q[j].f*float64(l.Count) {
				*q[j].dst, q[j].done = upper(i), true
			}
		}
		l.Max = upper(i)
	}
	return l
}

// bucketMid is the middle of a histogram bucket (its finite bound when the
// other is infinite).
func bucketMid(lo, hi float64) float64 {
	switch {
	case math.IsInf(lo, -1):
		return hi
	case math.IsInf(hi, 1):
		return lo
	}
	return (lo + hi) / 2
}
