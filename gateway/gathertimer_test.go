package gateway

import (
	"testing"
	"time"
)

// TestFlushedGatherDropsItsTimer: a flushed gather leaves no timer for
// the call's end to stop again, and a re-offer that gathers again gets a
// timer of its own that still fires.
func TestFlushedGatherDropsItsTimer(t *testing.T) {
	f := startCall(t, Config{GatherQuiet: 30 * time.Millisecond, GatherMax: time.Hour}, browserCaps, sipCaps,
		"chrome156_offer_audio_only.sdp")
	_ = f.call.Post(f.caller, EndOfCandidates{})
	nextAs[Offer](t, f.callee)
	_ = f.call.Post(f.callee, Answer{SDP: loadSDP(t, "chrome156_answer_recvonly_gathered.sdp")})
	nextAs[Answer](t, f.caller)
	// The re-offer is flushed by its quiet timer, a new one.
	_ = f.call.Post(f.caller, Offer{SDP: loadSDP(t, "chrome156_reoffer_hold_sendonly.sdp")})
	_ = f.call.Post(f.caller, Candidate{Mid: "0",
		Line: "candidate:1 1 udp 2113937151 127.0.0.1 5000 typ host generation 0"})
	nextAs[Offer](t, f.callee)
	_ = f.call.Post(f.caller, Hangup{})
	f.waitEnded(t)
	// Done is closed: the call's state is no longer written.
	for s, tmr := range f.call.st.gatherTmr {
		if tmr != nil {
			t.Errorf("side %d: gather timer kept after its flush", s)
		}
	}
}
