package gateway

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the gateway's Prometheus metrics. Adapters use the same value
// for their connection, message and error counts. A nil *Metrics is valid and
// records nothing.
type Metrics struct {
	Connections       *prometheus.GaugeVec   // by dialect
	Messages          *prometheus.CounterVec // by dialect, direction (in|out), type
	Errors            *prometheus.CounterVec // by dialect, code
	Calls             *prometheus.CounterVec // ended calls by caller, callee, outcome, remote
	ActiveCalls       prometheus.Gauge
	CandidatesDropped *prometheus.CounterVec // by reason
	Panics            prometheus.Counter
	CallsShed         *prometheus.CounterVec // by dialect, signal (admission.go)
	CallsInSetup      prometheus.Gauge
	QueueDelay        prometheus.Gauge
	// Setup is the time from a call's first offer reaching the gateway to
	// its first answer reaching it, by caller and callee leg type.
	Setup *prometheus.HistogramVec

	msgs msgCounters // Messages' counters by label set (msgcounter.go)
}

// SetupBuckets are the bounds of sigbridge_call_setup_seconds: 1 ms to 10 s
// (the 5 ms p99 target, SIP's 500 ms retransmission interval and a
// ring of seconds each fall between two of them).
var SetupBuckets = []float64{.001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10}

// NewMetrics creates the metrics and registers them on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sigbridge_connections",
			Help: "Open signaling connections by dialect."}, []string{"dialect"}),
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigbridge_messages_total",
			Help: "Signaling messages by dialect, direction and type."}, []string{"dialect", "direction", "type"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigbridge_errors_total",
			Help: "Errors reported to peers by dialect and code."}, []string{"dialect", "code"}),
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigbridge_calls_total",
			Help: "Ended calls by caller leg type, callee leg type, outcome and whether the callee was on another cluster node."},
			[]string{"caller", "callee", "outcome", "remote"}),
		ActiveCalls: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sigbridge_calls_active",
			Help: "Calls in progress."}),
		CandidatesDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigbridge_candidates_dropped_total",
			Help: "ICE candidates not forwarded, by reason."}, []string{"reason"}),
		Panics: prometheus.NewCounter(prometheus.CounterOpts{Name: "sigbridge_recovered_panics_total",
			Help: "Panics recovered in a call or connection."}),
		CallsShed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigbridge_calls_shed_total",
			Help: "New calls refused with 503 because the gateway is overloaded, by caller dialect and signal."},
			[]string{"dialect", "signal"}),
		CallsInSetup: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sigbridge_calls_in_setup",
			Help: "Calls placed whose callee has neither rung nor answered, not ended (the admission signal)."}),
		QueueDelay: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sigbridge_queue_delay_seconds",
			Help: "The 0.9 quantile of goroutine scheduling delay over the last admission window."}),
		Setup: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sigbridge_call_setup_seconds",
			Help:    "Answered calls' setup time: the caller's offer reaching the gateway to the callee's answer reaching it, by caller and callee leg type.",
			Buckets: SetupBuckets}, []string{"caller", "callee"}),
	}
	if reg != nil {
		reg.MustRegister(m.Connections, m.Messages, m.Errors, m.Calls, m.ActiveCalls, m.CandidatesDropped, m.Panics,
			m.CallsShed, m.CallsInSetup, m.QueueDelay, m.Setup)
	}
	return m
}

func (m *Metrics) callStarted() {
	if m != nil {
		m.ActiveCalls.Inc()
	}
}

func (m *Metrics) callEnded(caller, callee, outcome string, remote bool) {
	if m != nil {
		m.ActiveCalls.Dec()
		m.Calls.WithLabelValues(caller, callee, outcome, strconv.FormatBool(remote)).Inc()
	}
}

// CallShed counts one new call refused (or, for signals of an adapter,
// dropped) because the gateway is overloaded.
func (m *Metrics) CallShed(dialect, signal string) {
	if m != nil {
		m.CallsShed.WithLabelValues(dialect, signal).Inc()
	}
}

func (m *Metrics) setupStarted() {
	if m != nil {
		m.CallsInSetup.Inc()
	}
}

func (m *Metrics) setupEnded() {
	if m != nil {
		m.CallsInSetup.Dec()
	}
}

func (m *Metrics) callAnswered(caller, callee string, setup time.Duration) {
	if m != nil {
		m.Setup.WithLabelValues(caller, callee).Observe(setup.Seconds())
	}
}

func (m *Metrics) queueDelay(d time.Duration) {
	if m != nil {
		m.QueueDelay.Set(d.Seconds())
	}
}

func (m *Metrics) candidateDropped(reason string) {
	if m != nil {
		m.CandidatesDropped.WithLabelValues(reason).Inc()
	}
}

// Panic counts one recovered panic.
func (m *Metrics) Panic() {
	if m != nil {
		m.Panics.Inc()
	}
}

// Message counts one signaling message.
func (m *Metrics) Message(dialect, direction, typ string) {
	if m != nil {
		m.msgs.get(m.Messages, msgKey{dialect, direction, typ}).Inc()
	}
}

// Error counts one error reported to a peer.
func (m *Metrics) Error(dialect string, code int) {
	if m != nil {
		m.Errors.WithLabelValues(dialect, itoa(code)).Inc()
	}
}

// Connection adds delta to the open connections of a dialect.
func (m *Metrics) Connection(dialect string, delta float64) {
	if m != nil {
		m.Connections.WithLabelValues(dialect).Add(delta)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
