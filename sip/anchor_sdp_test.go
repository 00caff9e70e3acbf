package sip

import (
	"strings"
	"testing"
)

func TestAnchorSDPHelpers(t *testing.T) {
	plain := mustSDP(t, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\nm=video 0 RTP/SAVP 96\r\n")
	if !isPlainRTP(plain) {
		t.Error("RTP/AVP audio (and a rejected SAVP video) is not plain RTP")
	}
	web := mustSDP(t, webrtcSDP("actpass", "abcd", 40000))
	if isPlainRTP(web) {
		t.Error("a WebRTC SDP counts as plain RTP")
	}
	if checkPlain(mustSDP(t, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n")) == nil {
		t.Error("an SDP without live media passes checkPlain")
	}

	// pion's re-offer: c=0.0.0.0, port 9, candidates.
	reoffer := strings.Replace(strings.Replace(webrtcSDP("actpass", "abcd", 40000),
		"c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0", 1), "m=audio 40000", "m=audio 9", 1)
	reoffer = strings.Replace(reoffer, "a=end-of-candidates", "a=candidate:2 1 udp 1 127.0.0.2 40001 typ host\r\na=end-of-candidates", 1)
	sd := mustSDP(t, reoffer)
	fixed := withDefaultAddress(sd)
	m := fixed.MediaDescriptions[0]
	if m.ConnectionInformation.Address.Address != "127.0.0.1" || m.MediaName.Port.Value != 40000 {
		t.Errorf("default address %s:%d, want the best candidate 127.0.0.1:40000",
			m.ConnectionInformation.Address.Address, m.MediaName.Port.Value)
	}
	if sd.MediaDescriptions[0].MediaName.Port.Value != 9 {
		t.Error("withDefaultAddress changed its input")
	}

	noGroup := mustSDP(t, strings.Replace(webrtcSDP("actpass", "abcd", 40000), "a=group:BUNDLE 0\r\n", "", 1))
	bundleSingle(noGroup)
	if g, _ := noGroup.Attribute("group"); g != "BUNDLE 0" {
		t.Errorf("group %q, want BUNDLE 0", g)
	}
	if _, ok := withoutGroup(noGroup).Attribute("group"); ok {
		t.Error("withoutGroup kept the group")
	}
	withSSRC := mustSDP(t, strings.Replace(webrtcSDP("actpass", "abcd", 40000), "a=mid:0", "a=mid:0\r\na=ssrc:1 cname:x", 1))
	stripSSRC(withSSRC)
	if _, ok := withSSRC.MediaDescriptions[0].Attribute("ssrc"); ok {
		t.Error("stripSSRC kept a=ssrc")
	}
}
