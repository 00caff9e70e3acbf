package jingle

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
)

func TestCandidateFromSDP(t *testing.T) {
	cases := []struct {
		name, in string
		want     Candidate
		line     string // SDPLine("") output
		mdns     bool
	}{
		{
			name: "chrome mdns host with a=",
			in:   "a=candidate:1383569927 1 udp 2113937151 0425cf8c-f798-4d10-b411-2069fd65313c.local 55397 typ host generation 0 network-cost 999",
			want: Candidate{Foundation: "1383569927", Component: 1, Protocol: "udp", Priority: 2113937151,
				IP: "0425cf8c-f798-4d10-b411-2069fd65313c.local", Port: 55397, Type: "host"},
			line: "candidate:1383569927 1 udp 2113937151 0425cf8c-f798-4d10-b411-2069fd65313c.local 55397 typ host generation 0",
			mdns: true,
		},
		{
			name: "trickled with ufrag extension",
			in:   "candidate:2330164021 1 udp 2113937151 0425cf8c-f798-4d10-b411-2069fd65313c.local 41648 typ host generation 0 ufrag cqhF network-cost 999",
			want: Candidate{Foundation: "2330164021", Component: 1, Protocol: "udp", Priority: 2113937151,
				IP: "0425cf8c-f798-4d10-b411-2069fd65313c.local", Port: 41648, Type: "host", Ufrag: "cqhF"},
			line: "candidate:2330164021 1 udp 2113937151 0425cf8c-f798-4d10-b411-2069fd65313c.local 41648 typ host generation 0 ufrag cqhF",
			mdns: true,
		},
		{
			name: "srflx with raddr rport, upper-case UDP",
			in:   "candidate:842163049 1 UDP 1677729535 203.0.113.7 61665 typ srflx raddr 192.168.1.20 rport 61665 generation 1 network-id 1",
			want: Candidate{Foundation: "842163049", Component: 1, Protocol: "udp", Priority: 1677729535,
				IP: "203.0.113.7", Port: 61665, Type: "srflx", RelAddr: "192.168.1.20", RelPort: 61665, Generation: 1},
			line: "candidate:842163049 1 udp 1677729535 203.0.113.7 61665 typ srflx raddr 192.168.1.20 rport 61665 generation 1",
		},
		{
			name: "mdns-hidden srflx keeps rport 0",
			in:   "candidate:1 1 udp 1 198.51.100.1 5000 typ srflx raddr 0.0.0.0 rport 0",
			want: Candidate{Foundation: "1", Component: 1, Protocol: "udp", Priority: 1, IP: "198.51.100.1", Port: 5000,
				Type: "srflx", RelAddr: "0.0.0.0"},
			line: "candidate:1 1 udp 1 198.51.100.1 5000 typ srflx raddr 0.0.0.0 rport 0 generation 0",
		},
		{
			name: "tcp active mdns",
			in:   "candidate:3 1 tcp 1518280447 abc.local 9 typ host tcptype active generation 0",
			want: Candidate{Foundation: "3", Component: 1, Protocol: "tcp", Priority: 1518280447, IP: "abc.local", Port: 9,
				Type: "host", TCPType: "active"},
			line: "candidate:3 1 tcp 1518280447 abc.local 9 typ host tcptype active generation 0",
			mdns: true,
		},
		{
			name: "relay ipv6 component 2, alphanumeric foundation",
			in:   "candidate:a1B+/ 2 udp 41885439 2001:db8::1 3478 typ relay raddr 2001:db8::2 rport 1",
			want: Candidate{Foundation: "a1B+/", Component: 2, Protocol: "udp", Priority: 41885439, IP: "2001:db8::1",
				Port: 3478, Type: "relay", RelAddr: "2001:db8::2", RelPort: 1},
			line: "candidate:a1B+/ 2 udp 41885439 2001:db8::1 3478 typ relay raddr 2001:db8::2 rport 1 generation 0",
		},
		{
			name: "trailing CRLF and mDNS with trailing dot",
			in:   "a=candidate:1 1 udp 1 x.LOCAL. 1 typ prflx\r\n",
			want: Candidate{Foundation: "1", Component: 1, Protocol: "udp", Priority: 1, IP: "x.LOCAL.", Port: 1, Type: "prflx"},
			line: "candidate:1 1 udp 1 x.LOCAL. 1 typ prflx generation 0",
			mdns: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CandidateFromSDP(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID == "" || !(got.ID[0] >= 'a' && got.ID[0] <= 'z') {
				t.Errorf("id %q is not letter-first", got.ID)
			}
			tc.want.ID = got.ID
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if l := got.SDPLine(""); l != tc.line {
				t.Errorf("SDPLine = %q\nwant      %q", l, tc.line)
			}
			if got.IsMDNS() != tc.mdns {
				t.Errorf("IsMDNS = %v", got.IsMDNS())
			}
			again, err := CandidateFromSDP(got.SDPLine(""))
			if err != nil || again != got {
				t.Errorf("SDPLine does not parse back: %v %+v", err, again)
			}
			checkCandidateXML(t, got)
		})
	}
}

// checkCandidateXML round-trips through the XML form (Ufrag has none).
func checkCandidateXML(t *testing.T, c Candidate) {
	t.Helper()
	x, err := xml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Candidate
	if err := xml.Unmarshal(x, &back); err != nil {
		t.Fatalf("%s: %v", x, err)
	}
	c.Ufrag = ""
	if back != c {
		t.Errorf("xml %s\ngot  %+v\nwant %+v", x, back, c)
	}
}

func TestCandidateSDPLineUfrag(t *testing.T) {
	c, err := CandidateFromSDP("candidate:1 1 udp 5 10.0.0.1 9 typ host")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.SDPLine("4oUU"); got != "candidate:1 1 udp 5 10.0.0.1 9 typ host generation 0 ufrag 4oUU" {
		t.Error(got)
	}
}

func TestCandidateFromSDPBad(t *testing.T) {
	for _, in := range []string{
		"",
		"a=",
		"candidate:",
		"a=ice-ufrag:x",
		"candidate:1 1 udp 5 10.0.0.1 9 host", // no typ
		"candidate:1 1 udp 5 10.0.0.1 9 typ",  // no type
		"candidate:1 1 udp 5 10.0.0.1 9 typ bogus",          // bad type
		"candidate:1 0 udp 5 10.0.0.1 9 typ host",           // component 0
		"candidate:1 x udp 5 10.0.0.1 9 typ host",           // component NaN
		"candidate:1 1 sctp 5 10.0.0.1 9 typ host",          // protocol
		"candidate:1 1 udp 4294967296 10.0.0.1 9 typ host",  // priority > 32 bit
		"candidate:1 1 udp -1 10.0.0.1 9 typ host",          // negative priority
		"candidate:1 1 udp 5 10.0.0.1 65536 typ host",       // port
		"candidate:1 1 udp 5 10.0.0.1 9 typ host raddr",     // dangling extension
		"candidate:1 1 udp 5 10.0.0.1 9 typ host rport x y", // odd extensions
		"candidate:1 1 udp 5 10.0.0.1 9 typ host rport x",   // rport NaN
		"candidate:1 1 udp 5 10.0.0.1 9 typ host generation -1",
		"candidate:1 1 udp 5 <evil> 9 typ host",
		"candidate:1 1 udp 5 a\"b 9 typ host",
		"candidate:" + strings.Repeat("f", 33) + " 1 udp 5 10.0.0.1 9 typ host",
		"candidate:1 1 udp 5 10.0.0.1 9 typ host raddr not/an/address rport 1",
	} {
		if c, err := CandidateFromSDP(in); !errors.Is(err, ErrBadCandidate) {
			t.Errorf("%q: got %+v, %v", in, c, err)
		}
	}
}

func TestCandidateIDStable(t *testing.T) {
	a, _ := CandidateFromSDP("candidate:1 1 udp 5 10.0.0.1 9 typ host")
	b, _ := CandidateFromSDP("candidate:1 1 udp 5 10.0.0.1 9 typ host generation 0")
	c, _ := CandidateFromSDP("candidate:1 1 udp 5 10.0.0.1 10 typ host")
	if a.ID != b.ID || a.ID == c.ID {
		t.Errorf("ids %s %s %s", a.ID, b.ID, c.ID)
	}
}

func TestCandidateXMLTolerance(t *testing.T) {
	// digit-first id, no generation, upper-case protocol, unknown network
	in := `<candidate component='1' foundation='1' id='0abc' ip='10.0.0.1' network='eth0' port='9' priority='1' protocol='UDP' type='host'/>`
	var c Candidate
	if err := xml.Unmarshal([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	if c.ID != "0abc" || c.Protocol != "udp" || c.Network != 0 || c.Generation != 0 {
		t.Errorf("%+v", c)
	}
	// a candidate built without id gets one when marshalled
	x, _ := xml.Marshal(Candidate{Foundation: "1", Component: 1, Protocol: "udp", IP: "10.0.0.1", Type: "host"})
	if !strings.Contains(string(x), ` id="c`) {
		t.Errorf("%s", x)
	}
}

// trickleEvent is one RTCIceCandidate.toJSON() of the fixtures.
type trickleEvent struct {
	Candidate        string `json:"candidate"`
	SDPMid           string `json:"sdpMid"`
	SDPMLineIndex    int    `json:"sdpMLineIndex"`
	UsernameFragment string `json:"usernameFragment"`
}

// TestTrickleFixtures: every trickled candidate maps to a content through
// the mid table built from the matching SDP, keeps its ufrag, and turns
// into a transport-info that parses back.
func TestTrickleFixtures(t *testing.T) {
	for file, sdpFile := range map[string]string{
		"chrome156_trickle_offerer.json":  "chrome156_offer_av_dc_initial.sdp",
		"chrome156_trickle_answerer.json": "chrome156_answer_recvonly_initial.sdp",
	} {
		t.Run(file, func(t *testing.T) {
			var events []*trickleEvent
			if err := json.Unmarshal(readFixture(t, file), &events); err != nil {
				t.Fatal(err)
			}
			mids := NewMidTable()
			if _, err := SDPToJingle(parseSDP(t, readFixture(t, sdpFile)), Initiator, SDPToJingleOptions{Mids: mids}); err != nil {
				t.Fatal(err)
			}
			if events[len(events)-1] != nil {
				t.Fatal("the last event should be null (end of gathering)")
			}
			for _, ev := range events[:len(events)-1] {
				checkTrickle(t, mids, ev)
			}
		})
	}
}

func checkTrickle(t *testing.T, mids *MidTable, ev *trickleEvent) {
	t.Helper()
	c, err := CandidateFromSDP(ev.Candidate)
	if err != nil {
		t.Fatal(err)
	}
	if c.Ufrag != ev.UsernameFragment || !c.IsMDNS() {
		t.Errorf("ufrag %q mdns %v", c.Ufrag, c.IsMDNS())
	}
	name, ok := mids.ContentForCandidate(ev.SDPMid, ev.SDPMLineIndex)
	if !ok || name != ev.SDPMid {
		t.Fatalf("content for mid %q: %q %v", ev.SDPMid, name, ok)
	}
	if n, _ := mids.ContentForCandidate("", ev.SDPMLineIndex); n != name {
		t.Errorf("index fallback gave %q", n)
	}
	j := &Jingle{Action: ActionTransportInfo, SID: "s", Contents: []Content{{
		Creator: CreatorInitiator, Name: name,
		Transport: &Transport{Ufrag: c.Ufrag, Candidates: []Candidate{c}},
	}}}
	x, err := j.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(x)
	if err != nil {
		t.Fatal(err)
	}
	got := back.Contents[0].Transport.Candidates[0]
	want := strings.Replace(ev.Candidate, " network-cost 999", "", 1)
	if l := got.SDPLine(back.Contents[0].Transport.Ufrag); l != want {
		t.Errorf("SDPLine\n got %s\nwant %s", l, want)
	}
}
