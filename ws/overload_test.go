package ws

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sigbridge/sigbridge/gateway"
)

// TestOfferShedWhenOverloaded: with one call in setup allowed, a second
// caller's video-offer gets `error` 503 and a hang-up at once (the first
// callee never answered); once the first call is answered, the second
// caller's next offer goes through.
func TestOfferShedWhenOverloaded(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{MaxCallsInSetup: 1, MaxQueueDelay: -1})
	alice, bob := h.login("alice", ext), h.login("bob", ext)
	carol, dave := h.login("carol", ext), h.login("dave", ext)
	offer := signalCall(t, alice, bob, nil) // in setup: bob does not answer yet

	send(t, carol, map[string]any{"type": "video-offer", "target": "dave",
		"sdp": map[string]any{"type": "offer", "sdp": offerSDP(t)}})
	m := expectError(t, carol, 503, "video-offer")
	if m.Str("reason") != gateway.CondConnectivityError {
		t.Errorf("reason %q, want %s", m.Str("reason"), gateway.CondConnectivityError)
	}
	if hu := expect(t, carol, "hang-up"); hu.Int("code") != 503 {
		t.Errorf("hang-up %v, want code 503", hu)
	}
	expectNone(t, dave, "video-offer", 200*time.Millisecond)
	if v := testutil.ToFloat64(h.metrics.CallsShed.WithLabelValues("ws", gateway.SignalCallsInSetup)); v != 1 {
		t.Errorf("sigbridge_calls_shed_total{ws,calls_in_setup} = %v, want 1", v)
	}

	answerCall(t, bob, alice, offer)
	signalCall(t, carol, dave, nil)
}

// TestShedOfferTrickleDropped: an offer shed at once gets its `error` 503
// and `hang-up`; the candidates and end-of-candidates the client had
// already sent for that callId are dropped without a 481 each, while a
// candidate for a callId never offered still gets its 481.
func TestShedOfferTrickleDropped(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{MaxCallsInSetup: 1, MaxQueueDelay: -1})
	alice, bob := h.login("alice", ext), h.login("bob", ext)
	carol := h.login("carol", ext)
	h.login("dave", ext)
	signalCall(t, alice, bob, nil) // in setup: bob does not answer

	send(t, carol, map[string]any{"type": "video-offer", "target": "dave", "callId": "shed1",
		"sdp": map[string]any{"type": "offer", "sdp": offerSDP(t)}})
	for range 3 {
		send(t, carol, map[string]any{"type": "new-ice-candidate", "target": "dave", "callId": "shed1",
			"candidate": candLine})
	}
	send(t, carol, map[string]any{"type": "new-ice-candidate", "target": "dave", "callId": "shed1", "candidate": nil})
	send(t, carol, map[string]any{"type": "new-ice-candidate", "target": "dave", "callId": "other", "candidate": candLine})
	expectError(t, carol, 503, "video-offer")
	if hu := expect(t, carol, "hang-up"); hu.Int("code") != 503 {
		t.Errorf("hang-up %v, want code 503", hu)
	}
	if m := expectError(t, carol, 481, "new-ice-candidate"); m.Str("callId") != "other" {
		t.Errorf("481 for callId %q, want only the one never offered (other)", m.Str("callId"))
	}
	expectNone(t, carol, "error", 200*time.Millisecond)
}
