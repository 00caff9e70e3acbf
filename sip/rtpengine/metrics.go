package rtpengine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the ng client's Prometheus metrics; AnchoredCalls is set by
// the SIP adapter (calls whose media runs through rtpengine now).
type Metrics struct {
	AnchoredCalls prometheus.Gauge
	Errors        *prometheus.CounterVec   // command, kind (timeout|refused|decode)
	Latency       *prometheus.HistogramVec // command
	Up            *prometheus.GaugeVec     // instance: 1 while it answers its health pings
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		AnchoredCalls: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sigbridge_rtpengine_anchored_calls",
			Help: "SIP calls whose media is anchored in rtpengine now."}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigbridge_rtpengine_errors_total",
			Help: "ng requests that failed, by command and kind (timeout|refused|decode)."}, []string{"command", "kind"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sigbridge_rtpengine_request_seconds",
			Help:    "ng request round trips (retransmissions included) that got a reply, by command.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"command"}),
		Up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sigbridge_rtpengine_up",
			Help: "1 while the rtpengine instance (ng address) answers its health pings, 0 while it is down."}, []string{"instance"}),
	}
	if reg != nil {
		reg.MustRegister(m.AnchoredCalls, m.Errors, m.Latency, m.Up)
	}
	return m
}

func commandLabel(cmd string) string {
	switch cmd {
	case "ping", "offer", "answer", "delete", "query", "list", "play DTMF":
		return cmd
	}
	return "other"
}

func (m *Metrics) latency(cmd string, d time.Duration, ok bool) {
	if m == nil || !ok {
		return
	}
	m.Latency.WithLabelValues(commandLabel(cmd)).Observe(d.Seconds())
}

func (m *Metrics) error(cmd, kind string) {
	if m == nil {
		return
	}
	m.Errors.WithLabelValues(commandLabel(cmd), kind).Inc()
}

// Anchored adds n to the anchored-calls gauge.
func (m *Metrics) Anchored(n float64) {
	if m == nil {
		return
	}
	m.AnchoredCalls.Add(n)
}

// up sets the health gauge of the instance addr.
func (m *Metrics) up(addr string, up bool) {
	if m == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	m.Up.WithLabelValues(addr).Set(v)
}
