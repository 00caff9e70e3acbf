package jingle

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func sdpOf(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

var sdpHead = []string{"v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "t=0 0"}

func toJingle(t *testing.T, author Role, opt SDPToJingleOptions, lines ...string) *Jingle {
	t.Helper()
	j, err := SDPToJingle(parseSDP(t, sdpOf(append(append([]string{}, sdpHead...), lines...)...)), author, opt)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestStaticPayloadTypes: a SIP-style offer without rtpmap for static PTs.
func TestStaticPayloadTypes(t *testing.T) {
	j := toJingle(t, Initiator, SDPToJingleOptions{},
		"m=audio 4000 RTP/AVP 0 8 9 3 18 101 13 10", "c=IN IP4 192.0.2.1",
		"a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", "a=ptime:20")
	want := []PayloadType{
		{ID: 0, Name: "PCMU", Clockrate: 8000, Ptime: 20},
		{ID: 8, Name: "PCMA", Clockrate: 8000, Ptime: 20},
		{ID: 9, Name: "G722", Clockrate: 8000, Ptime: 20},
		{ID: 3, Name: "GSM", Clockrate: 8000, Ptime: 20},
		{ID: 18, Name: "G729", Clockrate: 8000, Ptime: 20},
		{ID: 101, Name: "telephone-event", Clockrate: 8000, Ptime: 20, Parameters: []Parameter{{Name: "", Value: "0-15"}}},
		{ID: 13, Name: "CN", Clockrate: 8000, Ptime: 20},
		{ID: 10, Name: "L16", Clockrate: 44100, Channels: 2, Ptime: 20},
	}
	got := j.Contents[0].Description.PayloadTypes
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	sd, err := JingleToSDP(j, Initiator, JingleToSDPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := marshalSDP(t, sd)
	for _, l := range []string{"m=audio 9 RTP/AVP 0 8 9 3 18 101 13 10", "a=rtpmap:0 PCMU/8000", "a=rtpmap:9 G722/8000",
		"a=rtpmap:10 L16/44100/2", "a=fmtp:101 0-15", "a=ptime:20", "a=mid:0", "a=sendrecv", "a=rtcp-mux"} {
		if !strings.Contains(s, l+"\r\n") {
			t.Errorf("missing %q in\n%s", l, s)
		}
	}
	if strings.Contains(s, "a=group") || strings.Contains(s, "a=ice-ufrag") {
		t.Errorf("unexpected group/ICE:\n%s", s)
	}
}

func TestStaticVideoAndUnknownPT(t *testing.T) {
	j := toJingle(t, Initiator, SDPToJingleOptions{}, "m=video 4002 RTP/AVP 34 31 26 99", "a=rtpmap:31 H261")
	pts := j.Contents[0].Description.PayloadTypes
	if pts[0].Name != "H263" || pts[0].Clockrate != 90000 || pts[1].Clockrate != 90000 || pts[2].Name != "JPEG" || pts[3].Name != "" {
		t.Errorf("%+v", pts)
	}
}

// TestPortZeroSlots: a rejected m-line keeps its place (§2.5 d).
func TestPortZeroSlots(t *testing.T) {
	raw := string(readFixture(t, "chrome156_answer_recvonly_initial.sdp"))
	raw = strings.Replace(raw, "m=video 9 UDP/TLS/RTP/SAVPF 96 97", "m=video 0 UDP/TLS/RTP/SAVPF 96 97", 1)
	mids := NewMidTable()
	j, err := SDPToJingle(parseSDP(t, []byte(raw)), Responder, SDPToJingleOptions{Mids: mids})
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Contents) != 2 || j.Contents[0].Name != "0" || j.Contents[1].Name != "2" {
		t.Fatalf("contents %+v", j.Contents)
	}
	if got := j.Group.Names(); strings.Join(got, " ") != "0 2" {
		t.Errorf("group %v", got)
	}
	sd, err := JingleToSDP(j, Responder, JingleToSDPOptions{Mids: mids})
	if err != nil {
		t.Fatal(err)
	}
	s := marshalSDP(t, sd)
	if !strings.Contains(s, "a=group:BUNDLE 0 2\r\n") {
		t.Errorf("group: %s", s)
	}
	if len(sd.MediaDescriptions) != 3 {
		t.Fatalf("%d m-lines", len(sd.MediaDescriptions))
	}
	md := sd.MediaDescriptions[1]
	if got := md.MediaName.String(); got != "video 0 UDP/TLS/RTP/SAVPF 96" {
		t.Errorf("slot 1 = %q", got)
	}
	if mid, _ := md.Attribute("mid"); mid != "1" {
		t.Errorf("mid %q", mid)
	}
}

// TestBundleOnlyIsNotRejection: port 0 + bundle-only keeps the content.
func TestBundleOnlyIsNotRejection(t *testing.T) {
	j := toJingle(t, Initiator, SDPToJingleOptions{}, "a=group:BUNDLE a b",
		"m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:a", "a=rtpmap:111 opus/48000/2",
		"m=video 0 UDP/TLS/RTP/SAVPF 96", "a=mid:b", "a=bundle-only", "a=rtpmap:96 VP8/90000")
	if len(j.Contents) != 2 || len(j.Group.Contents) != 2 {
		t.Fatalf("%+v", j)
	}
}

// TestAnswerLackingContent: a Jingle session-accept that leaves out an
// offered content gives a port-0 m-line in place, outside the group.
func TestAnswerLackingContent(t *testing.T) {
	mids := NewMidTable()
	offer, err := SDPToJingle(parseSDP(t, readFixture(t, "chrome156_offer_av_dc_initial.sdp")), Initiator, SDPToJingleOptions{Mids: mids})
	if err != nil {
		t.Fatal(err)
	}
	accept := &Jingle{Action: ActionSessionAccept, SID: "s", Contents: []Content{offer.Contents[0]},
		Group: &Group{Semantics: "BUNDLE", Contents: []GroupContent{{"0"}}}}
	accept.Contents[0].Transport = &Transport{Ufrag: "abcd", Pwd: "0123456789012345678901",
		Fingerprints: []Fingerprint{{Hash: "sha-256", Setup: SetupActive, Value: "AA:BB"}}}
	sd, err := JingleToSDP(accept, Responder, JingleToSDPOptions{Mids: mids})
	if err != nil {
		t.Fatal(err)
	}
	s := marshalSDP(t, sd)
	for _, l := range []string{"a=group:BUNDLE 0\r\n", "m=video 0 UDP/TLS/RTP/SAVPF 96\r\n", "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n", "a=mid:2\r\n", "a=setup:active\r\n"} {
		if !strings.Contains(s, l) {
			t.Errorf("missing %q:\n%s", l, s)
		}
	}
	if sl := mids.Slots(); !sl[1].Rejected || !sl[2].Rejected || sl[0].Rejected {
		t.Errorf("slots %+v", sl)
	}
}

// TestSessionLevelCopied: Firefox puts fingerprint, setup, ICE credentials
// and direction at session level; every content gets them.
func TestSessionLevelCopied(t *testing.T) {
	j := toJingle(t, Responder, SDPToJingleOptions{},
		"a=fingerprint:sha-1 00:11", "a=fingerprint:sha-256 AA:BB", "a=ice-ufrag:uf", "a=ice-pwd:pw", "a=sendonly",
		"a=group:BUNDLE 0 1", "a=group:LS 0 1",
		"m=audio 9 UDP/TLS/RTP/SAVPF 109", "a=mid:0", "a=rtpmap:109 opus/48000/2",
		"m=video 9 UDP/TLS/RTP/SAVPF 120", "a=mid:1", "a=rtpmap:120 VP8/90000", "a=recvonly", "a=setup:passive")
	for k, c := range j.Contents {
		tr := c.Transport
		if tr.Ufrag != "uf" || tr.Pwd != "pw" || len(tr.Fingerprints) != 2 || tr.Fingerprints[0].Hash != "sha-256" {
			t.Errorf("content %d transport %+v", k, tr)
		}
	}
	if s := j.Contents[0].Transport.Fingerprints[1].Setup; s != SetupActive {
		t.Errorf("default setup for a responder = %q", s)
	}
	if s := j.Contents[1].Transport.Fingerprints[0].Setup; s != SetupPassive {
		t.Errorf("setup %q", s)
	}
	if j.Contents[0].Senders != SendersResponder || j.Contents[1].Senders != SendersInitiator {
		t.Errorf("senders %q %q", j.Contents[0].Senders, j.Contents[1].Senders)
	}
	if j.Group.Kind() != "BUNDLE" {
		t.Errorf("group %+v", j.Group)
	}
}

// TestDescriptionDetails covers msid folding, extmap directions, SDES,
// bandwidth, rtcp-fb wildcard and trr-int, ptime/maxptime, unknown PT attrs.
func TestDescriptionDetails(t *testing.T) {
	mids := NewMidTable()
	j := toJingle(t, Initiator, SDPToJingleOptions{Mids: mids},
		"m=video 9 RTP/SAVPF 96 97", "b=AS:512", "b=TIAS:512000", "a=mid:v",
		"a=msid:stream track", "a=extmap:1/recvonly urn:a", "a=extmap:2/sendrecv urn:b", "a=extmap:3/sendonly urn:c attr",
		"a=rtpmap:96 VP8/90000", "a=rtpmap:97 rtx/90000", "a=fmtp:97 apt=96", "a=rtpmap:120 ghost/1",
		"a=rtcp-fb:* nack", "a=rtcp-fb:* trr-int 100", "a=rtcp-fb:96 ccm fir extra", "a=rtcp-fb:96 trr-int 5",
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:KEY|2^20|1:32 KDR=1",
		"a=ssrc-group:FID 1 2", "a=ssrc:1 cname:c", "a=ssrc:2 cname:c", "a=ssrc:2 msid:other t2", "a=ptime:30", "a=maxptime:60")
	d := j.Contents[0].Description
	if v, _ := d.Sources[0].Param("msid"); v != "stream track" {
		t.Errorf("msid fold: %+v", d.Sources)
	}
	if v, _ := d.Sources[1].Param("msid"); v != "other t2" {
		t.Errorf("own msid overwritten: %+v", d.Sources)
	}
	h := d.HeaderExtensions
	if h[0].Senders != SendersResponder || h[1].Senders != "" || h[2].Senders != SendersInitiator || h[2].Parameters[0].Name != "attr" {
		t.Errorf("extmaps %+v", h)
	}
	if d.Encryption == nil || d.Encryption.Crypto[0].SessionParams != "KDR=1" {
		t.Errorf("crypto %+v", d.Encryption)
	}
	if len(d.Bandwidths) != 2 || d.Bandwidths[0] != (Bandwidth{"AS", 512}) {
		t.Errorf("bandwidth %+v", d.Bandwidths)
	}
	if len(d.RTCPFeedback) != 1 || d.RTCPFbTrrInt[0].Value != 100 || d.PayloadTypes[0].RTCPFbTrrInt[0].Value != 5 {
		t.Errorf("rtcp-fb %+v", d)
	}
	if p := d.PayloadTypes[0]; p.Ptime != 30 || p.Maxptime != 60 || p.RTCPFeedback[0].Parameters[0].Name != "extra" {
		t.Errorf("pt %+v", p)
	}
	sd, err := JingleToSDP(j, Initiator, JingleToSDPOptions{Mids: mids})
	if err != nil {
		t.Fatal(err)
	}
	s := marshalSDP(t, sd)
	for _, l := range []string{"m=video 9 RTP/SAVPF 96 97", "b=AS:512", "b=TIAS:512000", "a=msid:stream track",
		"a=extmap:1/recvonly urn:a", "a=extmap:2/sendrecv urn:b", "a=extmap:3/sendonly urn:c attr",
		"a=rtcp-fb:* nack", "a=rtcp-fb:* trr-int 100", "a=rtcp-fb:96 ccm fir extra", "a=rtcp-fb:96 trr-int 5",
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:KEY|2^20|1:32 KDR=1", "a=ssrc-group:FID 1 2",
		"a=ssrc:1 msid:stream track", "a=ptime:30", "a=maxptime:60"} {
		if !strings.Contains(s, l+"\r\n") {
			t.Errorf("missing %q in\n%s", l, s)
		}
	}
	if strings.Contains(s, "ghost") {
		t.Error("rtpmap for an unlisted PT leaked")
	}
	// without the table, /sendrecv is implicit and dropped
	sd, _ = JingleToSDP(j, Initiator, JingleToSDPOptions{})
	if s := marshalSDP(t, sd); !strings.Contains(s, "a=extmap:2 urn:b\r\n") || !strings.Contains(s, "a=extmap:1/recvonly urn:a\r\n") {
		t.Errorf("table-less extmap:\n%s", s)
	}
}

func TestCandidatesFiltered(t *testing.T) {
	lines := []string{"m=audio 9 UDP/TLS/RTP/SAVPF 0", "a=mid:0", "a=ice-ufrag:new", "a=ice-pwd:p",
		"a=candidate:1 1 udp 1 a.local 1 typ host",
		"a=candidate:2 1 udp 1 10.0.0.1 2 typ host ufrag old",
		"a=candidate:3 1 udp 1 10.0.0.1 3 typ host ufrag new"}
	j := toJingle(t, Initiator, SDPToJingleOptions{DropMDNS: true}, lines...)
	cs := j.Contents[0].Transport.Candidates
	if len(cs) != 1 || cs[0].Port != 3 || cs[0].Ufrag != "" {
		t.Errorf("%+v", cs)
	}
	j = toJingle(t, Initiator, SDPToJingleOptions{}, lines...)
	if n := len(j.Contents[0].Transport.Candidates); n != 2 {
		t.Errorf("%d candidates without DropMDNS", n)
	}
	sd, _ := JingleToSDP(j, Initiator, JingleToSDPOptions{DropMDNS: true})
	if s := marshalSDP(t, sd); strings.Contains(s, ".local") {
		t.Errorf("mDNS kept:\n%s", s)
	}
}

// TestLegacyDataChannel: the old sctpmap form comes back in RFC 8841 form.
func TestLegacyDataChannel(t *testing.T) {
	j := toJingle(t, Initiator, SDPToJingleOptions{}, "m=application 9 DTLS/SCTP 5001", "a=sctpmap:5001 webrtc-datachannel 1024", "a=mid:data")
	m := j.Contents[0].Transport.SCTPMap
	if m == nil || m.Number != 5001 || m.Streams != 1024 || j.Contents[0].Description != nil {
		t.Fatalf("%+v", j.Contents[0])
	}
	sd, err := JingleToSDP(j, Initiator, JingleToSDPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := marshalSDP(t, sd)
	for _, l := range []string{"m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "a=sctp-port:5001", "a=max-message-size:262144", "a=mid:data"} {
		if !strings.Contains(s, l+"\r\n") {
			t.Errorf("missing %q:\n%s", l, s)
		}
	}
}

// TestUnexpressibleMedia: m=text (pion refuses m=image) becomes a rejected slot.
func TestUnexpressibleMedia(t *testing.T) {
	mids := NewMidTable()
	j := toJingle(t, Initiator, SDPToJingleOptions{Mids: mids}, "m=audio 4000 RTP/AVP 0", "m=text 4002 RTP/AVP 98", "a=rtpmap:98 t140/1000")
	if len(j.Contents) != 1 {
		t.Fatalf("%+v", j.Contents)
	}
	sd, err := JingleToSDP(j, Responder, JingleToSDPOptions{Mids: mids})
	if err != nil {
		t.Fatal(err)
	}
	if got := sd.MediaDescriptions[1].MediaName.String(); got != "text 0 RTP/AVP 98" {
		t.Errorf("slot = %q", got)
	}
}

func TestSDPLimitsAndErrors(t *testing.T) {
	many := func(n int, f func(i int) string) []string {
		var out []string
		for i := 0; i < n; i++ {
			out = append(out, f(i))
		}
		return out
	}
	fmts := strings.TrimSpace(strings.Repeat(" 96", MaxFormats+1))
	cases := []struct {
		name  string
		lines []string
		want  error
		text  string
	}{
		{"33 m-lines", many(MaxMediaLines+1, func(i int) string { return "m=audio 9 RTP/AVP 0" }), ErrLimit, "33 m-lines"},
		{"129 formats", []string{"m=audio 9 RTP/AVP " + fmts}, ErrLimit, "129 formats"},
		{"65 candidates", append([]string{"m=audio 9 RTP/AVP 0"}, many(MaxCandidates+1, func(i int) string {
			return fmt.Sprintf("a=candidate:1 1 udp 1 10.0.0.1 %d typ host", i+1)
		})...), ErrLimit, "65 candidates"},
		{"long line", []string{"m=audio 9 RTP/AVP 0", "a=x:" + strings.Repeat("y", MaxSDPLineLength)}, ErrLimit, "m-line 0"},
		{"bad candidate", []string{"m=audio 9 RTP/AVP 0", "a=candidate:1 1 udp 1 10.0.0.1 99999 typ host"}, ErrBadCandidate, "a=candidate:1 1 udp 1 10.0.0.1 99999"},
		{"bad format", []string{"m=audio 9 RTP/AVP x"}, ErrBadSDP, "m=audio 9 RTP/AVP x"},
		{"pt over 127", []string{"m=audio 9 RTP/AVP 200"}, ErrBadSDP, "over 127"},
		{"bad rtpmap", []string{"m=audio 9 RTP/AVP 0", "a=rtpmap:0 /8000"}, ErrBadSDP, "a=rtpmap:0 /8000"},
		{"bad clock", []string{"m=audio 9 RTP/AVP 0", "a=rtpmap:0 PCMU/x"}, ErrBadSDP, "clock"},
		{"bad extmap", []string{"m=audio 9 RTP/AVP 0", "a=extmap:x urn:a"}, ErrBadSDP, "extmap"},
		{"bad extmap dir", []string{"m=audio 9 RTP/AVP 0", "a=extmap:1/up urn:a"}, ErrBadSDP, "direction"},
		{"bad ssrc", []string{"m=audio 9 RTP/AVP 0", "a=ssrc:x cname:y"}, ErrBadSDP, "ssrc"},
		{"bad ssrc-group", []string{"m=audio 9 RTP/AVP 0", "a=ssrc-group:FID"}, ErrBadSDP, "ssrc-group"},
		{"bad crypto", []string{"m=audio 9 RTP/SAVP 0", "a=crypto:1 x"}, ErrBadSDP, "crypto"},
		{"bad rtcp-fb", []string{"m=audio 9 RTP/AVPF 0", "a=rtcp-fb:0"}, ErrBadSDP, "rtcp-fb"},
		{"bad trr-int", []string{"m=audio 9 RTP/AVPF 0", "a=rtcp-fb:0 trr-int"}, ErrBadSDP, "trr-int"},
		{"bad ptime", []string{"m=audio 9 RTP/AVP 0", "a=ptime:x"}, ErrBadSDP, "ptime"},
		{"bad fingerprint", []string{"a=fingerprint:sha-256", "m=audio 9 RTP/AVP 0"}, ErrBadSDP, "session level"},
		{"bad media fingerprint", []string{"m=audio 9 RTP/AVP 0", "a=fingerprint:x"}, ErrBadSDP, "m-line 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sd := parseSDP(t, sdpOf(append(append([]string{}, sdpHead...), tc.lines...)...))
			_, err := SDPToJingle(sd, Initiator, SDPToJingleOptions{})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tc.want, tc.text)
			}
			var se *SDPError
			if !errors.As(err, &se) {
				t.Errorf("not an *SDPError: %T", err)
			}
		})
	}
	if _, err := SDPToJingle(nil, Initiator, SDPToJingleOptions{}); !errors.Is(err, ErrBadSDP) {
		t.Error(err)
	}
}

// TestMidsWithoutAMid: SIP SDPs without a=mid get the m-line index.
func TestMidsWithoutAMid(t *testing.T) {
	mids := NewMidTable()
	j := toJingle(t, Initiator, SDPToJingleOptions{Mids: mids}, "m=audio 4000 RTP/AVP 0", "m=video 4002 RTP/AVP 34")
	if j.Contents[0].Name != "0" || j.Contents[1].Name != "1" || j.Group != nil {
		t.Errorf("%+v", j.Contents)
	}
}

// TestRFC3551Table checks every static payload type of protocols.md §2.3.
func TestRFC3551Table(t *testing.T) {
	want := map[uint8]string{
		0: "PCMU/8000", 3: "GSM/8000", 4: "G723/8000", 5: "DVI4/8000", 6: "DVI4/16000", 7: "LPC/8000",
		8: "PCMA/8000", 9: "G722/8000", 10: "L16/44100/2", 11: "L16/44100", 12: "QCELP/8000", 13: "CN/8000",
		14: "MPA/90000", 15: "G728/8000", 16: "DVI4/11025", 17: "DVI4/22050", 18: "G729/8000",
		25: "CelB/90000", 26: "JPEG/90000", 28: "nv/90000", 31: "H261/90000", 32: "MPV/90000", 33: "MP2T/90000", 34: "H263/90000",
	}
	for id := 0; id < 128; id++ {
		p := PayloadType{ID: uint8(id)}
		p.fillStatic()
		got := ""
		if p.Name != "" {
			got = rtpmapValue(p)
		}
		if got != want[uint8(id)] {
			t.Errorf("PT %d = %q, want %q", id, got, want[uint8(id)])
		}
	}
}
