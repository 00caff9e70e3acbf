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

// BenchmarkParseSDPString parses it with ParseSDPString, which does not
// copy it.
func BenchmarkParseSDPString(b *testing.B) {
	text := MarshalSDP(loadSDP(b, "chrome156_offer_av_dc_gathered.sdp"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSDPString(text); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBrowserToSIPSDP is the SDP work of one browser → SIP call in the
// bridge, from SDP text to SDP text: the browser's offer is parsed, cloned
// for the SIP leg, its three trickled candidates and end-of-candidates are
// folded in (half trickle), and the result is marshalled (the INVITE body);
// the SIP answer is parsed, forwarded to the browser and marshalled (the
// video-answer). Each iteration is a new call. Reports, never asserts.
func BenchmarkBrowserToSIPSDP(b *testing.B) {
	offer := MarshalSDP(loadSDP(b, "chrome156_offer_av_dc_initial.sdp"))
	answer := MarshalSDP(loadSDP(b, "chrome156_answer_recvonly_gathered.sdp"))
	cands := loadTrickle(b, "chrome156_trickle_offerer.json")
	r := NewRouter()
	callee := &sdpLeg{caps: sipCaps, got: make(chan struct{}, 1)}
	r.Handle(SchemeUser, fixedDialer(callee))
	gw := New(Config{MaxTrickled: 1 << 30, MaxCallsPerUser: 1 << 30}, r, nil, NewMetrics(nil))
	b.ReportAllocs()
	for b.Loop() {
		caller := &sdpLeg{caps: wsCaps, got: make(chan struct{}, 1)}
		sd, err := ParseSDP(offer)
		if err != nil {
			b.Fatal(err)
		}
		call, err := gw.Place(context.Background(), PlaceRequest{Caller: caller, From: "alice", Target: "bob", Offer: sd})
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range cands {
			_ = call.Post(caller, c)
		}
		_ = call.Post(caller, EndOfCandidates{})
		<-callee.got
		ans, err := ParseSDP(answer)
		if err != nil {
			b.Fatal(err)
		}
		_ = call.Post(callee, Answer{SDP: ans})
		<-caller.got
		call.Hangup(ReasonShutdown)
		<-call.Done()
	}
}

// wsCaps are the browser leg's (ws): it gives up the SDPs it posts and reads
// the SDPs it renders within Deliver, as sdpLeg does.
var wsCaps = Caps{Trickle: true, MDNS: true, ReadsSDP: true, GivesSDP: true}

// sdpLeg marshals the offers and answers it is given, as the adapters do
// to put them on the wire, and drops every other event.
type sdpLeg struct {
	caps Caps
	got  chan struct{}
}

func (l *sdpLeg) Kind() string { return "bench" }
func (l *sdpLeg) Caps() Caps   { return l.caps }
func (l *sdpLeg) Deliver(ev Event) error {
	switch e := ev.(type) {
	case Offer:
		_ = MarshalSDP(e.SDP)
	case Answer:
		_ = MarshalSDP(e.SDP)
	default:
		return nil
	}
	l.got <- struct{}{}
	return nil
}
