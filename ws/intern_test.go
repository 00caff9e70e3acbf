package ws

import (
	"encoding/json"
	"testing"
)

// TestKnownMid checks that an interned sdpMid is the string the JSON
// decodes to, and that escaped or unknown spellings are left to
// jsonString.
func TestKnownMid(t *testing.T) {
	for _, w := range midWords {
		raw, _ := json.Marshal(w)
		p := knownMid(raw)
		if p == nil || *p != w {
			t.Fatalf("knownMid(%s) = %v, want %q", raw, p, w)
		}
	}
	for _, raw := range []string{`"\u0030"`, `"32"`, `"sdparta_0"`, `""`, `0`, `null`, `"Audio"`} {
		if p := knownMid(json.RawMessage(raw)); p != nil {
			t.Errorf("knownMid(%s) = %q, want nil", raw, *p)
		}
	}
	var c candidateInit
	if err := c.setMid("", json.RawMessage(`"\u0031"`)); err != nil || *c.Mid != "1" {
		t.Fatalf("setMid(escaped 1): %v, %v", err, c.Mid)
	}
	if err := c.setMid("", json.RawMessage(`"video"`)); err != nil || *c.Mid != "video" {
		t.Fatalf("setMid(video): %v, %v", err, c.Mid)
	}
}

// TestSetMLineShared checks the interned sdpMLineIndex values.
func TestSetMLineShared(t *testing.T) {
	for i := range mlineIndexes {
		var c candidateInit
		raw, _ := json.Marshal(i)
		if err := c.setMLine("", raw); err != nil || *c.MLine != i {
			t.Fatalf("setMLine(%s): %v, %v", raw, err, c.MLine)
		}
	}
	var c candidateInit
	if err := c.setMLine("", json.RawMessage(`32`)); err == nil {
		t.Fatalf("setMLine(32) accepted: %v", *c.MLine)
	}
}

// TestEncodeCandidateMsgOneAllocation: the buffer's estimate holds a
// candidate message whole (no second allocation to grow it).
func TestEncodeCandidateMsgOneAllocation(t *testing.T) {
	mid := "0"
	m := candidateMsg{Type: typeNewICECandidate, Name: "sip:bob@pbx.example.org", Target: "alice", CallID: "c1",
		Candidate: candidateJSON{Candidate: candLine, SDPMid: &mid, SDPMLineIndex: 31, UsernameFragment: "4oUU"}}
	for _, mp := range []*string{&mid, nil} {
		m.Candidate.SDPMid = mp
		want, _ := json.Marshal(m)
		if got := encodeCandidateMsg(m); string(got) != string(want) || cap(got) < len(got) {
			t.Fatalf("encodeCandidateMsg = %s, want %s", got, want)
		}
		if n := testing.AllocsPerRun(20, func() { encodeCandidateMsg(m) }); n != 1 {
			t.Fatalf("encodeCandidateMsg: %v allocations, want 1", n)
		}
	}
}
