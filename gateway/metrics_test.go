package gateway

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestSetupHistogram: an answered call adds one observation to
// sigbridge_call_setup_seconds under its leg types, no longer than the test
// saw between placing the call and the answer reaching the caller; a call
// that ends unanswered adds none.
func TestSetupHistogram(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := NewRouter()
	d := legDialer{legs: make(chan *testLeg, 4)}
	r.Handle(SchemeUser, d)
	gw := New(Config{}, r, nil, NewMetrics(reg))
	t0 := time.Now()
	c, caller, err := placeFrom(t, gw, "a1", "bob")
	if err != nil {
		t.Fatal(err)
	}
	callee := <-d.legs
	nextAs[Offer](t, callee)
	if err := c.Post(callee, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_initial.sdp")}); err != nil {
		t.Fatal(err)
	}
	nextAs[Answer](t, caller)
	elapsed := time.Since(t0)

	c2, caller2, err := placeFrom(t, gw, "a2", "carol")
	if err != nil {
		t.Fatal(err)
	}
	<-d.legs
	if err := c2.Post(caller2, Hangup{}); err != nil {
		t.Fatal(err)
	}
	<-c2.Done()

	count, sum, buckets := setupHistogram(t, reg, "caller-a1", "callee-bob")
	if count != 1 {
		t.Fatalf("caller-a1 → callee-bob: %d observations, want 1", count)
	}
	if sum < 0 || sum > elapsed.Seconds() {
		t.Errorf("setup %v s, want between 0 and the %v the test waited", sum, elapsed)
	}
	if buckets != len(SetupBuckets) {
		t.Errorf("%d buckets, want %d", buckets, len(SetupBuckets))
	}
	if n, _, _ := setupHistogram(t, reg, "caller-a2", "callee-carol"); n != 0 {
		t.Errorf("unanswered call observed %d times, want 0", n)
	}
}

// setupHistogram returns the count, sum and number of buckets of the
// sigbridge_call_setup_seconds series of caller → callee gathered from reg
// (0 when there is none).
func setupHistogram(t *testing.T, reg *prometheus.Registry, caller, callee string) (count uint64, sum float64, buckets int) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sigbridge_call_setup_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["caller"] == caller && l["callee"] == callee {
				h := m.GetHistogram()
				return h.GetSampleCount(), h.GetSampleSum(), len(h.GetBucket())
			}
		}
	}
	return 0, 0, 0
}
