package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// legDialer hands out a fresh callee leg per call and publishes it.
type legDialer struct{ legs chan *testLeg }

func (d legDialer) Dial(_ context.Context, req DialRequest) (Leg, error) {
	if req.Target.User == "offline" {
		return nil, ErrOffline
	}
	l := newTestLeg("callee-"+req.Target.User, browserCaps)
	d.legs <- l
	return l, nil
}

func admissionGateway(t *testing.T, cfg Config) (*Gateway, legDialer) {
	t.Helper()
	r := NewRouter()
	d := legDialer{legs: make(chan *testLeg, 64)}
	r.Handle(SchemeUser, d)
	return New(cfg, r, nil, NewMetrics(nil)), d
}

func placeFrom(t *testing.T, gw *Gateway, from, target string) (*Call, *testLeg, error) {
	t.Helper()
	caller := newTestLeg("caller-"+from, browserCaps)
	c, err := gw.Place(context.Background(), PlaceRequest{Caller: caller, From: from, Target: target,
		Offer: loadSDP(t, "chrome156_offer_audio_only.sdp")})
	if c != nil {
		t.Cleanup(func() { c.Hangup(ReasonShutdown); <-c.Done() })
	}
	return c, caller, err
}

// waitInSetup waits for the calls-in-setup count to reach n.
func waitInSetup(t *testing.T, gw *Gateway, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for gw.CallsInSetup() != n {
		if time.Now().After(deadline) {
			t.Fatalf("calls in setup %d, want %d", gw.CallsInSetup(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAdmissionCallsInSetup: beyond MaxCallsInSetup a new call is refused
// with ErrOverloaded (503) and counted; an answer, a hang-up before the
// answer and a failed dial each give the slot back.
func TestAdmissionCallsInSetup(t *testing.T) {
	gw, d := admissionGateway(t, Config{MaxCallsInSetup: 2, MaxQueueDelay: -1})
	c1, _, err := placeFrom(t, gw, "a1", "bob")
	if err != nil {
		t.Fatal(err)
	}
	callee1 := <-d.legs
	_, caller2, err := placeFrom(t, gw, "a2", "carol")
	if err != nil {
		t.Fatal(err)
	}
	<-d.legs
	_, _, err = placeFrom(t, gw, "a3", "dave")
	if !errors.Is(err, ErrOverloaded) {
		t.Fatalf("third call in setup: %v, want ErrOverloaded", err)
	}
	if code, _ := Status(err); code != 503 {
		t.Errorf("status %d, want 503", code)
	}
	if err := gw.Shed("ws"); !errors.Is(err, ErrOverloaded) {
		t.Errorf("Shed: %v, want ErrOverloaded", err)
	}
	shed := gw.metrics.CallsShed
	if v := testutil.ToFloat64(shed.WithLabelValues("caller-a3", SignalCallsInSetup)); v != 1 {
		t.Errorf("shed from caller-a3 counted %v, want 1", v)
	}
	if v := testutil.ToFloat64(shed.WithLabelValues("ws", SignalCallsInSetup)); v != 1 {
		t.Errorf("shed from ws counted %v, want 1", v)
	}
	if n := gw.ActiveCalls(); n != 2 {
		t.Errorf("%d active calls, want 2 (the shed one never started)", n)
	}

	// The answer ends call 1's setup: a new call is admitted.
	nextAs[Offer](t, callee1)
	if err := c1.Post(callee1, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_initial.sdp")}); err != nil {
		t.Fatal(err)
	}
	waitInSetup(t, gw, 1)
	if gw.Shed("ws") != nil {
		t.Error("Shed refuses below the limit")
	}
	if _, _, err := placeFrom(t, gw, "a4", "erin"); err != nil {
		t.Fatalf("call after an answer: %v", err)
	}
	<-d.legs
	waitInSetup(t, gw, 2)

	// A hang-up before the answer gives its slot back too.
	call2 := mustCallOf(t, gw, "a2")
	if err := call2.Post(caller2, Hangup{}); err != nil {
		t.Fatal(err)
	}
	waitInSetup(t, gw, 1)

	// A call refused after admission (offline callee) keeps no slot.
	if _, _, err := placeFrom(t, gw, "a5", "offline"); !errors.Is(err, ErrOffline) {
		t.Fatalf("offline: %v", err)
	}
	if n := gw.CallsInSetup(); n != 1 {
		t.Errorf("calls in setup %d after a failed dial, want 1", n)
	}
	if v := testutil.ToFloat64(gw.metrics.CallsInSetup); v != 1 {
		t.Errorf("sigbridge_calls_in_setup %v, want 1", v)
	}
}

// TestAdmissionRingingEndsSetup: a callee that rings gives the call's slot
// back (what remains is a person deciding), so calls ringing for long do
// not shed new ones; a callee that neither rings nor answers keeps it.
func TestAdmissionRingingEndsSetup(t *testing.T) {
	gw, d := admissionGateway(t, Config{MaxCallsInSetup: 1, MaxQueueDelay: -1})
	c1, caller1, err := placeFrom(t, gw, "a1", "bob")
	if err != nil {
		t.Fatal(err)
	}
	callee1 := <-d.legs
	nextAs[Offer](t, callee1)
	if _, _, err := placeFrom(t, gw, "a2", "carol"); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("second call while the first is in setup: %v, want ErrOverloaded", err)
	}
	if err := c1.Post(callee1, Ringing{Code: 180}); err != nil {
		t.Fatal(err)
	}
	if r := nextAs[Ringing](t, caller1); r.Code != 180 {
		t.Errorf("caller got ringing %d, want 180", r.Code)
	}
	waitInSetup(t, gw, 0)
	if _, _, err := placeFrom(t, gw, "a3", "dave"); err != nil {
		t.Fatalf("call while the first one rings: %v", err)
	}
	callee3 := <-d.legs
	nextAs[Offer](t, callee3)
	waitInSetup(t, gw, 1)
	if _, _, err := placeFrom(t, gw, "a4", "erin"); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("call while a callee neither rang nor answered: %v, want ErrOverloaded", err)
	}
	// The ringing call is still answered as before.
	if err := c1.Post(callee1, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_initial.sdp")}); err != nil {
		t.Fatal(err)
	}
	nextAs[Answer](t, caller1)
	if n := gw.CallsInSetup(); n != 1 {
		t.Errorf("calls in setup %d after the ringing call's answer, want 1", n)
	}
}

func mustCallOf(t *testing.T, gw *Gateway, from string) *Call {
	t.Helper()
	for _, c := range gw.snapshot() {
		if c.From() == from {
			return c
		}
	}
	t.Fatalf("no call from %s", from)
	return nil
}

// TestAdmissionAdapterSignal: while an adapter's signal is active, new
// calls are refused (Place and Shed) and counted under its name and the
// caller's dialect; once it is not, calls are admitted again.
func TestAdmissionAdapterSignal(t *testing.T) {
	gw, d := admissionGateway(t, Config{MaxQueueDelay: -1})
	var late atomic.Bool
	gw.AddOverloadSignal("socket_delay", func(time.Time) bool { return late.Load() })
	late.Store(true)
	if _, _, err := placeFrom(t, gw, "alice", "bob"); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("call while the signal is active: %v, want ErrOverloaded", err)
	}
	if err := gw.Shed("sip"); !errors.Is(err, ErrOverloaded) {
		t.Errorf("Shed while the signal is active: %v, want ErrOverloaded", err)
	}
	if gw.CallsInSetup() != 0 {
		t.Errorf("a shed call holds a setup slot: %d", gw.CallsInSetup())
	}
	for _, dialect := range []string{"caller-alice", "sip"} {
		if v := testutil.ToFloat64(gw.Metrics().CallsShed.WithLabelValues(dialect, "socket_delay")); v != 1 {
			t.Errorf("sigbridge_calls_shed_total{%s,socket_delay} = %v, want 1", dialect, v)
		}
	}
	late.Store(false)
	if _, _, err := placeFrom(t, gw, "alice", "bob"); err != nil {
		t.Fatalf("call once the signal is off: %v", err)
	}
	<-d.legs
}

// TestAdmissionAddsCapacity: a delay signal that would shed a call first
// asks the capacity hook; when it adds capacity the call is admitted and
// the signal sheds nothing for capacityGrace without asking again; once
// the hook has nothing to add, calls are shed. Calls in setup stay a
// bound whatever the hook says.
func TestAdmissionAddsCapacity(t *testing.T) {
	gw, d := admissionGateway(t, Config{MaxCallsInSetup: 2, MaxQueueDelay: -1, MaxCallsPerUser: 10})
	var late atomic.Bool
	gw.AddOverloadSignal("socket_delay", func(time.Time) bool { return late.Load() })
	var asked, spare atomic.Int32
	spare.Store(1)
	gw.AddCapacity(func(time.Time) bool {
		asked.Add(1)
		return spare.Add(-1) >= 0
	})
	late.Store(true)
	_, caller0, err := placeFrom(t, gw, "u0", "bob")
	if err != nil {
		t.Fatalf("call with capacity added: %v", err)
	}
	<-d.legs
	if err := gw.Shed("sip"); err != nil {
		t.Errorf("Shed within the grace: %v", err)
	}
	if _, _, err := placeFrom(t, gw, "u1", "bob"); err != nil {
		t.Fatalf("second call within the grace: %v", err)
	}
	<-d.legs
	if n := asked.Load(); n != 1 {
		t.Errorf("capacity hook asked %d times within the grace, want 1", n)
	}
	if _, _, err := placeFrom(t, gw, "u2", "bob"); !errors.Is(err, ErrOverloaded) || !strings.Contains(err.Error(), SignalCallsInSetup) {
		t.Fatalf("third call over max_calls_in_setup 2: %v, want ErrOverloaded (%s)", err, SignalCallsInSetup)
	}
	if err := mustCallOf(t, gw, "u0").Post(caller0, Hangup{}); err != nil {
		t.Fatal(err)
	}
	waitInSetup(t, gw, 1)
	gw.adm.graceUntil.Store(0) // the grace is over
	if err := gw.Shed("sip"); !errors.Is(err, ErrOverloaded) || !strings.Contains(err.Error(), "socket_delay") {
		t.Fatalf("Shed with nothing to add: %v, want ErrOverloaded (socket_delay)", err)
	}
	if n := asked.Load(); n != 2 {
		t.Errorf("capacity hook asked %d times, want 2 (the first signal, after the grace)", n)
	}
	if v := testutil.ToFloat64(gw.Metrics().CallsShed.WithLabelValues("sip", "socket_delay")); v != 1 {
		t.Errorf("sigbridge_calls_shed_total{sip,socket_delay} = %v, want 1", v)
	}
}

// TestAdmissionAsksEarly: calls in setup past 1/capacityShare of their
// bound ask the capacity hook for more, while no signal sheds; within the
// grace of capacity added, they do not ask again.
func TestAdmissionAsksEarly(t *testing.T) {
	const bound = 8
	gw, d := admissionGateway(t, Config{MaxCallsInSetup: bound, MaxQueueDelay: -1, MaxCallsPerUser: 10})
	var asked atomic.Int32
	gw.AddCapacity(func(time.Time) bool { return asked.Add(1) == 1 })
	first := bound / capacityShare // the call that makes this many in setup asks
	for i := 1; i <= first+1; i++ {
		if _, _, err := placeFrom(t, gw, fmt.Sprintf("u%d", i), "bob"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		<-d.legs
		want := int32(0)
		if i >= first {
			want = 1
		}
		if n := asked.Load(); n != want {
			t.Fatalf("after call %d (%d in setup of %d): hook asked %d times, want %d", i, i, bound, n, want)
		}
	}
	gw.adm.graceUntil.Store(0)
	if _, _, err := placeFrom(t, gw, "last", "bob"); err != nil {
		t.Fatalf("a call with nothing to add: %v", err)
	}
	<-d.legs
	if n := asked.Load(); n != 2 {
		t.Fatalf("after the grace: hook asked %d times, want 2", n)
	}
}

// TestAdmissionUnbounded: a negative MaxCallsInSetup admits any number.
func TestAdmissionUnbounded(t *testing.T) {
	gw, d := admissionGateway(t, Config{MaxCallsInSetup: -1, MaxQueueDelay: -1, MaxCallsPerUser: 100})
	for i := range 20 {
		if _, _, err := placeFrom(t, gw, fmt.Sprintf("u%d", i), "bob"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		<-d.legs
	}
}

func TestDelayQuantileOf(t *testing.T) {
	h := &metrics.Float64Histogram{Buckets: []float64{0, 0.001, 0.01, 0.1, 1}, Counts: []uint64{50, 30, 15, 5}}
	prev := []uint64{10, 0, 0, 0}
	// 90 samples since prev: 40 under 1 ms, 30 under 10 ms, 15 under 100 ms, 5 above.
	if d, ok := delayQuantileOf(h, prev, 0.9); !ok || d != 10*time.Millisecond {
		t.Errorf("p90 = %v %v, want 10ms", d, ok)
	}
	if d, ok := delayQuantileOf(h, prev, 0.5); !ok || d != time.Millisecond {
		t.Errorf("p50 = %v %v, want 1ms", d, ok)
	}
	if _, ok := delayQuantileOf(h, h.Counts, 0.9); ok {
		t.Error("an empty window gave a quantile")
	}
}

// TestAdmissionQueueDelay: with one CPU for the process and 1,500
// goroutines each busy for half a millisecond, goroutines wait far longer than
// the 1 ms bound for a CPU: new calls are shed with signal queue_delay.
// Once the backlog is gone, a fresh window admits them again.
func TestAdmissionQueueDelay(t *testing.T) {
	gw, d := admissionGateway(t, Config{MaxQueueDelay: time.Millisecond})
	gw.adm.queueDelayed(time.Now())     // start a window now
	backlog(1500, 500*time.Microsecond) // the runtime samples 1 in 8 of them
	time.Sleep(delayWindow)
	gw.adm.queueDelayed(time.Now())  // measure the window of the backlog...
	gw.adm.next.Store(math.MaxInt64) // ... and keep its verdict while we look
	err := gw.Shed("sip")
	if !errors.Is(err, ErrOverloaded) {
		t.Fatalf("Shed under a goroutine backlog: %v, want ErrOverloaded", err)
	}
	if _, _, err := placeFrom(t, gw, "a1", "bob"); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("Place under a goroutine backlog: %v, want ErrOverloaded", err)
	}
	if v := testutil.ToFloat64(gw.metrics.CallsShed.WithLabelValues("sip", SignalQueueDelay)); v != 1 {
		t.Errorf("shed from sip counted %v, want 1", v)
	}
	if v := testutil.ToFloat64(gw.metrics.QueueDelay); v < 0.001 {
		t.Errorf("sigbridge_queue_delay_seconds %v, want over 1ms", v)
	}
	gw.adm.next.Store(0)
	deadline := time.Now().Add(10 * time.Second)
	for {
		time.Sleep(delayWindow)
		if _, _, err := placeFrom(t, gw, "a2", "bob"); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("still shedding 10 s after the backlog: %v", err)
		}
	}
	<-d.legs
}

// backlog runs n goroutines, each busy for d, on one processor, and
// returns when all have run.
func backlog(n int, d time.Duration) {
	old := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(old)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := time.Now(); time.Since(start) < d; {
			}
		}()
	}
	wg.Wait()
}

// BenchmarkAdmission is the cost admission adds to every call: one admit
// and its release, with both signals on (reported, never asserted).
func BenchmarkAdmission(b *testing.B) {
	a := newAdmission(DefaultConfig().withDefaults(), slog.New(slog.DiscardHandler), NewMetrics(nil))
	b.ReportAllocs()
	for b.Loop() {
		if err := a.acquire("ws"); err != nil {
			b.Fatal(err)
		}
		a.release()
	}
}
