package jingle

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden Jingle XML files under testdata/golden")

// goldenCases: every Chromium SDP fixture with the role of its author.
var goldenCases = []struct {
	file   string
	author Role
}{
	{"chrome156_offer_av_dc_initial.sdp", Initiator},
	{"chrome156_offer_av_dc_gathered.sdp", Initiator},
	{"chrome156_offer_audio_only.sdp", Initiator},
	{"chrome156_reoffer_ice_restart.sdp", Initiator},
	{"chrome156_reoffer_hold_sendonly.sdp", Initiator},
	{"chrome156_answer_recvonly_initial.sdp", Responder},
	{"chrome156_answer_recvonly_gathered.sdp", Responder},
}

// TestGoldenRoundTrip: SDP -> Jingle -> XML -> Parse -> SDP gives back the
// fixture apart from the documented losses, for both author roles, and the
// Jingle XML matches the golden file.
func TestGoldenRoundTrip(t *testing.T) {
	for _, tc := range goldenCases {
		for _, author := range []Role{Initiator, Responder} {
			t.Run(tc.file+"/"+author.String(), func(t *testing.T) {
				raw := readFixture(t, tc.file)
				sd := parseSDP(t, raw)
				mids := NewMidTable()
				j, err := SDPToJingle(sd, author, SDPToJingleOptions{Mids: mids})
				if err != nil {
					t.Fatal(err)
				}
				j.Action, j.SID = ActionSessionInitiate, "golden"
				if author == Responder {
					j.Action = ActionSessionAccept
				}
				x := checkGolden(t, tc.file, author, j)
				j2, err := Parse(x)
				if err != nil {
					t.Fatal(err)
				}
				back, err := JingleToSDP(j2, author, JingleToSDPOptions{Mids: mids, Origin: sd.Origin})
				if err != nil {
					t.Fatal(err)
				}
				if d := diffSections(string(raw), marshalSDP(t, back)); d != "" {
					t.Errorf("round trip differs beyond the documented losses:\n%s", d)
				}
			})
		}
	}
}

// checkGolden compares the indented XML with testdata/golden and returns it.
func checkGolden(t *testing.T, file string, author Role, j *Jingle) []byte {
	t.Helper()
	x, err := xml.MarshalIndent(j, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	x = append(x, '\n')
	path := filepath.Join("testdata", "golden", strings.TrimSuffix(file, ".sdp")+"."+author.String()+".xml")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, x, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(want, x) {
		t.Errorf("%s differs from the generated XML (run with -update after checking)", path)
	}
	return x
}

// TestSendersTable checks §2.5 a on the fixtures, both roles.
func TestSendersTable(t *testing.T) {
	cases := []struct {
		file   string
		author Role
		mid    string
		want   Senders
		dir    string
	}{
		{"chrome156_offer_av_dc_initial.sdp", Initiator, "0", "", "a=sendrecv"},
		{"chrome156_reoffer_hold_sendonly.sdp", Initiator, "0", SendersInitiator, "a=sendonly"},
		{"chrome156_reoffer_hold_sendonly.sdp", Responder, "1", SendersResponder, "a=sendonly"},
		{"chrome156_answer_recvonly_initial.sdp", Responder, "0", SendersInitiator, "a=recvonly"},
		{"chrome156_answer_recvonly_initial.sdp", Initiator, "1", SendersResponder, "a=recvonly"},
	}
	for _, tc := range cases {
		t.Run(tc.file+"/"+tc.author.String(), func(t *testing.T) {
			j, err := SDPToJingle(parseSDP(t, readFixture(t, tc.file)), tc.author, SDPToJingleOptions{})
			if err != nil {
				t.Fatal(err)
			}
			c := j.FindContent(tc.mid)
			if c == nil || c.Senders != tc.want {
				t.Fatalf("senders = %v, want %q", c, tc.want)
			}
			back, err := JingleToSDP(j, tc.author, JingleToSDPOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if s := marshalSDP(t, back); !strings.Contains(s, tc.dir+"\r\n") {
				t.Errorf("direction %s missing", tc.dir)
			}
		})
	}
}

func TestDirectionSendersBijective(t *testing.T) {
	for _, r := range []Role{Initiator, Responder} {
		for _, dir := range []string{dirSendRecv, dirSendOnly, dirRecvOnly, dirInactive} {
			if got := DirectionFromSenders(SendersFromDirection(dir, r), r); got != dir {
				t.Errorf("%v: %s -> %s", r, dir, got)
			}
		}
	}
	if DirectionFromSenders("", Initiator) != dirSendRecv || DirectionFromSenders(SendersRejected, Responder) != dirInactive {
		t.Error("defaults")
	}
}
