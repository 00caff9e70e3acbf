package gateway

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

var (
	browserCaps = Caps{Trickle: true, MDNS: true}
	sipCaps     = Caps{}
)

type callFixture struct {
	gw     *Gateway
	call   *Call
	caller *testLeg
	callee *testLeg
}

func startCall(t *testing.T, cfg Config, callerCaps, calleeCaps Caps, offerFile string) callFixture {
	t.Helper()
	r := NewRouter()
	callee := newTestLeg("callee", calleeCaps)
	r.Handle(SchemeUser, fixedDialer(callee))
	gw := New(cfg, r, nil, NewMetrics(nil))
	caller := newTestLeg("caller", callerCaps)
	call, err := gw.Place(context.Background(), PlaceRequest{Caller: caller, From: "alice", Target: "bob",
		Offer: loadSDP(t, offerFile)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { call.Hangup(ReasonShutdown); <-call.Done() })
	return callFixture{gw: gw, call: call, caller: caller, callee: callee}
}

func (f callFixture) waitEnded(t *testing.T) {
	t.Helper()
	select {
	case <-f.call.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("call did not end")
	}
	if n := f.gw.ActiveCalls(); n != 0 {
		t.Fatalf("%d calls still registered", n)
	}
}

func TestBrowserToBrowserRelaysUnchanged(t *testing.T) {
	f := startCall(t, Config{}, browserCaps, browserCaps, "chrome156_offer_av_dc_initial.sdp")
	offer := nextAs[Offer](t, f.callee)
	want := MarshalSDP(loadSDP(t, "chrome156_offer_av_dc_initial.sdp"))
	if got := MarshalSDP(offer.SDP); got != want {
		t.Fatalf("offer changed on the way:\n%s", got)
	}
	for _, c := range loadTrickle(t, "chrome156_trickle_offerer.json") {
		if err := f.call.Post(f.caller, c); err != nil {
			t.Fatal(err)
		}
		got := nextAs[Candidate](t, f.callee)
		if got.Line != c.Line || got.Mid != c.Mid {
			t.Fatalf("candidate changed: %+v", got)
		}
	}
	answerer := loadTrickle(t, "chrome156_trickle_answerer.json")
	// A candidate that beats the answer is held until the answer went out.
	_ = f.call.Post(f.callee, answerer[0])
	_ = f.call.Post(f.callee, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_initial.sdp")})
	nextAs[Answer](t, f.caller)
	if got := nextAs[Candidate](t, f.caller); got.Line != answerer[0].Line {
		t.Fatalf("held candidate: %+v", got)
	}
	_ = f.call.Post(f.caller, Hangup{})
	if h := nextAs[Hangup](t, f.callee); h.Reason != ReasonSuccess {
		t.Fatalf("hangup reason %+v, want success", h.Reason)
	}
	f.waitEnded(t)
	if v := testutil.ToFloat64(f.gw.metrics.Calls.WithLabelValues("caller", "callee", "answered", "false")); v != 1 {
		t.Fatalf("answered calls metric = %v", v)
	}
}

func TestHalfTrickleTowardSIPFlushesOnEnd(t *testing.T) {
	f := startCall(t, Config{GatherQuiet: time.Hour, GatherMax: time.Hour}, browserCaps, sipCaps,
		"chrome156_offer_av_dc_initial.sdp")
	f.callee.none(t, 50*time.Millisecond) // held while gathering
	cands := loadTrickle(t, "chrome156_trickle_offerer.json")
	for i, c := range cands {
		if i%2 == 1 { // make every second candidate a routable loopback host
			c.Line = strings.Replace(c.Line, strings.Fields(c.Line)[4], "127.0.0.1", 1)
		}
		_ = f.call.Post(f.caller, c)
	}
	f.callee.none(t, 50*time.Millisecond)
	_ = f.call.Post(f.caller, EndOfCandidates{})
	offer := nextAs[Offer](t, f.callee)
	text := MarshalSDP(offer.SDP)
	if strings.Contains(text, ".local") {
		t.Fatal("mDNS candidate reached a leg that cannot resolve it")
	}
	if strings.Contains(text, "trickle") {
		t.Fatal("ice-options:trickle left toward a non-trickling leg")
	}
	if strings.Contains(text, "candidate:candidate:") {
		t.Fatal("candidate prefix doubled in the folded SDP")
	}
	for i, m := range offer.SDP.MediaDescriptions {
		if got := len(candidates(m)); got != 1 {
			t.Errorf("m-line %d: %d candidates, want 1", i, got)
		}
		for _, c := range candidates(m) {
			if _, err := ParseCandidate("candidate:" + c); err != nil || strings.HasPrefix(c, "candidate:") {
				t.Errorf("m-line %d: folded candidate %q is not a valid attribute value", i, c)
			}
		}
		if _, ok := m.Attribute("end-of-candidates"); !ok {
			t.Errorf("m-line %d lacks end-of-candidates", i)
		}
		if m.ConnectionInformation.Address.Address != "127.0.0.1" || m.MediaName.Port.Value == 9 {
			t.Errorf("m-line %d default address %v port %d", i, m.ConnectionInformation.Address, m.MediaName.Port.Value)
		}
	}
	if !HasEndOfCandidates(offer.SDP) {
		t.Fatal("HasEndOfCandidates false on flushed SDP")
	}
	// Late candidates are dropped, not forwarded.
	_ = f.call.Post(f.caller, cands[1])
	f.callee.none(t, 50*time.Millisecond)
	// A complete SIP answer reaches the browser, followed by end-of-candidates.
	_ = f.call.Post(f.callee, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_gathered.sdp")})
	nextAs[Answer](t, f.caller)
	nextAs[EndOfCandidates](t, f.caller)
}

func TestHalfTrickleTimer(t *testing.T) {
	f := startCall(t, Config{GatherQuiet: 30 * time.Millisecond, GatherMax: time.Hour}, browserCaps, sipCaps,
		"chrome156_offer_audio_only.sdp")
	c := Candidate{Mid: "0", Line: "candidate:1 1 udp 2113937151 127.0.0.1 5000 typ host generation 0"}
	_ = f.call.Post(f.caller, c)
	offer := nextAs[Offer](t, f.callee) // no end signalled: the quiet timer sends it
	if got := candidates(offer.SDP.MediaDescriptions[0]); len(got) != 1 {
		t.Fatalf("candidates %v", got)
	}
}

func TestHalfTrickleCapWithoutCandidates(t *testing.T) {
	f := startCall(t, Config{GatherQuiet: time.Hour, GatherMax: 30 * time.Millisecond}, browserCaps, sipCaps,
		"chrome156_offer_audio_only.sdp")
	offer := nextAs[Offer](t, f.callee)
	m := offer.SDP.MediaDescriptions[0]
	if m.MediaName.Port.Value != 9 || m.ConnectionInformation.Address.Address != "0.0.0.0" {
		t.Fatalf("no-candidate default: port %d addr %v", m.MediaName.Port.Value, m.ConnectionInformation.Address)
	}
}

func TestGatheredOfferFilteredForSIP(t *testing.T) {
	f := startCall(t, Config{GatherMax: 30 * time.Millisecond}, browserCaps, sipCaps, "chrome156_offer_av_dc_gathered.sdp")
	offer := nextAs[Offer](t, f.callee)
	for i, m := range offer.SDP.MediaDescriptions {
		if n := len(candidates(m)); n != 0 {
			t.Errorf("m-line %d kept %d mDNS candidates", i, n)
		}
	}
	if v := testutil.ToFloat64(f.gw.metrics.CandidatesDropped.WithLabelValues("mdns")); v < 1 {
		t.Fatalf("mdns drop not counted")
	}
}

func TestStaleUfragDropped(t *testing.T) {
	f := startCall(t, Config{GatherQuiet: time.Hour, GatherMax: time.Hour}, browserCaps, sipCaps,
		"chrome156_offer_audio_only.sdp")
	_ = f.call.Post(f.caller, Candidate{Mid: "0", Ufrag: "stale",
		Line: "candidate:1 1 udp 2113937151 127.0.0.1 5000 typ host generation 0 ufrag stale"})
	_ = f.call.Post(f.caller, EndOfCandidates{})
	offer := nextAs[Offer](t, f.callee)
	if got := candidates(offer.SDP.MediaDescriptions[0]); len(got) != 0 {
		t.Fatalf("stale candidate kept: %v", got)
	}
}

func TestTeardown(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		act        func(f callFixture)
		callerGets *Reason // nil: the caller acted
		calleeGets *Reason
		outcome    string
	}{
		{name: "caller cancels", act: func(f callFixture) { _ = f.call.Post(f.caller, Hangup{}) },
			calleeGets: &ReasonCancel, outcome: CondCancel},
		{name: "callee declines", act: func(f callFixture) { _ = f.call.Post(f.callee, Hangup{}) },
			callerGets: &Reason{Condition: CondDecline, Code: 603}, outcome: CondDecline},
		{name: "callee busy", act: func(f callFixture) {
			_ = f.call.Post(f.callee, Hangup{Reason: Reason{Condition: CondBusy, Code: 486}})
		}, callerGets: &Reason{Condition: CondBusy, Code: 486}, outcome: CondBusy},
		{name: "ring timeout", cfg: Config{RingTimeout: 50 * time.Millisecond}, act: func(callFixture) {},
			callerGets: &ReasonRingTimeout, calleeGets: &ReasonRingTimeout, outcome: CondTimeout},
		{name: "callee vanishes", act: func(f callFixture) {
			f.callee.setFail()
			_ = f.call.Post(f.caller, Candidate{Mid: "0", Line: "candidate:1 1 udp 1 127.0.0.1 9 typ host"})
		}, callerGets: &ReasonDisconnected, outcome: CondConnectivityError},
		{name: "shutdown", act: func(f callFixture) { f.call.Hangup(ReasonShutdown) },
			callerGets: &ReasonShutdown, calleeGets: &ReasonShutdown, outcome: CondGeneralError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startCall(t, tt.cfg, browserCaps, browserCaps, "chrome156_offer_audio_only.sdp")
			nextAs[Offer](t, f.callee)
			tt.act(f)
			if tt.callerGets != nil {
				if h := nextAs[Hangup](t, f.caller); h.Reason != *tt.callerGets {
					t.Errorf("caller got %+v, want %+v", h.Reason, *tt.callerGets)
				}
			}
			if tt.calleeGets != nil {
				if h := nextAs[Hangup](t, f.callee); h.Reason != *tt.calleeGets {
					t.Errorf("callee got %+v, want %+v", h.Reason, *tt.calleeGets)
				}
			}
			f.waitEnded(t)
			if err := f.call.Post(f.caller, Hangup{}); !errors.Is(err, ErrCallEnded) {
				t.Errorf("post after end: %v", err)
			}
			if v := testutil.ToFloat64(f.gw.metrics.Calls.WithLabelValues("caller", "callee", tt.outcome, "false")); v != 1 {
				t.Errorf("outcome %q not counted", tt.outcome)
			}
		})
	}
}

func TestGlareAndOutOfOrderRefused(t *testing.T) {
	f := startCall(t, Config{}, browserCaps, browserCaps, "chrome156_offer_audio_only.sdp")
	nextAs[Offer](t, f.callee)
	_ = f.call.Post(f.callee, Offer{SDP: loadSDP(t, "chrome156_offer_audio_only.sdp")})
	if fl := nextAs[Failure](t, f.callee); fl.Code != 409 || fl.Ref != "offer" {
		t.Fatalf("crossing offer: %+v", fl)
	}
	_ = f.call.Post(f.caller, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_initial.sdp")})
	if fl := nextAs[Failure](t, f.caller); fl.Code != 400 || fl.Ref != "answer" {
		t.Fatalf("answer without offer: %+v", fl)
	}
	// The call still works: answer, then a re-offer from the callee.
	_ = f.call.Post(f.callee, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_initial.sdp")})
	nextAs[Answer](t, f.caller)
	_ = f.call.Post(f.callee, Offer{SDP: loadSDP(t, "chrome156_reoffer_hold_sendonly.sdp")})
	nextAs[Offer](t, f.caller)
}

func TestTrickleLimit(t *testing.T) {
	f := startCall(t, Config{MaxTrickled: 2}, browserCaps, browserCaps, "chrome156_offer_audio_only.sdp")
	nextAs[Offer](t, f.callee)
	c := Candidate{Mid: "0", Line: "candidate:1 1 udp 1 127.0.0.1 9 typ host"}
	for i := 0; i < 3; i++ {
		_ = f.call.Post(f.caller, c)
	}
	nextAs[Candidate](t, f.callee)
	nextAs[Candidate](t, f.callee)
	if fl := nextAs[Failure](t, f.caller); fl.Code != 413 {
		t.Fatalf("over limit: %+v", fl)
	}
}

func TestPlaceErrors(t *testing.T) {
	r := NewRouter()
	r.Handle(SchemeUser, DialerFunc(func(_ context.Context, req DialRequest) (Leg, error) {
		if req.Target.User == "ghost" {
			return nil, ErrNotFound
		}
		return newTestLeg("callee", browserCaps), nil
	}))
	gw := New(Config{MaxCallsPerUser: 1}, r, nil, nil)
	offer := loadSDP(t, "chrome156_offer_audio_only.sdp")
	place := func(from, target string) error {
		_, err := gw.Place(context.Background(), PlaceRequest{Caller: newTestLeg("c", browserCaps), From: from,
			Target: target, Offer: offer})
		return err
	}
	for _, tt := range []struct {
		from, target string
		want         error
	}{
		{"alice", "ghost", ErrNotFound},
		{"alice", "alice", ErrSelfCall},
		{"alice", "sip:x@example.org", ErrForbidden},
		{"alice", "bad target", ErrBadTarget},
	} {
		if err := place(tt.from, tt.target); !errors.Is(err, tt.want) {
			t.Errorf("%s -> %s: %v, want %v", tt.from, tt.target, err, tt.want)
		}
	}
	if err := place("alice", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := place("alice", "carol"); !errors.Is(err, ErrTooManyCalls) {
		t.Fatalf("second call over cap: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	gw.Drain(ctx)
	if n := gw.ActiveCalls(); n != 0 {
		t.Fatalf("drain left %d calls", n)
	}
	if err := place("dave", "bob"); !errors.Is(err, ErrDraining) {
		t.Fatalf("place while draining: %v", err)
	}
}

type panicLeg struct{ *testLeg }

func (panicLeg) Deliver(Event) error { panic("boom") }

func TestLegPanicEndsOnlyThatCall(t *testing.T) {
	r := NewRouter()
	r.Handle(SchemeUser, fixedDialer(panicLeg{newTestLeg("callee", browserCaps)}))
	m := NewMetrics(nil)
	gw := New(Config{}, r, nil, m)
	caller := newTestLeg("caller", browserCaps)
	call, err := gw.Place(context.Background(), PlaceRequest{Caller: caller, From: "alice", Target: "bob",
		Offer: loadSDP(t, "chrome156_offer_audio_only.sdp")})
	if err != nil {
		t.Fatal(err)
	}
	if h := nextAs[Hangup](t, caller); h.Reason != ReasonDisconnected {
		t.Fatalf("caller got %+v", h.Reason)
	}
	<-call.Done()
	if testutil.ToFloat64(m.Panics) < 1 {
		t.Fatal("panic not counted")
	}
}

// TestRefusedReofferWithdrawn: a leg refuses the re-offer it was delivered
// (its SIP peer answered the re-INVITE 488); the offerer gets the Failure
// and may offer again without glare.
func TestRefusedReofferWithdrawn(t *testing.T) {
	f := startCall(t, Config{}, browserCaps, browserCaps, "chrome156_offer_audio_only.sdp")
	nextAs[Offer](t, f.callee)
	_ = f.call.Post(f.callee, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_initial.sdp")})
	nextAs[Answer](t, f.caller)
	_ = f.call.Post(f.caller, Offer{SDP: loadSDP(t, "chrome156_reoffer_hold_sendonly.sdp")})
	nextAs[Offer](t, f.callee)
	_ = f.call.Post(f.callee, Failure{Code: 488, Reason: CondIncompatibleParameters, Ref: "offer"})
	if fl := nextAs[Failure](t, f.caller); fl.Code != 488 || fl.Ref != "offer" {
		t.Fatalf("refused re-offer: %+v", fl)
	}
	_ = f.call.Post(f.caller, Offer{SDP: loadSDP(t, "chrome156_reoffer_hold_sendonly.sdp")})
	nextAs[Offer](t, f.callee)
}

// TestUnansweredReofferWithdrawn: a re-offer the other leg never answers is
// withdrawn with a 408 Failure, and the next offer is not glare.
func TestUnansweredReofferWithdrawn(t *testing.T) {
	f := startCall(t, Config{OfferTimeout: 50 * time.Millisecond}, browserCaps, browserCaps, "chrome156_offer_audio_only.sdp")
	nextAs[Offer](t, f.callee)
	_ = f.call.Post(f.callee, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_initial.sdp")})
	nextAs[Answer](t, f.caller)
	_ = f.call.Post(f.caller, Offer{SDP: loadSDP(t, "chrome156_reoffer_hold_sendonly.sdp")})
	nextAs[Offer](t, f.callee)
	if fl := nextAs[Failure](t, f.caller); fl.Code != 408 || fl.Ref != "offer" {
		t.Fatalf("unanswered re-offer: %+v", fl)
	}
	_ = f.call.Post(f.callee, Offer{SDP: loadSDP(t, "chrome156_reoffer_hold_sendonly.sdp")})
	nextAs[Offer](t, f.caller)
	_ = f.call.Post(f.caller, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_initial.sdp")})
	nextAs[Answer](t, f.callee)
	f.callee.none(t, 150*time.Millisecond) // an answered re-offer never times out
	f.caller.none(t, 10*time.Millisecond)
}

func TestHangupGetsDefaultCode(t *testing.T) {
	f := startCall(t, Config{}, browserCaps, browserCaps, "chrome156_offer_audio_only.sdp")
	nextAs[Offer](t, f.callee)
	_ = f.call.Post(f.callee, Hangup{Reason: Reason{Condition: CondBusy}})
	if h := nextAs[Hangup](t, f.caller); h.Reason.Code != 486 || h.Reason.Condition != CondBusy {
		t.Fatalf("busy without code reached the caller as %+v", h.Reason)
	}
}

func TestOfferWithoutMediaRefused(t *testing.T) {
	r := NewRouter()
	r.Handle(SchemeUser, fixedDialer(newTestLeg("callee", browserCaps)))
	gw := New(Config{}, r, nil, nil)
	empty := loadSDP(t, "chrome156_offer_audio_only.sdp")
	empty.MediaDescriptions = nil
	_, err := gw.Place(context.Background(), PlaceRequest{Caller: newTestLeg("c", browserCaps), From: "alice",
		Target: "bob", Offer: empty})
	if code, _ := Status(err); !errors.Is(err, ErrBadSDP) || code != 488 {
		t.Fatalf("offer without m-lines: %v", err)
	}
	f := startCall(t, Config{}, browserCaps, browserCaps, "chrome156_offer_audio_only.sdp")
	nextAs[Offer](t, f.callee)
	_ = f.call.Post(f.callee, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_initial.sdp")})
	nextAs[Answer](t, f.caller)
	_ = f.call.Post(f.caller, Offer{SDP: empty})
	if fl := nextAs[Failure](t, f.caller); fl.Code != 488 || fl.Ref != "offer" {
		t.Fatalf("re-offer without m-lines: %+v", fl)
	}
}

// TestDTMFRelayedOnceAnswered: digits before the answer are dropped, after
// it they reach the other leg both ways, unchanged.
func TestDTMFRelayedOnceAnswered(t *testing.T) {
	f := startCall(t, Config{}, browserCaps, browserCaps, "chrome156_offer_audio_only.sdp")
	nextAs[Offer](t, f.callee)
	_ = f.call.Post(f.caller, DTMF{Digits: "1", Duration: 100 * time.Millisecond})
	_ = f.call.Post(f.callee, DTMF{Digits: "2", Duration: 100 * time.Millisecond})
	f.callee.none(t, 100*time.Millisecond)
	f.caller.none(t, 100*time.Millisecond)
	_ = f.call.Post(f.callee, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_initial.sdp")})
	nextAs[Answer](t, f.caller)
	want := DTMF{Digits: "12#", Duration: 250 * time.Millisecond}
	_ = f.call.Post(f.caller, want)
	if got := nextAs[DTMF](t, f.callee); got != want {
		t.Fatalf("callee got %+v, want %+v", got, want)
	}
	back := DTMF{Digits: "9", Duration: 100 * time.Millisecond}
	_ = f.call.Post(f.callee, back)
	if got := nextAs[DTMF](t, f.caller); got != back {
		t.Fatalf("caller got %+v, want %+v", got, back)
	}
}

// TestForwardedCandidateLine: a candidate forwarded as it came is the
// event the leg posted; one with an "a=" prefix goes on without it.
func TestForwardedCandidateLine(t *testing.T) {
	f := startCall(t, Config{}, browserCaps, browserCaps, "chrome156_offer_audio_only.sdp")
	nextAs[Offer](t, f.callee)
	const line = "candidate:1 1 udp 1 127.0.0.1 9 typ host"
	for _, in := range []string{line, "a=" + line} {
		_ = f.call.Post(f.caller, Candidate{Mid: "0", Line: in, Ufrag: "u"})
		if got := nextAs[Candidate](t, f.callee); got != (Candidate{Mid: "0", Line: line, Ufrag: "u"}) {
			t.Fatalf("%q forwarded as %+v", in, got)
		}
	}
}

// TestGathererDropReasons: the candidates the gatherer drops come back as
// errDropped with the reason the metric is labelled with.
func TestGathererDropReasons(t *testing.T) {
	sd := loadSDP(t, "chrome156_offer_audio_only.sdp")
	g := newGatherer(sd, true, true)
	ufrag := MediaUfrag(sd, 0)
	for _, tc := range []struct {
		c   Candidate
		why string
	}{
		{Candidate{Mid: "nope", MLineIndex: 7, Line: "candidate:1 1 udp 1 127.0.0.1 9 typ host"}, "unknown m-line"},
		{Candidate{MLineIndex: 0, Line: "candidate:1 1 udp 1 x.local 9 typ host", Ufrag: ufrag}, "mdns"},
		{Candidate{MLineIndex: 0, Line: "candidate:1 1 udp 1 127.0.0.1 9 typ host", Ufrag: ufrag + "x"}, "stale-ufrag"},
	} {
		d, ok := errors.AsType[errDropped](g.add(tc.c))
		if !ok || d.why != tc.why {
			t.Errorf("%+v: %v, want dropped for %s", tc.c, d, tc.why)
		}
	}
	if err := g.add(Candidate{MLineIndex: 0, Line: "candidate:1 1 udp 1 127.0.0.1 9 typ host", Ufrag: ufrag}); err != nil {
		t.Fatalf("a good candidate: %v", err)
	}
}
