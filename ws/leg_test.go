package ws

import (
	"encoding/json"
	"testing"

	"github.com/sigbridge/sigbridge/gateway"
)

// Candidates from other dialects may carry only a mid (Jingle) or only an
// index (SIP): the browser always gets both.
func TestRenderCandidateFillsMidAndIndex(t *testing.T) {
	const line = "candidate:1 1 udp 2113937151 192.0.2.1 5000 typ host ufrag abcd"
	cases := []struct {
		name      string
		in        gateway.Candidate
		wantMid   any // string or nil (JSON null)
		wantIndex float64
	}{
		{"mid and index", gateway.Candidate{Mid: "1", MLineIndex: 1, Line: line}, "1", 1},
		{"mid only", gateway.Candidate{Mid: "video", Line: line}, "video", 1},
		{"index only", gateway.Candidate{MLineIndex: 2, Line: "a=" + line}, "data", 2},
		{"unknown mid", gateway.Candidate{Mid: "x", MLineIndex: 0, Line: line}, "x", 0},
		{"index beyond the SDP", gateway.Candidate{MLineIndex: 7, Line: line}, nil, 7},
		{"no prefix", gateway.Candidate{Mid: "audio", Line: line[len("candidate:"):]}, "audio", 0},
	}
	l := &leg{c: &conn{}, peer: "sip:bob@pbx.example.org", self: "alice", remoteMids: []string{"audio", "video", "data"}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m struct {
				Type, Name, Target string
				Candidate          map[string]any
			}
			if err := json.Unmarshal(l.renderCandidate(tc.in), &m); err != nil {
				t.Fatal(err)
			}
			c := m.Candidate
			mid, hasMid := c["sdpMid"]
			if !hasMid || mid != tc.wantMid || c["sdpMLineIndex"] != tc.wantIndex || c["candidate"] != line ||
				c["usernameFragment"] != "abcd" || m.Name != "sip:bob@pbx.example.org" || m.Target != "alice" {
				t.Fatalf("rendered %+v", m)
			}
		})
	}
}

func TestCandidateEventFromBrowser(t *testing.T) {
	mid := func(s string) *string { return &s }
	idx := func(n int) *int { return &n }
	l := &leg{localMids: []string{"0", "1", "2"}}
	cases := []struct {
		name string
		in   candidateInit
		want gateway.Event
	}{
		{"both", candidateInit{Line: "c", Mid: mid("1"), MLine: idx(1)}, gateway.Candidate{Mid: "1", MLineIndex: 1, Line: "c"}},
		{"mid only", candidateInit{Line: "c", Mid: mid("2")}, gateway.Candidate{Mid: "2", MLineIndex: 2, Line: "c"}},
		{"index only", candidateInit{Line: "c", MLine: idx(1)}, gateway.Candidate{Mid: "1", MLineIndex: 1, Line: "c"}},
		{"neither: m-line 0", candidateInit{Line: "c", Ufrag: "u"}, gateway.Candidate{Mid: "0", Line: "c", Ufrag: "u"}},
		{"null", candidateInit{Null: true}, gateway.EndOfCandidates{}},
		{"empty with mid", candidateInit{Mid: mid("1")}, gateway.EndOfCandidates{Mid: "1"}},
		{"empty with index", candidateInit{MLine: idx(2)}, gateway.EndOfCandidates{Mid: "2"}},
		{"empty alone", candidateInit{}, gateway.EndOfCandidates{}},
	}
	for _, tc := range cases {
		if got := l.candidateEvent(tc.in); got != tc.want {
			t.Errorf("%s: %#v, want %#v", tc.name, got, tc.want)
		}
	}
}
