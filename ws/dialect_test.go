package ws

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/ws/wstest"
)

func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func offerSDP(t testing.TB) string  { return fixture(t, "chrome156_offer_av_dc_initial.sdp") }
func answerSDP(t testing.TB) string { return fixture(t, "chrome156_answer_recvonly_initial.sdp") }

// signalCall has from call to (MDN forms, signaling only, fixtures as SDP)
// and returns the video-offer the callee received. extra fields go into
// the video-offer (e.g. callId).
func signalCall(t *testing.T, from, to *wstest.Client, extra map[string]any) wstest.Message {
	t.Helper()
	msg := map[string]any{"type": "video-offer", "name": from.Name, "target": to.Name,
		"sdp": map[string]any{"type": "offer", "sdp": offerSDP(t)}}
	for k, v := range extra {
		msg[k] = v
	}
	send(t, from, msg)
	return expect(t, to, "video-offer")
}

// answerCall answers offer (as received by callee) with the answer fixture
// and returns the video-answer the caller received.
func answerCall(t *testing.T, callee, caller *wstest.Client, offer wstest.Message) wstest.Message {
	t.Helper()
	msg := map[string]any{"type": "video-answer", "name": callee.Name, "target": offer.Str("name"),
		"sdp": map[string]any{"type": "answer", "sdp": answerSDP(t)}}
	if id := offer.Str("callId"); id != "" {
		msg["callId"] = id
	}
	send(t, callee, msg)
	return expect(t, caller, "video-answer")
}

// chatEcho checks that c's connection still works: its chat comes back.
func chatEcho(t *testing.T, c *wstest.Client) {
	t.Helper()
	text := "still here " + strconv.FormatInt(time.Now().UnixNano(), 10)
	send(t, c, map[string]any{"type": "message", "text": text, "id": c.ID, "date": time.Now().UnixMilli()})
	if _, err := c.Expect(ctxT(t), func(m wstest.Message) bool { return m.Type() == "message" && m.Str("text") == text }); err != nil {
		t.Fatalf("%s: connection no longer works: %v", c.Name, err)
	}
}

func TestGreeting(t *testing.T) {
	ice := []ICEServer{{URLs: []string{"stun:stun.example.org:3478"}},
		{URLs: []string{"turn:turn.example.org"}}}
	h := newHarness(t, Config{ICEServers: ice}, gateway.Config{})
	c := h.dial(nil)
	m := expect(t, c, "id")
	if m.Int("id") <= 0 {
		t.Fatalf("id %v", m)
	}
	servers, _ := m["iceServers"].([]any)
	if len(servers) != 2 || servers[1].(map[string]any)["urls"].([]any)[0] != "turn:turn.example.org" {
		t.Fatalf("iceServers %v", m["iceServers"])
	}
	if c.Conn.Subprotocol() != Subprotocol {
		t.Fatalf("subprotocol %q", c.Conn.Subprotocol())
	}
	// Extension clients get ice-servers again after login; MDN clients do not.
	c.Name = "alice"
	send(t, c, map[string]any{"type": "username", "name": "alice", "date": 1, "id": m.Int("id"), "features": []string{"callId"}})
	if got := expect(t, c, "ice-servers"); len(got["iceServers"].([]any)) != 2 {
		t.Fatalf("ice-servers %v", got)
	}
	plain := h.login("bob", nil)
	expectNone(t, plain, "ice-servers", 200*time.Millisecond)
}

func TestNoSubprotocol(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	c := h.dial(&wstest.Options{NoSubprotocol: true})
	if c.Conn.Subprotocol() != "" {
		t.Fatalf("subprotocol %q", c.Conn.Subprotocol())
	}
	if _, err := c.Login(ctxT(t), "alice", nil); err != nil {
		t.Fatal(err)
	}
}

func TestUsername(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	alice := h.login("alice", nil)

	// A taken name is altered (MDN): rejectusername carries the new name.
	second := h.dial(nil)
	got, err := second.Login(ctxT(t), "alice", nil)
	if err != nil || got != "alice1" {
		t.Fatalf("second alice got %q, %v", got, err)
	}
	if _, err := alice.Expect(ctxT(t), func(m wstest.Message) bool {
		return m.Type() == "userlist" && slices.Equal(m.Strings("users"), []string{"alice", "alice1"})
	}); err != nil {
		t.Fatal("alice did not get the new userlist")
	}

	// An invalid name is replaced by an assigned one.
	bad := h.dial(nil)
	got, err = bad.Login(ctxT(t), "<b>evil</b>", nil)
	if err != nil || got != "user"+strconv.Itoa(bad.ID) {
		t.Fatalf("invalid name got %q, %v", got, err)
	}

	// Renaming frees the old name; leaving removes the name.
	send(t, second, map[string]any{"type": "username", "name": "carol", "id": second.ID, "date": 1})
	waitUserlist(t, alice, []string{"alice", "carol", got})
	_ = second.Close()
	waitUserlist(t, alice, []string{"alice", got})
}

func waitUserlist(t *testing.T, c *wstest.Client, want []string) {
	t.Helper()
	slices.Sort(want)
	if _, err := c.Expect(ctxT(t), func(m wstest.Message) bool {
		return m.Type() == "userlist" && slices.Equal(m.Strings("users"), want)
	}); err != nil {
		t.Fatalf("%s: no userlist %v: %v", c.Name, want, err)
	}
}

func TestRenameDuringCallRefused(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	alice, bob := h.login("alice", nil), h.login("bob", nil)
	signalCall(t, alice, bob, nil)
	send(t, alice, map[string]any{"type": "username", "name": "mallory"})
	expectError(t, alice, 409, "username")
}

func TestNameIsOverwritten(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	alice, bob := h.login("alice", nil), h.login("bob", nil)

	send(t, alice, map[string]any{"type": "message", "name": "admin", "text": `<b>hi</b> <img src=x onerror=alert(1)`, "id": 999, "date": 1})
	for _, c := range []*wstest.Client{alice, bob} {
		m := expect(t, c, "message")
		if m.Str("name") != "alice" || m.Str("text") != "hi img src=x onerror=alert(1)" || m.Int("id") != alice.ID {
			t.Fatalf("chat relayed as %v", m)
		}
	}

	offer := signalCall(t, alice, bob, map[string]any{"name": "admin"})
	if offer.Str("name") != "alice" || offer.Str("target") != "bob" {
		t.Fatalf("video-offer relayed as name=%q target=%q", offer.Str("name"), offer.Str("target"))
	}
	answer := answerCall(t, bob, alice, offer)
	if answer.Str("name") != "bob" || answer.Str("target") != "alice" {
		t.Fatalf("video-answer relayed as name=%q target=%q", answer.Str("name"), answer.Str("target"))
	}
}

func TestSDPForms(t *testing.T) {
	offer := fixture(t, "chrome156_offer_av_dc_initial.sdp")
	cases := []struct {
		name string
		sdp  any
		code int // 0: relayed
	}{
		{"object (MDN code)", map[string]any{"type": "offer", "sdp": offer}, 0},
		{"string (MDN prose)", offer, 0},
		{"object of the wrong type", map[string]any{"type": "answer", "sdp": offer}, 400},
		{"object with an extra field", map[string]any{"type": "offer", "sdp": offer, "x": 1}, 400},
		{"object without sdp", map[string]any{"type": "offer"}, 400},
		{"number", 42, 400},
		{"null", nil, 400},
		{"not SDP", "hello", 488},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{}, gateway.Config{})
			alice, bob := h.login("alice", nil), h.login("bob", nil)
			send(t, alice, map[string]any{"type": "video-offer", "name": "alice", "target": "bob", "sdp": tc.sdp})
			if tc.code != 0 {
				expectError(t, alice, tc.code, "video-offer")
				expectNone(t, bob, "video-offer", 100*time.Millisecond)
				return
			}
			m := expect(t, bob, "video-offer")
			sdp := m.Obj("sdp")
			if sdp.Str("type") != "offer" || sdp.Str("sdp") != offer {
				t.Fatalf("relayed sdp is not the offer object, byte for byte: %v", m["sdp"])
			}
		})
	}
}

func TestAnswerForms(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	alice, bob := h.login("alice", nil), h.login("bob", nil)
	signalCall(t, alice, bob, nil)
	// The string form of video-answer, relayed as an object.
	send(t, bob, map[string]any{"type": "video-answer", "name": "bob", "target": "alice", "sdp": answerSDP(t)})
	m := expect(t, alice, "video-answer")
	if m.Obj("sdp").Str("type") != "answer" || m.Obj("sdp").Str("sdp") != answerSDP(t) {
		t.Fatalf("answer relayed as %v", m["sdp"])
	}
}

const candLine = "candidate:1383569927 1 udp 2113937151 0425cf8c-f798-4d10-b411-2069fd65313c.local 55397 typ host generation 0 ufrag 4oUU network-cost 999"

func TestCandidateForms(t *testing.T) {
	mid := func(s string) *string { return &s }
	cases := []struct {
		name      string
		msg       map[string]any
		wantMid   *string // nil: the callee gets end-of-candidates (extension) or nothing (MDN)
		wantIndex int
		wantLine  string
		eocMid    string
	}{
		{name: "object (toJSON)", msg: map[string]any{"candidate": map[string]any{"candidate": candLine, "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "4oUU"}},
			wantMid: mid("0"), wantIndex: 0, wantLine: candLine},
		{name: "object with nulls", msg: map[string]any{"candidate": map[string]any{"candidate": candLine, "sdpMid": "1", "sdpMLineIndex": nil, "usernameFragment": nil}},
			wantMid: mid("1"), wantIndex: 1, wantLine: candLine},
		{name: "object with index only", msg: map[string]any{"candidate": map[string]any{"candidate": candLine, "sdpMLineIndex": 2}},
			wantMid: mid("2"), wantIndex: 2, wantLine: candLine},
		{name: "string with siblings", msg: map[string]any{"candidate": candLine, "sdpMid": "1", "sdpMLineIndex": 1},
			wantMid: mid("1"), wantIndex: 1, wantLine: candLine},
		{name: "string with a= and mid only", msg: map[string]any{"candidate": "a=" + candLine, "sdpMid": "2"},
			wantMid: mid("2"), wantIndex: 2, wantLine: candLine},
		{name: "bare string: m-line 0", msg: map[string]any{"candidate": candLine},
			wantMid: mid("0"), wantIndex: 0, wantLine: candLine},
		{name: "empty string: end of one m-line", msg: map[string]any{"candidate": map[string]any{"candidate": "", "sdpMid": "1", "sdpMLineIndex": 1}},
			eocMid: "1"},
		{name: "null: end of all", msg: map[string]any{"candidate": nil}},
	}
	for _, tc := range cases {
		for _, calleeExt := range []bool{false, true} {
			t.Run(tc.name+"/callee extensions "+strconv.FormatBool(calleeExt), func(t *testing.T) {
				h := newHarness(t, Config{}, gateway.Config{})
				var features map[string]any
				if calleeExt {
					features = ext
				}
				alice, bob := h.login("alice", nil), h.login("bob", features)
				offer := signalCall(t, alice, bob, nil)
				msg := map[string]any{"type": "new-ice-candidate", "target": "bob"}
				for k, v := range tc.msg {
					msg[k] = v
				}
				send(t, alice, msg)
				if tc.wantMid == nil {
					checkEndOfCandidates(t, bob, calleeExt, tc.eocMid, offer.Str("callId"))
					return
				}
				checkCandidate(t, expect(t, bob, "new-ice-candidate"), *tc.wantMid, tc.wantIndex, tc.wantLine)
			})
		}
	}
}

func checkCandidate(t *testing.T, m wstest.Message, mid string, index int, line string) {
	t.Helper()
	c := m.Obj("candidate")
	if m.Str("name") != "alice" || c == nil || !c.Has("sdpMid") || !c.Has("sdpMLineIndex") {
		t.Fatalf("candidate relayed as %v", m)
	}
	if c.Str("sdpMid") != mid || c.Int("sdpMLineIndex") != index || c.Str("candidate") != line || c.Str("usernameFragment") != "4oUU" {
		t.Fatalf("candidate relayed as %v, want mid %s index %d", c, mid, index)
	}
}

func checkEndOfCandidates(t *testing.T, bob *wstest.Client, calleeExt bool, mid, callID string) {
	t.Helper()
	if !calleeExt {
		expectNone(t, bob, "end-of-candidates", 150*time.Millisecond)
		expectNone(t, bob, "new-ice-candidate", 10*time.Millisecond)
		return
	}
	m := expect(t, bob, "end-of-candidates")
	if m.Str("sdpMid") != mid || m.Str("callId") != callID || callID == "" || m.Str("name") != "alice" {
		t.Fatalf("end-of-candidates %v, want sdpMid %q callId %q", m, mid, callID)
	}
}

func TestCandidateRejections(t *testing.T) {
	cases := []struct {
		name string
		msg  map[string]any
	}{
		{"number", map[string]any{"candidate": 5}},
		{"not a candidate line", map[string]any{"candidate": "hello"}},
		{"candidate line that does not parse", map[string]any{"candidate": "candidate:1 1 udp"}},
		{"object without candidate", map[string]any{"candidate": map[string]any{"sdpMid": "0"}}},
		{"object with unknown field", map[string]any{"candidate": map[string]any{"candidate": candLine, "foo": 1}}},
		{"object plus siblings", map[string]any{"candidate": map[string]any{"candidate": candLine}, "sdpMid": "0"}},
		{"index as string", map[string]any{"candidate": candLine, "sdpMLineIndex": "0"}},
		{"index out of range", map[string]any{"candidate": candLine, "sdpMLineIndex": 99}},
		{"negative index", map[string]any{"candidate": candLine, "sdpMLineIndex": -1}},
		{"mid as number", map[string]any{"candidate": candLine, "sdpMid": 0}},
	}
	h := newHarness(t, Config{}, gateway.Config{})
	alice, bob := h.login("alice", nil), h.login("bob", nil)
	signalCall(t, alice, bob, nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := map[string]any{"type": "new-ice-candidate", "target": "bob"}
			for k, v := range tc.msg {
				msg[k] = v
			}
			send(t, alice, msg)
			expectError(t, alice, 400, "new-ice-candidate")
		})
	}
	expectNone(t, bob, "new-ice-candidate", 100*time.Millisecond)
}

func TestCandidateForUnknownCall(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	alice := h.login("alice", nil)
	h.login("bob", nil)
	send(t, alice, map[string]any{"type": "new-ice-candidate", "target": "bob", "candidate": candLine})
	expectError(t, alice, 481, "new-ice-candidate")
}

func TestReoffer(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	alice, bob := h.login("alice", nil), h.login("bob", nil)
	offer := signalCall(t, alice, bob, nil)

	// A second video-offer before the answer crosses the first: 409.
	send(t, alice, map[string]any{"type": "video-offer", "target": "bob", "sdp": offerSDP(t)})
	expectError(t, alice, 409, "video-offer")

	answerCall(t, bob, alice, offer)
	// After the answer, a video-offer to the same target is a re-offer on
	// the same call (renegotiation), in both directions.
	hold := fixture(t, "chrome156_offer_av_dc_initial.sdp")
	send(t, alice, map[string]any{"type": "video-offer", "target": "bob", "sdp": hold})
	re := expect(t, bob, "video-offer")
	answerCall(t, bob, alice, re)
	send(t, bob, map[string]any{"type": "video-offer", "target": "alice", "sdp": offerSDP(t)})
	expect(t, alice, "video-offer")
	if n := h.gw.ActiveCalls(); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
}

func TestCallIDExtension(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	alice, bob := h.login("alice", ext), h.login("bob", ext)
	o1 := signalCall(t, alice, bob, map[string]any{"callId": "c1"})
	o2 := signalCall(t, alice, bob, map[string]any{"callId": "c2"})
	id1, id2 := o1.Str("callId"), o2.Str("callId")
	if id1 == "" || id2 == "" || id1 == id2 || id1 == "c1" {
		t.Fatalf("callee callIds %q %q: want two distinct gateway-chosen ids", id1, id2)
	}
	if n := h.gw.ActiveCalls(); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
	// Answers find their call by callId; the caller sees its own callIds.
	a2 := answerCall(t, bob, alice, o2)
	a1 := answerCall(t, bob, alice, o1)
	if a1.Str("callId") != "c1" || a2.Str("callId") != "c2" {
		t.Fatalf("answers carry callIds %q %q", a1.Str("callId"), a2.Str("callId"))
	}
	// Without callId the target is ambiguous now.
	send(t, alice, map[string]any{"type": "hang-up", "target": "bob"})
	expectError(t, alice, 400, "hang-up")
	// A callId that names another peer's call is refused.
	carol := h.login("carol", nil)
	_ = carol
	send(t, alice, map[string]any{"type": "hang-up", "target": "carol", "callId": "c1"})
	expectError(t, alice, 400, "hang-up")
	// The same callId for a new call to someone else is in use.
	send(t, alice, map[string]any{"type": "video-offer", "target": "carol", "callId": "c1", "sdp": offerSDP(t)})
	expectError(t, alice, 400, "video-offer")
	// end-of-candidates (extension message) with callId only.
	send(t, alice, map[string]any{"type": "end-of-candidates", "callId": "c2", "sdpMid": "0"})
	eoc := expect(t, bob, "end-of-candidates")
	if eoc.Str("callId") != id2 || eoc.Str("sdpMid") != "0" {
		t.Fatalf("end-of-candidates %v", eoc)
	}
	// Hanging up one call leaves the other.
	send(t, bob, map[string]any{"type": "hang-up", "callId": id1})
	hu := expect(t, alice, "hang-up")
	if hu.Str("callId") != "c1" || hu.Str("reason") != "success" {
		t.Fatalf("hang-up %v", hu)
	}
	waitFor(t, "one call left", func() bool { return h.gw.ActiveCalls() == 1 })
}

func TestMDNCalleeIsBusyForSecondCallFromSamePeer(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	alice, bob := h.login("alice", ext), h.login("bob", nil)
	signalCall(t, alice, bob, map[string]any{"callId": "c1"})
	send(t, alice, map[string]any{"type": "video-offer", "target": "bob", "callId": "c2", "sdp": offerSDP(t)})
	e := expectError(t, alice, 486, "video-offer")
	if e.Str("callId") != "c2" || e.Str("reason") != "busy" {
		t.Fatalf("error %v", e)
	}
	hu := expect(t, alice, "hang-up")
	if hu.Str("callId") != "c2" || hu.Int("code") != 486 {
		t.Fatalf("hang-up %v", hu)
	}
}

func TestRingingExtension(t *testing.T) {
	for _, callerExt := range []bool{true, false} {
		t.Run("caller extensions "+strconv.FormatBool(callerExt), func(t *testing.T) {
			h := newHarness(t, Config{}, gateway.Config{})
			var features map[string]any
			if callerExt {
				features = ext
			}
			alice, bob := h.login("alice", features), h.login("bob", ext)
			offer := signalCall(t, alice, bob, nil)
			send(t, bob, map[string]any{"type": "ringing", "callId": offer.Str("callId"), "target": "alice"})
			if !callerExt {
				expectNone(t, alice, "ringing", 200*time.Millisecond)
				return
			}
			m := expect(t, alice, "ringing")
			if m.Int("code") != 180 || m.Str("name") != "bob" {
				t.Fatalf("ringing %v", m)
			}
		})
	}
}

func TestHangupExtensions(t *testing.T) {
	cases := []struct {
		name       string
		msg        map[string]any
		wantReason string
		wantCode   int
		wantText   string
	}{
		{"plain hang-up before answer", map[string]any{"type": "hang-up"}, "decline", 603, ""},
		{"decline alias", map[string]any{"type": "decline"}, "decline", 603, ""},
		{"busy alias", map[string]any{"type": "busy", "text": "in a meeting"}, "busy", 486, "in a meeting"},
		{"reason, code and text", map[string]any{"type": "hang-up", "reason": "incompatible-parameters", "code": 488, "text": "no codec"},
			"incompatible-parameters", 488, "no codec"},
		{"code only", map[string]any{"type": "hang-up", "code": 486}, "busy", 486, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{}, gateway.Config{})
			alice, bob := h.login("alice", nil), h.login("bob", nil)
			signalCall(t, alice, bob, nil)
			msg := map[string]any{"target": "alice"}
			for k, v := range tc.msg {
				msg[k] = v
			}
			send(t, bob, msg)
			m := expect(t, alice, "hang-up")
			if m.Str("reason") != tc.wantReason || m.Int("code") != tc.wantCode || m.Str("text") != tc.wantText || m.Str("name") != "bob" {
				t.Fatalf("hang-up %v, want %s %d %q", m, tc.wantReason, tc.wantCode, tc.wantText)
			}
			waitFor(t, "call ended", func() bool { return h.gw.ActiveCalls() == 0 })
		})
	}
}

func TestStrictJSON(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		code int
		ref  string
	}{
		{"malformed", `{"type":"message",`, 400, ""},
		{"not an object", `["message"]`, 400, ""},
		{"a string", `"message"`, 400, ""},
		{"null", `null`, 400, ""},
		{"empty", ``, 400, ""},
		{"missing type", `{"text":"x"}`, 400, ""},
		{"type not a string", `{"type":5}`, 400, ""},
		{"duplicate key", `{"type":"message","text":"a","text":"b"}`, 400, "message"},
		{"case variant of type", `{"type":"hang-up","TYPE":"x","target":"bob"}`, 400, "hang-up"},
		{"case variant of a field", `{"type":"message","Text":"a"}`, 400, "message"},
		{"unknown field", `{"type":"message","text":"a","admin":true}`, 400, "message"},
		{"text not a string", `{"type":"message","text":5}`, 400, "message"},
		{"target not a string", `{"type":"hang-up","target":5}`, 400, "hang-up"},
		{"id not a number", `{"type":"message","text":"a","id":"7"}`, 400, "message"},
		{"code not an integer", `{"type":"hang-up","target":"bob","code":486.5}`, 400, "hang-up"},
		{"code out of range", `{"type":"hang-up","target":"bob","code":99}`, 400, "hang-up"},
		{"reason not a condition", `{"type":"hang-up","target":"bob","reason":"<b>"}`, 400, "hang-up"},
		{"bad callId", `{"type":"hang-up","callId":"a b"}`, 400, "hang-up"},
		{"missing target", `{"type":"ringing"}`, 400, "ringing"},
		{"features not strings", `{"type":"username","name":"x","features":[1]}`, 400, "username"},
		{"trailing data", `{"type":"message","text":"a"} {}`, 400, ""},
		{"unknown type", `{"type":"frobnicate","x":1}`, 501, "frobnicate"},
		{"chat too long", `{"type":"message","text":"` + string(make([]byte, 0)) + longText(9<<10) + `"}`, 413, "message"},
	}
	h := newHarness(t, Config{RateBurst: 1000, RatePerSecond: 1000}, gateway.Config{})
	alice := h.login("alice", nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := h.errorCount(strconv.Itoa(tc.code))
			sendRaw(t, alice, tc.raw)
			expectError(t, alice, tc.code, tc.ref)
			chatEcho(t, alice)
			if got := h.errorCount(strconv.Itoa(tc.code)); got != before+1 {
				t.Fatalf("errors_total{code=%d} went from %v to %v", tc.code, before, got)
			}
		})
	}
	t.Run("binary frame", func(t *testing.T) {
		if err := alice.SendFrame(websocket.BinaryMessage, []byte(`{"type":"message","text":"a"}`)); err != nil {
			t.Fatal(err)
		}
		expectError(t, alice, 400, "")
		chatEcho(t, alice)
	})
}

func longText(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}

func TestCallsNeedLogin(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	h.login("bob", nil)
	c := h.dial(nil)
	expect(t, c, "id")
	send(t, c, map[string]any{"type": "video-offer", "target": "bob", "sdp": offerSDP(t)})
	expectError(t, c, 401, "video-offer")
	send(t, c, map[string]any{"type": "message", "text": "hi"})
	expectError(t, c, 401, "message")
}

func TestRoutingErrors(t *testing.T) {
	cases := []struct {
		name, target string
		code         int
		reason       string
	}{
		{"offline user", "zed", 480, "gone"},
		{"unknown user", "nobody", 404, "gone"},
		{"self", "alice", 400, "general-error"},
		{"malformed target", "a b", 400, "general-error"},
		{"no route for sip", "sip:bob@pbx.example.org", 403, "security-error"},
	}
	h := newHarness(t, Config{}, gateway.Config{})
	zed := h.login("zed", nil)
	_ = zed.Close()
	waitFor(t, "zed offline", func() bool { _, err := h.srv.dir.lookup("zed"); return err != nil })
	alice := h.login("alice", nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			send(t, alice, map[string]any{"type": "video-offer", "name": "alice", "target": tc.target, "sdp": offerSDP(t)})
			e := expectError(t, alice, tc.code, "video-offer")
			if e.Str("reason") != tc.reason {
				t.Fatalf("error %v, want reason %s", e, tc.reason)
			}
			// The MDN page closes its call on hang-up.
			hu := expect(t, alice, "hang-up")
			if hu.Str("name") != tc.target || hu.Int("code") != tc.code {
				t.Fatalf("hang-up %v", hu)
			}
		})
	}
}

func TestCloseEndsCalls(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	alice, bob := h.login("alice", nil), h.login("bob", nil)
	answerCall(t, bob, alice, signalCall(t, alice, bob, nil))
	_ = alice.Close()
	m := expect(t, bob, "hang-up")
	if m.Str("reason") != gateway.CondConnectivityError || m.Int("code") != 480 || m.Str("name") != "alice" {
		t.Fatalf("hang-up %v", m)
	}
	waitFor(t, "call ended", func() bool { return h.gw.ActiveCalls() == 0 })
}

func TestShutdown(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	alice, bob := h.login("alice", nil), h.login("bob", nil)
	answerCall(t, bob, alice, signalCall(t, alice, bob, nil))
	if err := h.srv.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*wstest.Client{alice, bob} {
		var ce *websocket.CloseError
		if err := c.WaitClosed(ctxT(t)); !asCloseError(err, &ce) || ce.Code != websocket.CloseGoingAway {
			t.Fatalf("%s closed with %v, want 1001", c.Name, err)
		}
	}
	waitFor(t, "calls ended", func() bool { return h.gw.ActiveCalls() == 0 })
	if _, resp, err := wstest.Dial(ctxT(t), h.url("/ws"), nil); err == nil || resp == nil || resp.StatusCode != 503 {
		t.Fatalf("dial after shutdown: %v", err)
	}
}

// TestHangupWithoutTarget: the MDN page, after its own negotiation race,
// hangs up with "target": null. A connection with exactly one call ends
// that call; with several the target is needed (400); with none, 481.
func TestHangupWithoutTarget(t *testing.T) {
	for name, raw := range map[string]string{
		"target null":    `{"type":"hang-up","name":"bob","target": null}`,
		"target missing": `{"type":"hang-up","name":"bob"}`,
		"decline, null":  `{"type":"decline","target":null}`,
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, Config{}, gateway.Config{})
			alice, bob := h.login("alice", nil), h.login("bob", nil)
			answerCall(t, bob, alice, signalCall(t, alice, bob, nil))
			sendRaw(t, bob, raw)
			if m := expect(t, alice, "hang-up"); m.Str("name") != "bob" {
				t.Fatalf("alice got %v", m)
			}
			waitFor(t, "call ended", func() bool { return h.gw.ActiveCalls() == 0 })
			expectNone(t, bob, "error", 100*time.Millisecond)
			sendRaw(t, bob, raw) // no call left
			expectError(t, bob, 481, strings.SplitN(strings.SplitN(raw, `"type":"`, 2)[1], `"`, 2)[0])
		})
	}
	t.Run("two calls", func(t *testing.T) {
		h := newHarness(t, Config{}, gateway.Config{})
		alice, bob, carol := h.login("alice", nil), h.login("bob", ext), h.login("carol", nil)
		signalCall(t, alice, bob, nil)
		signalCall(t, carol, bob, nil)
		sendRaw(t, bob, `{"type":"hang-up","target":null}`)
		expectError(t, bob, 400, "hang-up")
		if n := h.gw.ActiveCalls(); n != 2 {
			t.Fatalf("%d calls, want 2", n)
		}
	})
	t.Run("null target elsewhere is malformed", func(t *testing.T) {
		h := newHarness(t, Config{}, gateway.Config{})
		alice := h.login("alice", nil)
		sendRaw(t, alice, `{"type":"ringing","target":null}`)
		expectError(t, alice, 400, "ringing")
	})
}
