package main

import (
	"math"
	"runtime/metrics"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// schedLatencyBounds are the buckets of sigbridge_sched_latency_seconds,
// in seconds: fine around the 5 ms setup target. The Go collector's own
// go_sched_latencies_seconds reduces runtime/metrics' buckets to about ×11
// steps (0.92, 10.5, 117 ms), too coarse to tell a 2 ms wait from an 8 ms one.
var schedLatencyBounds = []float64{25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3, 50e-3, 100e-3, 250e-3, 1}

// schedLatencies is the runtime's histogram of how long runnable
// goroutines waited for a P (sampled wake-ups).
const schedLatencies = "/sched/latencies:seconds"

// schedLatency exports runtime/metrics' /sched/latencies:seconds (how long
// goroutines waited runnable before they ran, for the wake-ups the runtime
// samples) as sigbridge_sched_latency_seconds with schedLatencyBounds.
type schedLatency struct {
	desc *prometheus.Desc
	mu   sync.Mutex
	s    []metrics.Sample
}

func newSchedLatency() *schedLatency {
	return &schedLatency{
		desc: prometheus.NewDesc("sigbridge_sched_latency_seconds",
			"How long goroutines waited runnable for a CPU (runtime/metrics /sched/latencies, the runtime's sample of wake-ups), in fine buckets.",
			nil, nil),
		s: []metrics.Sample{{Name: schedLatencies}},
	}
}

func (c *schedLatency) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *schedLatency) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	metrics.Read(c.s)
	v := c.s[0].Value
	c.mu.Unlock()
	if v.Kind() != metrics.KindFloat64Histogram {
		return
	}
	count, sum, buckets := rebucket(v.Float64Histogram(), schedLatencyBounds)
	ch <- prometheus.MustNewConstHistogram(c.desc, count, sum, buckets)
}

// rebucket turns a runtime/metrics histogram into cumulative counts at
// bounds: a runtime bucket counts at a bound when its upper edge is at or
// below it (a bucket straddling a bound counts above it, so the shares are
// never flattering). sum is estimated from the buckets' middles.
func rebucket(h *metrics.Float64Histogram, bounds []float64) (count uint64, sum float64, cum map[float64]uint64) {
	cum = make(map[float64]uint64, len(bounds))
	for i, n := range h.Counts {
		if n == 0 {
			continue
		}
		lo, hi := h.Buckets[i], h.Buckets[i+1]
		count += n
		switch {
		case math.IsInf(hi, 1):
			sum += float64(n) * lo
		case math.IsInf(lo, -1):
			sum += float64(n) * hi
		default:
			sum += float64(n) * (lo + hi) / 2
		}
		for _, b := range bounds {
			if hi <= b {
				cum[b] += n
			}
		}
	}
	for _, b := range bounds {
		if _, ok := cum[b]; !ok {
			cum[b] = 0
		}
	}
	return count, sum, cum
}
