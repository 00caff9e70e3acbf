package jingle

import (
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

// TestDocumentedSDPLosses feeds one SDP carrying every SDP-side loss listed
// in doc.go and checks the exact SDP that comes back.
func TestDocumentedSDPLosses(t *testing.T) {
	in := strings.Join([]string{
		"v=0",
		"o=alice 99 5 IN IP4 192.0.2.1",
		"s=A call",
		"i=info",
		"u=http://example.org/",
		"e=a@example.org",
		"p=+1555",
		"c=IN IP4 192.0.2.1",
		"b=AS:100",
		"t=1 2",
		"a=ice-lite",
		"a=ice-options:trickle renomination",
		"a=msid-semantic: WMS x",
		"a=group:LS 0 v",
		"a=group:BUNDLE 0 v",
		"a=fingerprint:sha-1 00:11",
		"a=fingerprint:sha-256 AA:BB",
		"a=ice-ufrag:uf",
		"a=ice-pwd:pw",
		"a=sendonly",
		"m=audio 5004 UDP/TLS/RTP/SAVPF 0 8",
		"c=IN IP4 192.0.2.1",
		"a=rtcp:5005 IN IP4 192.0.2.1",
		"a=rtcp-rsize",
		"a=rtcp-xr:rcvr-rtt=all",
		"a=candidate:1 1 UDP 10 192.0.2.1 5004 typ host network-id 1 network-cost 10",
		"a=candidate:2 1 udp 10 192.0.2.1 5006 typ host ufrag stale",
		"a=end-of-candidates",
		"a=label:1",
		"a=x-vendor:thing",
		"a=fmtp:8 a=1; b=2;;",
		"a=rtpmap:8 PCMA/8000/1",
		"a=ssrc:7 cname:c",
		"a=msid:s t",
		"a=extmap-allow-mixed",
		"m=video 5008 UDP/TLS/RTP/SAVPF 96",
		"a=mid:v",
		"a=rid:r send",
		"a=simulcast:send r",
		"a=extmap-allow-mixed",
		"a=rtpmap:96 VP8/90000",
		"a=ptime:20",
	}, "\r\n") + "\r\n"
	want := strings.Join([]string{
		"v=0",
		"o=- 1 2 IN IP4 127.0.0.1",
		"s=-",
		"t=0 0",
		"a=group:BUNDLE 0 v",
		"a=extmap-allow-mixed",
		"a=msid-semantic: WMS *",
		"m=audio 9 UDP/TLS/RTP/SAVPF 0 8",
		"c=IN IP4 0.0.0.0",
		"a=candidate:1 1 udp 10 192.0.2.1 5004 typ host generation 0 ufrag uf",
		"a=ice-ufrag:uf",
		"a=ice-pwd:pw",
		"a=ice-options:trickle",
		"a=fingerprint:sha-256 AA:BB",
		"a=fingerprint:sha-1 00:11",
		"a=setup:actpass",
		"a=mid:0",
		"a=sendonly",
		"a=msid:s t",
		"a=rtcp-mux",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:8 PCMA/8000/1",
		"a=fmtp:8 a=1;b=2",
		"a=ssrc:7 cname:c",
		"a=ssrc:7 msid:s t",
		"m=video 9 UDP/TLS/RTP/SAVPF 96",
		"c=IN IP4 0.0.0.0",
		"a=ice-ufrag:uf",
		"a=ice-pwd:pw",
		"a=ice-options:trickle",
		"a=fingerprint:sha-256 AA:BB",
		"a=fingerprint:sha-1 00:11",
		"a=setup:actpass",
		"a=mid:v",
		"a=sendonly",
		"a=rtcp-mux",
		"a=rtpmap:96 VP8/90000",
		"a=ptime:20",
	}, "\r\n") + "\r\n"
	var sd sdp.SessionDescription
	if err := sd.Unmarshal([]byte(in)); err != nil {
		t.Fatal(err)
	}
	mids := NewMidTable()
	j, err := SDPToJingle(&sd, Initiator, SDPToJingleOptions{Mids: mids})
	if err != nil {
		t.Fatal(err)
	}
	back, err := JingleToSDP(j, Initiator, JingleToSDPOptions{Mids: mids, Origin: sdp.Origin{SessionID: 1, SessionVersion: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if got := marshalSDP(t, back); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
