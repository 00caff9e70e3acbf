package gateway

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/pion/sdp/v3"
)

func loadSDP(t testing.TB, name string) *sdp.SessionDescription {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := ParseSDP(string(b))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return sd
}

type trickleJSON struct {
	Candidate     string `json:"candidate"`
	SDPMid        string `json:"sdpMid"`
	SDPMLineIndex int    `json:"sdpMLineIndex"`
	Ufrag         string `json:"usernameFragment"`
}

// loadTrickle returns the fixture's candidates; the final null is dropped.
func loadTrickle(t testing.TB, name string) []Candidate {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var raw []*trickleJSON
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	var out []Candidate
	for _, c := range raw {
		if c != nil {
			out = append(out, Candidate{Mid: c.SDPMid, MLineIndex: c.SDPMLineIndex, Line: c.Candidate, Ufrag: c.Ufrag})
		}
	}
	return out
}

func candidates(m *sdp.MediaDescription) []string {
	var out []string
	for _, a := range m.Attributes {
		if a.Key == "candidate" {
			out = append(out, a.Value)
		}
	}
	return out
}
