package gateway

import (
	"context"
	"testing"
)

// benchLeg drops what it is given, so the benchmark measures the bridge.
type benchLeg struct {
	caps Caps
	got  chan struct{}
}

func (l *benchLeg) Kind() string        { return "bench" }
func (l *benchLeg) Caps() Caps          { return l.caps }
func (l *benchLeg) Deliver(Event) error { l.got <- struct{}{}; return nil }

func benchCall(b *testing.B) (*Call, *benchLeg, *benchLeg) {
	r := NewRouter()
	callee := &benchLeg{caps: browserCaps, got: make(chan struct{}, 1)}
	r.Handle(SchemeUser, fixedDialer(callee))
	gw := New(Config{MaxTrickled: 1 << 30}, r, nil, NewMetrics(nil))
	caller := &benchLeg{caps: browserCaps, got: make(chan struct{}, 1)}
	call, err := gw.Place(context.Background(), PlaceRequest{Caller: caller, From: "alice", Target: "bob",
		Offer: loadSDP(b, "chrome156_offer_av_dc_initial.sdp")})
	if err != nil {
		b.Fatal(err)
	}
	<-callee.got
	b.Cleanup(func() { call.Hangup(ReasonShutdown); <-call.Done() })
	return call, caller, callee
}

// BenchmarkBridgeCandidate relays one trickled candidate between two
// trickling legs.
func BenchmarkBridgeCandidate(b *testing.B) {
	call, caller, callee := benchCall(b)
	c := loadTrickle(b, "chrome156_trickle_offerer.json")[0]
	b.ReportAllocs()
	for b.Loop() {
		_ = call.Post(caller, c)
		<-callee.got
	}
}

// BenchmarkBridgeReoffer relays an already parsed offer (a re-offer) and its
// answer between two trickling legs.
func BenchmarkBridgeReoffer(b *testing.B) {
	call, caller, callee := benchCall(b)
	answer := loadSDP(b, "chrome156_answer_recvonly_initial.sdp")
	offer := loadSDP(b, "chrome156_offer_av_dc_initial.sdp")
	_ = call.Post(callee, Answer{SDP: answer})
	<-caller.got
	b.ReportAllocs()
	for b.Loop() {
		_ = call.Post(caller, Offer{SDP: offer})
		<-callee.got
		_ = call.Post(callee, Answer{SDP: answer})
		<-caller.got
	}
}

// BenchmarkParseSDP parses the largest browser offer.
func BenchmarkParseSDP(b *testing.B) {
	text := MarshalSDP(loadSDP(b, "chrome156_offer_av_dc_gathered.sdp"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSDP(text); err != nil {
			b.Fatal(err)
		}
	}
}
