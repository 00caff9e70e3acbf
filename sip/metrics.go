package sip

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the SIP adapter's own Prometheus metrics (the shared
// gateway.Metrics count messages, errors and panics).
type metrics struct {
	calls        *prometheus.CounterVec // direction, code
	registration *prometheus.GaugeVec   // account
	transactions *prometheus.CounterVec // direction, method
	denied       *prometheus.CounterVec // direction, reason
	probes       *prometheus.CounterVec // result
	bindings     prometheus.Gauge       // registrar bindings
	lateAnswers  prometheus.Counter     // 2xx to INVITEs we had given up, ACKed and BYEd (late2xx.go)
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigbridge_sip_calls_total",
			Help: "SIP INVITE dialogs by direction (in|out) and final SIP status code."}, []string{"direction", "code"}),
		registration: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sigbridge_sip_registration_state",
			Help: "1 while the account is registered, else 0."}, []string{"account"}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigbridge_sip_transactions_total",
			Help: "SIP transactions by direction (in|out) and method."}, []string{"direction", "method"}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigbridge_sip_denied_total",
			Help: "Calls refused by policy, by direction and reason."}, []string{"direction", "reason"}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sigbridge_sip_dialog_probes_total",
			Help: "In-dialog OPTIONS probes by result (alive|gone)."}, []string{"result"}),
		bindings: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sigbridge_sip_registrar_bindings",
			Help: "Contacts currently registered at the gateway's registrar."}),
		lateAnswers: prometheus.NewCounter(prometheus.CounterOpts{Name: "sigbridge_sip_late_answers_total",
			Help: "2xx answers to outbound INVITEs already cancelled or given up (one per dialog): ACKed, then ended with BYE."}),
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.registration, m.transactions, m.denied, m.probes, m.bindings, m.lateAnswers)
	}
	return m
}

func (m *metrics) call(direction string, code int) {
	m.calls.WithLabelValues(direction, statusLabel(code)).Inc()
}

// statusLabels are the decimal strings of the status codes 100-699.
var statusLabels = func() (s [600]string) {
	for i := range s {
		s[i] = strconv.Itoa(100 + i)
	}
	return s
}()

// statusLabel is strconv.Itoa(code), without a new string for a status
// code (100-699): a metric label, a Reason header's cause.
func statusLabel(code int) string {
	if code >= 100 && code < 700 {
		return statusLabels[code-100]
	}
	return strconv.Itoa(code)
}

func (m *metrics) transaction(direction, method string) {
	m.transactions.WithLabelValues(direction, methodLabel(method)).Inc()
}

func (m *metrics) lateAnswer() { m.lateAnswers.Inc() }

func (m *metrics) probe(result string) { m.probes.WithLabelValues(result).Inc() }

func (m *metrics) deny(direction, reason string) {
	m.denied.WithLabelValues(direction, reason).Inc()
}

func (m *metrics) registered(account string, ok bool) {
	v := 0.0
	if ok {
		v = 1
	}
	m.registration.WithLabelValues(account).Set(v)
}

// methodLabel bounds the label values to the methods we know.
func methodLabel(m string) string {
	switch m {
	case "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "UPDATE", "PRACK",
		"MESSAGE", "SUBSCRIBE", "NOTIFY", "REFER", "PUBLISH":
		return m
	}
	return "other"
}
