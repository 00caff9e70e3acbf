package ws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// tricky strings for the encoder: escapes, HTML characters, control
// bytes, invalid UTF-8, line and paragraph separators, multi-byte runes.
var trickyStrings = []string{"", "plain", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n", `"quoted" \back\slash`,
	"<script>&amp;</script>", "\x00\x01\x08\x0c\x1f\x7f", "bad \xff\xfe utf8 \xc3", "line\u2028para\u2029",
	"ünïcödé ☎ 📞", "tab\there", "\xed\xa0\x80 surrogate"}

// TestFastEncodeMatchesJSON: the hand-rendered call messages are the
// bytes encoding/json makes of them.
func TestFastEncodeMatchesJSON(t *testing.T) {
	mid := "0"
	for _, s := range trickyStrings {
		for _, callID := range []string{"", "c-" + s} {
			check(t, encodeSDPMsg, sdpMsg{Type: typeVideoAnswer, Name: s, Target: "bob" + s, CallID: callID,
				SDP: sdpJSON{Type: "answer", SDP: s}})
			check(t, encodeRingingMsg, ringingMsg{Type: typeRinging, Name: s, Target: s, CallID: callID, Code: 183})
			check(t, encodeCandidateMsg, candidateMsg{Type: typeNewICECandidate, Name: s, Target: s, CallID: callID,
				Candidate: candidateJSON{Candidate: "candidate:" + s, SDPMid: &mid, SDPMLineIndex: 2, UsernameFragment: s}})
			check(t, encodeCandidateMsg, candidateMsg{Type: typeNewICECandidate, Name: s, Target: s, CallID: callID,
				Candidate: candidateJSON{Candidate: s, SDPMid: nil, SDPMLineIndex: 0}})
			check(t, encodeEndOfCandidatesMsg, endOfCandidatesMsg{Type: typeEndOfCandidates, Name: s, Target: s, CallID: callID})
			check(t, encodeEndOfCandidatesMsg, endOfCandidatesMsg{Type: typeEndOfCandidates, Name: s, Target: s, CallID: callID,
				SDPMid: &s})
			check(t, encodeHangupMsg, hangupMsg{Type: typeHangUp, Name: s, Target: s, CallID: callID})
			check(t, encodeHangupMsg, hangupMsg{Type: typeHangUp, Name: s, Target: s, CallID: callID, Reason: "busy" + s,
				Code: 486, Text: s})
			check(t, encodeHangupMsg, hangupMsg{Type: typeHangUp, Name: s, Target: s, Code: -1, Text: s})
		}
	}
}

func check[M any](t *testing.T, fast func(M) []byte, m M) {
	t.Helper()
	want, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if got := fast(m); !bytes.Equal(got, want) {
		t.Errorf("%T:\n got %s\nwant %s", m, got, want)
	}
}

// FuzzAppendJSONString: any string quotes to encoding/json's bytes.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q:\n got %s\nwant %s", s, got, want)
		}
	})
}

// TestEncodeSDPMsgSizedOnce: an SDP message is rendered into one buffer
// sized for its escaped line ends, not grown on the way.
func TestEncodeSDPMsgSizedOnce(t *testing.T) {
	var sdp strings.Builder
	for i := range 120 {
		fmt.Fprintf(&sdp, "a=candidate:%d 1 udp 2122260223 192.0.2.%d 5%04d typ host generation 0\r\n", i, i, i)
	}
	m := sdpMsg{Type: typeVideoOffer, Name: "alice", Target: "bob", CallID: "c-1", SDP: sdpJSON{Type: "offer", SDP: sdp.String()}}
	var out []byte
	if n := testing.AllocsPerRun(20, func() { out = encodeSDPMsg(m) }); n != 1 {
		t.Fatalf("%v allocations, want 1", n)
	}
	if len(out) > cap(out) || cap(out)-len(out) > 64 {
		t.Fatalf("length %d, capacity %d: sized far from what it holds", len(out), cap(out))
	}
}

// TestEncodeHangupAndEndOfCandidatesSizedOnce: each is rendered into one
// buffer.
func TestEncodeHangupAndEndOfCandidatesSizedOnce(t *testing.T) {
	mid := "video"
	h := hangupMsg{Type: typeHangUp, Name: "sip:bob@pbx.example.org", Target: "alice", CallID: "c-1", Reason: "busy",
		Code: -1 << 62, Text: "Busy Here"}
	e := endOfCandidatesMsg{Type: typeEndOfCandidates, Name: "sip:bob@pbx.example.org", Target: "alice", CallID: "c-1",
		SDPMid: &mid}
	if n := testing.AllocsPerRun(20, func() { encodeHangupMsg(h) }); n != 1 {
		t.Fatalf("hang-up: %v allocations, want 1", n)
	}
	if n := testing.AllocsPerRun(20, func() { encodeEndOfCandidatesMsg(e) }); n != 1 {
		t.Fatalf("end-of-candidates: %v allocations, want 1", n)
	}
}
