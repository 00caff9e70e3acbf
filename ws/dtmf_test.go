package ws

import (
	"strings"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
)

// TestDTMFBetweenBrowsers: digits sent before the answer are dropped; after
// it they reach an extension client with callId and duration, never a
// plain MDN client, and a plain client may send them.
func TestDTMFBetweenBrowsers(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	alice, bob := h.login("alice", ext), h.login("bob", nil)
	offer := signalCall(t, alice, bob, map[string]any{"callId": "c1"})
	send(t, bob, map[string]any{"type": "dtmf", "target": "alice", "digits": "5"})
	expectNone(t, alice, "dtmf", 200*time.Millisecond) // not answered yet
	answerCall(t, bob, alice, offer)

	send(t, bob, map[string]any{"type": "dtmf", "target": "alice", "digits": "12#"})
	m := expect(t, alice, "dtmf")
	if m.Str("digits") != "12#" || m.Int("duration") != 100 || m.Str("name") != "bob" || m.Str("callId") != "c1" {
		t.Fatalf("dtmf %v", m)
	}
	send(t, alice, map[string]any{"type": "dtmf", "target": "bob", "digits": "9", "duration": 300})
	expectNone(t, bob, "dtmf", 300*time.Millisecond) // plain MDN client
	chatEcho(t, bob)
}

// TestDTMFToExtensionCallee: the callee opted in and gets the caller's
// digits with the duration asked for.
func TestDTMFToExtensionCallee(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	alice, bob := h.login("alice", nil), h.login("bob", ext)
	offer := signalCall(t, alice, bob, nil)
	answerCall(t, bob, alice, offer)
	send(t, alice, map[string]any{"type": "dtmf", "target": "bob", "digits": "*0D", "duration": 250})
	m := expect(t, bob, "dtmf")
	if m.Str("digits") != "*0D" || m.Int("duration") != 250 || m.Str("name") != "alice" || m.Str("callId") != offer.Str("callId") {
		t.Fatalf("dtmf %v", m)
	}
}

// TestDTMFRefused: bad dtmf messages get error 400 (ref dtmf), one for no
// call 481; the call goes on.
func TestDTMFRefused(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	alice, bob := h.login("alice", ext), h.login("bob", ext)
	offer := signalCall(t, alice, bob, nil)
	answerCall(t, bob, alice, offer)
	bad := []map[string]any{
		{"type": "dtmf", "target": "bob"},
		{"type": "dtmf", "target": "bob", "digits": ""},
		{"type": "dtmf", "target": "bob", "digits": "12E"},
		{"type": "dtmf", "target": "bob", "digits": strings.Repeat("1", 33)},
		{"type": "dtmf", "target": "bob", "digits": "1", "duration": 39},
		{"type": "dtmf", "target": "bob", "digits": "1", "duration": 6001},
		{"type": "dtmf", "target": "bob", "digits": "1", "duration": "100"},
		{"type": "dtmf", "target": "bob", "digits": 1},
		{"type": "dtmf", "target": "bob", "digits": "1", "volume": 10},
		{"type": "dtmf", "digits": "1"},
	}
	for _, msg := range bad {
		send(t, alice, msg)
		expectError(t, alice, 400, "dtmf")
	}
	send(t, alice, map[string]any{"type": "dtmf", "target": "carol", "digits": "1"})
	expectError(t, alice, 481, "dtmf")
	expectNone(t, bob, "dtmf", 200*time.Millisecond)
	send(t, alice, map[string]any{"type": "dtmf", "target": "bob", "digits": strings.Repeat("#", 32), "duration": 6000})
	if m := expect(t, bob, "dtmf"); m.Str("digits") != strings.Repeat("#", 32) || m.Int("duration") != 6000 {
		t.Fatalf("dtmf %v", m)
	}
}
