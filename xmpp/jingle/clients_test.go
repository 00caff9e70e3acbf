package jingle

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readClient(t *testing.T, name string) *Jingle {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "clients", name))
	if err != nil {
		t.Fatal(err)
	}
	j, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestClientRoundTrip: Jingle -> SDP -> Jingle, in the shapes that
// Conversations, Dino, Jitsi and StanzaJS send, comes back equal apart from
// the documented losses (normalizeLosses).
func TestClientRoundTrip(t *testing.T) {
	cases := []struct {
		file   string
		author Role
		check  func(t *testing.T, sdpText string, back *Jingle)
	}{
		{"conversations_initiate.xml", Initiator, func(t *testing.T, s string, _ *Jingle) {
			mustContain(t, s, "a=group:BUNDLE 0 1", "a=mid:0", "a=setup:actpass", "a=rtpmap:9 G722/8000/1",
				"a=msid:my-media-stream my-audio-track", "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 102 0 8 13 110 126")
		}},
		{"dino_initiate.xml", Initiator, func(t *testing.T, s string, back *Jingle) {
			mustContain(t, s, "a=mid:audio", "a=mid:video", "a=ice-ufrag:Q6dJ", "a=ice-ufrag:zE0j",
				"a=candidate:1 2 udp 2015363326 192.168.1.7 53022 typ host generation 0 ufrag Q6dJ",
				"a=candidate:2 1 udp 1679819007 203.0.113.9 53021 typ srflx raddr 192.168.1.7 rport 53021 generation 0 ufrag Q6dJ")
			if strings.Contains(s, "a=group") || back.Group != nil {
				t.Error("Dino sends no group; none may appear")
			}
			if strings.Contains(s, "a=msid:") {
				t.Error("no msid without an msid parameter")
			}
		}},
		{"jitsi_initiate.xml", Initiator, func(t *testing.T, s string, _ *Jingle) {
			mustContain(t, s, "a=group:BUNDLE audio video data", "a=fmtp:126 0-15", "a=fmtp:112 111/111",
				"a=rtcp-mux", "a=sctp-port:5000", "a=ssrc-group:FID 3922011224 811004329")
		}},
		{"stanzajs_accept.xml", Responder, func(t *testing.T, s string, _ *Jingle) {
			mustContain(t, s, "a=group:BUNDLE 0 1", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "a=setup:active")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			j := readClient(t, tc.file)
			mids := NewMidTable()
			sd, err := JingleToSDP(j, tc.author, JingleToSDPOptions{Mids: mids})
			if err != nil {
				t.Fatal(err)
			}
			s := marshalSDP(t, sd)
			// the SDP must parse again (pion is what the bridge uses)
			sd2 := parseSDP(t, []byte(s))
			back, err := SDPToJingle(sd2, tc.author, SDPToJingleOptions{Mids: mids})
			if err != nil {
				t.Fatal(err)
			}
			want, got := normalizeLosses(j), normalizeLosses(back)
			if want != got {
				t.Errorf("round trip differs\nwant %s\ngot  %s", want, got)
			}
			tc.check(t, s, back)
		})
	}
}

func mustContain(t *testing.T, s string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(s, l+"\r\n") {
			t.Errorf("missing %q in\n%s", l, s)
		}
	}
}

// normalizeLosses applies the Jingle-side losses listed in doc.go and
// returns the XML of what must survive.
func normalizeLosses(in *Jingle) string {
	j := *in
	j.Action, j.SID, j.Initiator, j.Responder, j.Reason, j.Info = "", "", "", "", nil, nil
	if j.Group != nil {
		j.Group = &Group{Semantics: j.Group.Kind(), Contents: j.Group.Contents}
	}
	j.Contents = nil
	for _, c := range in.Contents {
		if c.IsRejected() {
			continue
		}
		j.Contents = append(j.Contents, normalizeContent(c))
	}
	x, _ := xml.Marshal(j)
	return string(x)
}

func normalizeContent(c Content) Content {
	c.Disposition, c.DataChannel, c.Senders = "", nil, omitBoth(c.Senders)
	if contentKind(&c) == kindData {
		c.Senders = ""
	}
	if c.Description != nil && len(c.Description.PayloadTypes) == 0 {
		c.Description = nil
	}
	if c.Description != nil {
		d := *c.Description
		normalizeDescription(&d)
		c.Description = &d
	}
	if c.Transport != nil {
		tr := *c.Transport
		normalizeTransport(&tr)
		c.Transport = &tr
	}
	return c
}

func normalizeDescription(d *Description) {
	d.SSRC, d.RTCPMux = "", true
	if d.Encryption != nil {
		d.Encryption = &Encryption{Crypto: d.Encryption.Crypto}
	}
	var ptime, maxptime uint32
	pts := make([]PayloadType, len(d.PayloadTypes))
	for k, p := range d.PayloadTypes {
		p.fillStatic()
		ptime, maxptime = max(ptime, p.Ptime), max(maxptime, p.Maxptime)
		pts[k] = p
	}
	for k := range pts {
		pts[k].Ptime, pts[k].Maxptime = ptime, maxptime
	}
	d.PayloadTypes = pts
	msid := firstMsid(d.Sources)
	var srcs []Source
	for _, s := range d.Sources {
		if len(s.Parameters) == 0 {
			continue // no SDP form
		}
		s.Parameters = append([]Parameter(nil), s.Parameters...)
		if _, ok := s.Param("msid"); !ok && msid != "" {
			s.Parameters = append(s.Parameters, Parameter{Name: "msid", Value: msid})
		}
		srcs = append(srcs, s)
	}
	d.Sources = srcs
}

func normalizeTransport(tr *Transport) {
	tr.RTCPMux, tr.RemoteCandidate = false, nil
	setup := ""
	for _, fp := range tr.Fingerprints {
		setup = orStr(setup, fp.Setup)
	}
	fps := make([]Fingerprint, len(tr.Fingerprints))
	for k, fp := range tr.Fingerprints {
		fps[k] = Fingerprint{Hash: fp.Hash, Setup: setup, Value: strings.TrimSpace(fp.Value)}
	}
	tr.Fingerprints = fps
	cs := make([]Candidate, len(tr.Candidates))
	for k, c := range tr.Candidates {
		c.ID, c.Network = "", 0
		cs[k] = c
	}
	tr.Candidates = cs
	if tr.SCTPMap != nil {
		tr.SCTPMap = &SCTPMap{Number: tr.SCTPMap.SCTPPort(), Protocol: "webrtc-datachannel"}
	}
}

// TestConversationsTransportInfo: one candidate per transport-info; the
// adapter maps it through the mid table and writes the SDP line.
func TestConversationsTransportInfo(t *testing.T) {
	mids := NewMidTable()
	if _, err := JingleToSDP(readClient(t, "conversations_initiate.xml"), Initiator, JingleToSDPOptions{Mids: mids}); err != nil {
		t.Fatal(err)
	}
	ti := readClient(t, "conversations_transport_info.xml")
	if ti.Initiator != "" || len(ti.Contents) != 1 {
		t.Fatalf("%+v", ti)
	}
	c := ti.Contents[0]
	mid, ok := mids.MidForName(c.Name)
	idx, _ := mids.IndexForName(c.Name)
	if !ok || mid != "0" || idx != 0 {
		t.Fatalf("mid %q index %d", mid, idx)
	}
	line := c.Transport.Candidates[0].SDPLine(c.Transport.Ufrag)
	if want := "candidate:2089231455 1 udp 2122260223 192.168.1.23 43719 typ host generation 0 ufrag Ge5u"; line != want {
		t.Errorf("got  %s\nwant %s", line, want)
	}
	back, err := CandidateFromSDP(line)
	if err != nil || back.Port != 43719 || back.Ufrag != "Ge5u" {
		t.Errorf("%+v %v", back, err)
	}
}

// TestJitsiCreatorQuirk: Jitsi sends its own role as creator in
// transport-info; contents are matched by name and the original creator is
// kept (protocols.md §2.2).
func TestJitsiCreatorQuirk(t *testing.T) {
	mids := NewMidTable()
	if _, err := JingleToSDP(readClient(t, "jitsi_initiate.xml"), Initiator, JingleToSDPOptions{Mids: mids}); err != nil {
		t.Fatal(err)
	}
	ti := readClient(t, "jitsi_transport_info.xml")
	c := ti.Contents[0]
	if c.Creator != CreatorResponder {
		t.Fatal("fixture should carry the quirk")
	}
	if mid, ok := mids.MidForName(c.Name); !ok || mid != "audio" {
		t.Errorf("mid %q", mid)
	}
	// an answer built from the table still says creator='initiator'
	j, err := SDPToJingle(parseSDP(t, readFixture(t, "chrome156_answer_recvonly_initial.sdp")), Responder, SDPToJingleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = j
	for _, s := range mids.Slots() {
		if s.Creator != CreatorInitiator {
			t.Errorf("slot %s creator %q", s.Name, s.Creator)
		}
	}
	tcp := c.Transport.Candidates[1]
	if tcp.TCPType != "passive" || tcp.SDPLine("") != "candidate:4 1 tcp 1694498814 198.51.100.21 443 typ host tcptype passive generation 0" {
		t.Errorf("%+v", tcp)
	}
}

// TestRejectedSenders: Jitsi's senders='rejected' is a port-0 slot.
func TestRejectedSenders(t *testing.T) {
	j := readClient(t, "jitsi_initiate.xml")
	j.Contents[1].Senders = SendersRejected
	mids := NewMidTable()
	sd, err := JingleToSDP(j, Initiator, JingleToSDPOptions{Mids: mids})
	if err != nil {
		t.Fatal(err)
	}
	s := marshalSDP(t, sd)
	mustContain(t, s, "m=video 0 UDP/TLS/RTP/SAVPF 100", "a=group:BUNDLE audio data")
	back, err := SDPToJingle(parseSDP(t, []byte(s)), Initiator, SDPToJingleOptions{Mids: mids})
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Contents) != 2 || back.FindContent("video") != nil {
		t.Errorf("%+v", back.Contents)
	}
}
