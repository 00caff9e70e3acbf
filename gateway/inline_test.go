package gateway

import (
	"context"
	"testing"
)

// delivered returns what l got so far without waiting: after an inline
// post the event must be there already.
func delivered[T Event](t *testing.T, l *testLeg) T {
	t.Helper()
	select {
	case ev := <-l.ch:
		v, ok := ev.(T)
		if !ok {
			var zero T
			t.Fatalf("%s leg: got %T %+v, want %T", l.kind, ev, ev, zero)
		}
		return v
	default:
		var zero T
		t.Fatalf("%s leg: no %T delivered before the post returned", l.kind, zero)
		return zero
	}
}

// TestPostInlineHandlesOnPoster: with PlaceRequest.Inline and PostInline,
// the poster's goroutine handles the event: the other leg has it when the
// call returns, and a hang-up has finished the call (Done closed, call
// unregistered) before PostInline returns.
func TestPostInlineHandlesOnPoster(t *testing.T) {
	r := NewRouter()
	callee := newTestLeg("callee", browserCaps)
	r.Handle(SchemeUser, fixedDialer(callee))
	gw := New(Config{}, r, nil, NewMetrics(nil))
	caller := newTestLeg("caller", browserCaps)
	call, err := gw.Place(context.Background(), PlaceRequest{Caller: caller, From: "alice", Target: "bob",
		Offer: loadSDP(t, "chrome156_offer_av_dc_initial.sdp"), Inline: true})
	if err != nil {
		t.Fatal(err)
	}
	delivered[Offer](t, callee)
	for _, c := range loadTrickle(t, "chrome156_trickle_offerer.json") {
		if err := call.PostInline(caller, c); err != nil {
			t.Fatal(err)
		}
		if got := delivered[Candidate](t, callee); got.Line != c.Line {
			t.Fatalf("candidate changed: %+v", got)
		}
	}
	if err := call.PostInline(callee, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_initial.sdp")}); err != nil {
		t.Fatal(err)
	}
	delivered[Answer](t, caller)
	if call.inSetup.Load() {
		t.Fatal("call still in setup after its answer was handled")
	}
	if err := call.PostInline(caller, Hangup{}); err != nil {
		t.Fatal(err)
	}
	if h := delivered[Hangup](t, callee); h.Reason != ReasonSuccess {
		t.Fatalf("hangup reason %+v, want success", h.Reason)
	}
	if !call.finished() {
		t.Fatal("call not finished when the inline hang-up returned")
	}
	if n := gw.ActiveCalls(); n != 0 {
		t.Fatalf("%d calls still registered", n)
	}
	if err := call.PostInline(caller, Hangup{}); err != ErrCallEnded {
		t.Fatalf("post after the end: %v, want ErrCallEnded", err)
	}
}

// gateLeg blocks in Deliver of an Offer until the gate opens, telling
// entered first.
type gateLeg struct {
	*testLeg
	entered, gate chan struct{}
}

func (l *gateLeg) Deliver(ev Event) error {
	if _, ok := ev.(Offer); ok {
		close(l.entered)
		<-l.gate
	}
	return l.testLeg.Deliver(ev)
}

// TestPostInlineWhileClaimed: an inline post to a call that another
// goroutine is handling only queues (it returns at once, with the
// claimant still inside a Deliver), and the claimant delivers it after,
// in order.
func TestPostInlineWhileClaimed(t *testing.T) {
	r := NewRouter()
	callee := &gateLeg{testLeg: newTestLeg("callee", browserCaps), entered: make(chan struct{}), gate: make(chan struct{})}
	r.Handle(SchemeUser, fixedDialer(callee))
	gw := New(Config{}, r, nil, NewMetrics(nil))
	caller := newTestLeg("caller", browserCaps)
	call, err := gw.Place(context.Background(), PlaceRequest{Caller: caller, From: "alice", Target: "bob",
		Offer: loadSDP(t, "chrome156_offer_av_dc_initial.sdp")}) // the offer on the call's goroutine
	if err != nil {
		t.Fatal(err)
	}
	<-callee.entered
	cands := loadTrickle(t, "chrome156_trickle_offerer.json")
	for _, c := range cands {
		if err := call.PostInline(caller, c); err != nil {
			t.Fatal(err)
		}
	}
	close(callee.gate)
	nextAs[Offer](t, callee.testLeg)
	for _, c := range cands {
		if got := nextAs[Candidate](t, callee.testLeg); got.Line != c.Line {
			t.Fatalf("candidate out of order: %+v, want %s", got, c.Line)
		}
	}
	call.Hangup(ReasonShutdown)
	<-call.Done()
}

// echoLeg posts Ringing from inside its Deliver of an Offer (as a leg
// may): with the offer handled inline, the ringing is queued behind it
// and handed to a goroutine.
type echoLeg struct {
	*testLeg
	call func() *Call
}

func (l *echoLeg) Deliver(ev Event) error {
	if _, ok := ev.(Offer); ok {
		_ = l.call().Post(l, Ringing{Code: 180})
	}
	return l.testLeg.Deliver(ev)
}

func TestPostFromDeliverDuringInline(t *testing.T) {
	r := NewRouter()
	var call *Call
	callee := &echoLeg{testLeg: newTestLeg("callee", browserCaps)}
	r.Handle(SchemeUser, DialerFunc(func(_ context.Context, req DialRequest) (Leg, error) {
		call = req.Call
		callee.call = func() *Call { return call }
		return callee, nil
	}))
	gw := New(Config{}, r, nil, NewMetrics(nil))
	caller := newTestLeg("caller", browserCaps)
	c, err := gw.Place(context.Background(), PlaceRequest{Caller: caller, From: "alice", Target: "bob",
		Offer: loadSDP(t, "chrome156_offer_av_dc_initial.sdp"), Inline: true})
	if err != nil {
		t.Fatal(err)
	}
	delivered[Offer](t, callee.testLeg)
	if rg := nextAs[Ringing](t, caller); rg.Code != 180 {
		t.Fatalf("ringing %+v", rg)
	}
	c.Hangup(ReasonShutdown)
	<-c.Done()
}
