package xmpp

import (
	"slices"
	"testing"

	"github.com/sigbridge/sigbridge/gateway"
)

func TestAnswerAndHoldDirections(t *testing.T) {
	for _, tt := range []struct{ offer, want, answer string }{
		{"sendrecv", "sendrecv", "sendrecv"},
		{"sendonly", "sendrecv", "recvonly"},
		{"recvonly", "sendrecv", "sendonly"},
		{"inactive", "sendrecv", "inactive"},
		{"sendonly", "sendonly", "inactive"}, // both hold
		{"sendrecv", "sendonly", "sendonly"},
		{"recvonly", "recvonly", "inactive"},
	} {
		if got := answerDir(tt.offer, tt.want); got != tt.answer {
			t.Errorf("answerDir(%s, wants %s) = %s, want %s", tt.offer, tt.want, got, tt.answer)
		}
	}
	for d, want := range map[string]string{"sendrecv": "sendonly", "recvonly": "inactive", "sendonly": "sendonly", "inactive": "inactive"} {
		if got := holdDir(d); got != want {
			t.Errorf("holdDir(%s) = %s, want %s", d, got, want)
		}
	}
}

const editSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=ice-ufrag:u1\r\na=ice-pwd:p1\r\n" +
	"a=sendrecv\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10\r\na=rtcp-fb:111 transport-cc\r\n" +
	"a=rtcp-fb:* nack\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\n" +
	"m=video 0 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n"

func TestSDPEdits(t *testing.T) {
	sd, err := gateway.ParseSDP(editSDP)
	if err != nil {
		t.Fatal(err)
	}
	m := sd.MediaDescriptions[0]
	keepFormats(m, []string{"0", "111"})
	if !slices.Equal(m.MediaName.Formats, []string{"111", "0"}) {
		t.Errorf("formats %v", m.MediaName.Formats)
	}
	for _, a := range m.Attributes {
		if a.Key == "rtpmap" && a.Value == "8 PCMA/8000" {
			t.Error("rtpmap of a dropped format kept")
		}
	}
	if v, _ := m.Attribute("rtcp-fb"); v == "" {
		t.Error("rtcp-fb lines lost")
	}
	setMediaDir(m, "sendonly")
	if mediaDir(sd, 0) != "sendonly" {
		t.Errorf("direction %s", mediaDir(sd, 0))
	}
	addCandidate(m, "candidate:1 1 udp 1 127.0.0.1 5000 typ host") // a duplicate
	addCandidate(m, "2 1 udp 1 127.0.0.1 5002 typ host")
	if c := candidateValues(m); len(c) != 2 || c[1] != "2 1 udp 1 127.0.0.1 5002 typ host" {
		t.Errorf("candidates %v", c)
	}
	setCredentials(sd, "u1", "u2", "p2")
	if u, p := creds(sd, 0); u != "u2" || p != "p2" || len(candidateValues(m)) != 0 {
		t.Errorf("credentials %s %s, candidates %v", u, p, candidateValues(m))
	}
	ans, _ := gateway.ParseSDP(editSDP)
	setBundle(ans, sd) // the video line is rejected: it leaves the group
	if g, _ := ans.Attribute("group"); g != "BUNDLE 0" {
		t.Errorf("group %q", g)
	}
	if isLive(sd.MediaDescriptions[1]) || !isLive(m) {
		t.Error("isLive")
	}
	b, _ := gateway.ParseSDP(editSDP)
	if !sameSDP(sd, sd) || sameSDP(sd, b) {
		t.Error("sameSDP")
	}
	if otherSetup("active") != "passive" || otherSetup("passive") != "active" || otherSetup("") != "passive" {
		t.Error("otherSetup")
	}
}
