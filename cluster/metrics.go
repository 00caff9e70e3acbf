package cluster

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the node's Prometheus collectors and the counters behind
// Stats.
type metrics struct {
	ready    prometheus.Gauge
	nodes    prometheus.Gauge
	calls    *prometheus.GaugeVec   // role
	dials    *prometheus.CounterVec // direction, result
	lostC    *prometheus.CounterVec // cause
	msgs     *prometheus.CounterVec // direction, type
	bytes    *prometheus.CounterVec // direction
	registry *prometheus.CounterVec // op, result
	dialTime prometheus.Histogram
	forks    prometheus.Counter

	callMsgs, callBytes atomic.Uint64 // call-related messages (dials, replies, events) sent
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		ready: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sigbridge_cluster_ready",
			Help: "1 while NATS is reachable and the registry is in step."}),
		nodes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sigbridge_cluster_nodes",
			Help: "Live cluster nodes, this one included."}),
		calls: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sigbridge_cluster_remote_calls",
			Help: "Calls crossing to another node, by this node's role (owner: the bridge is here; relay: the callee leg is here)."},
			[]string{"role"}),
		dials: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigbridge_cluster_dials_total",
			Help: "Callee legs asked of another node (out) or created for one (in), by result."},
			[]string{"direction", "result"}),
		lostC: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigbridge_cluster_calls_lost_total",
			Help: "Remote calls ended by the cluster (node-lost, overflow, gap, publish, timeout)."}, []string{"cause"}),
		msgs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigbridge_cluster_messages_total",
			Help: "NATS messages by direction and type (heartbeat, dial, dial-reply, call events)."},
			[]string{"direction", "type"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigbridge_cluster_bytes_total",
			Help: "NATS payload bytes by direction."}, []string{"direction"}),
		registry: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigbridge_cluster_registry_ops_total",
			Help: "Registry operations (claim; lookup: a read of the bucket for a key the mirror lacks) by result (ok, taken, unavailable)."}, []string{"op", "result"}),
		dialTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sigbridge_cluster_dial_seconds",
			Help:    "Time to get a callee leg from another node (request and reply), answered dials only.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2}}),
		forks: prometheus.NewCounter(prometheus.CounterOpts{Name: "sigbridge_cluster_forks_total",
			Help: "Calls rung on several nodes at once (a SIP user with bindings on more than one node)."}),
	}
	if reg != nil {
		reg.MustRegister(m.ready, m.nodes, m.calls, m.dials, m.lostC, m.msgs, m.bytes, m.registry, m.dialTime, m.forks)
	}
	m.nodes.Set(1)
	return m
}

func (m *metrics) sent(typ string, n int) {
	m.msgs.WithLabelValues("sent", typ).Inc()
	m.bytes.WithLabelValues("sent").Add(float64(n))
	if typ != "heartbeat" {
		m.callMsgs.Add(1)
		m.callBytes.Add(uint64(n))
	}
}

func (m *metrics) received(typ string, n int) {
	m.msgs.WithLabelValues("received", typ).Inc()
	m.bytes.WithLabelValues("received").Add(float64(n))
}

func (m *metrics) dial(direction, result string) { m.dials.WithLabelValues(direction, result).Inc() }

func (m *metrics) lost(cause string) { m.lostC.WithLabelValues(cause).Inc() }

func (m *metrics) registryOp(op string, err error) {
	result := "ok"
	switch {
	case err == nil:
	case isTaken(err):
		result = "taken"
	default:
		result = "unavailable"
	}
	m.registry.WithLabelValues(op, result).Inc()
}

// Stats are counters of what this node sent over NATS for calls (dial
// requests, replies and call events; heartbeats and registry traffic are
// not counted): what NATS adds per call.
type Stats struct {
	CallMessages uint64
	CallBytes    uint64
}

// Stats returns the node's counters since it started.
func (n *Node) Stats() Stats {
	return Stats{CallMessages: n.metrics.callMsgs.Load(), CallBytes: n.metrics.callBytes.Load()}
}
