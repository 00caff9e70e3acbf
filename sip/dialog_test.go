package sip

import (
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
)

// TestInboundReinviteAndOptions: a SIP caller re-INVITEs (the offer goes to
// the browser side, its answer comes back in the 200), then sends OPTIONS
// inside the dialog, then BYE.
func TestInboundReinviteAndOptions(t *testing.T) {
	env := trustedEnv(t)
	uac := startSIPp(t, "uac_reinvite.xml", env.a.Addr(), "-s", "answer")
	callee := env.users.leg(t, "answer")
	uac.wait(t) // the 200 to the re-INVITE carried the browser's new answer
	if h := callee.expect(t, "hangup").(gateway.Hangup); h.Reason.Condition != gateway.CondSuccess {
		t.Errorf("hangup %+v", h.Reason)
	}
}

// answeredToSIP places a call to a SIPp UAS scenario and waits for its answer.
func answeredToSIP(t *testing.T, scenario string) (*testLeg, *gateway.Call, *sippProc) {
	t.Helper()
	env := newEnv(t, Config{Routes: []Route{loopbackRoute()}})
	uas := startSIPp(t, scenario, "")
	caller, call := placeToSIP(t, env, "sip:bob@"+uas.addr)
	expectAnswer(t, caller)
	return caller, call, uas
}

func reoffer(t *testing.T, caller *testLeg, call *gateway.Call) {
	t.Helper()
	if err := call.Post(caller, gateway.Offer{SDP: mustSDP(t, webrtcSDP("actpass", "ali2", 30002))}); err != nil {
		t.Fatal(err)
	}
}

// TestOutboundReinvite: the browser side re-offers; the SIP peer gets a
// re-INVITE and its answer comes back.
func TestOutboundReinvite(t *testing.T) {
	caller, call, uas := answeredToSIP(t, "uas_reinvite.xml")
	reoffer(t, caller, call)
	ans := caller.expect(t, "answer").(gateway.Answer)
	if u, _ := ans.SDP.MediaDescriptions[0].Attribute("ice-ufrag"); u != "sip2" {
		t.Errorf("re-answer ufrag %q, want sip2", u)
	}
	_ = call.Post(caller, gateway.Hangup{})
	uas.wait(t)
	waitDone(t, call)
}

// TestOutboundReinviteRefused: a 488 to our re-INVITE reaches the offerer
// as a Failure; the call goes on and ends normally.
func TestOutboundReinviteRefused(t *testing.T) {
	caller, call, uas := answeredToSIP(t, "uas_reinvite_488.xml")
	reoffer(t, caller, call)
	if f := caller.expect(t, "failure").(gateway.Failure); f.Code != 488 || f.Ref != "offer" {
		t.Errorf("failure %+v, want 488 offer", f)
	}
	_ = call.Post(caller, gateway.Hangup{})
	uas.wait(t)
	waitDone(t, call)
}

// TestOutboundReinviteGlare: a 491 to our re-INVITE is retried after the
// RFC 3261 back-off (2.1-4 s: we own the Call-ID).
func TestOutboundReinviteGlare(t *testing.T) {
	caller, call, uas := answeredToSIP(t, "uas_reinvite_491.xml")
	start := time.Now()
	reoffer(t, caller, call)
	caller.expect(t, "answer")
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("retried after %v, want >= 2.1 s", d)
	}
	_ = call.Post(caller, gateway.Hangup{})
	uas.wait(t)
	waitDone(t, call)
}

// TestOutboundSessionRefresh: a PBX refreshing the session (RFC 4028
// style) with its unchanged SDP, by re-INVITE and by UPDATE, gets our last
// SDP back; the caller sees no renegotiation, only the final hang-up.
func TestOutboundSessionRefresh(t *testing.T) {
	caller, call, uas := answeredToSIP(t, "uas_refresh.xml")
	h := caller.expect(t, "hangup").(gateway.Hangup)
	if h.Reason.Condition != gateway.CondSuccess {
		t.Errorf("hangup %+v, want success", h.Reason)
	}
	uas.wait(t)
	waitDone(t, call)
}
