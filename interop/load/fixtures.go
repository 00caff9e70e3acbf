package load

import (
	"embed"
	"encoding/json"
	"fmt"
	"strings"
)

// Chromium 156 SDPs (copied from the shared browser fixtures; see
// testdata/README.md).
//
//go:embed testdata/*.sdp
var fixtures embed.FS

// media is what one side of a call sends: its SDP and the three
// candidates it trickles after it, all pre-encoded as JSON values.
type media struct {
	sdp   []byte   // the SDP as a JSON string
	cands [][]byte // candidate objects (RTCIceCandidate.toJSON())
}

// loadMedia reads a fixture SDP and builds three Chromium-style host
// candidates for its first m-line (mid 0, the BUNDLE transport): two UDP
// and one TCP active, with the SDP's ufrag, on loopback.
func loadMedia(file string, port int) (media, error) {
	b, err := fixtures.ReadFile("testdata/" + file)
	if err != nil {
		return media{}, fmt.Errorf("load: fixture: %w", err)
	}
	sdp := string(b)
	ufrag := sdpAttr(sdp, "ice-ufrag")
	if ufrag == "" {
		return media{}, fmt.Errorf("load: fixture %s has no a=ice-ufrag", file)
	}
	var m media
	if m.sdp, err = json.Marshal(sdp); err != nil {
		return media{}, fmt.Errorf("load: %w", err)
	}
	lines := []string{
		fmt.Sprintf("candidate:1383569927 1 udp 2113937151 127.0.0.1 %d typ host generation 0 ufrag %s network-cost 999", port, ufrag),
		fmt.Sprintf("candidate:2568051687 1 udp 2113942271 127.0.0.1 %d typ host generation 0 ufrag %s network-cost 999", port+1, ufrag),
		fmt.Sprintf("candidate:3183418365 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0 ufrag %s network-cost 999", ufrag),
	}
	for _, l := range lines {
		c, err := json.Marshal(map[string]any{"candidate": l, "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": ufrag})
		if err != nil {
			return media{}, fmt.Errorf("load: %w", err)
		}
		m.cands = append(m.cands, c)
	}
	return m, nil
}

// sdpAttr returns the value of the first a=name: line.
func sdpAttr(sdp, name string) string {
	for l := range strings.SplitSeq(sdp, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(l, "\r"), "a="+name+":"); ok {
			return v
		}
	}
	return ""
}

// offerAnswer returns the caller's and the callee's media for o.Media.
func offerAnswer(kind string) (offer, answer media, err error) {
	offerFile, answerFile := "chrome156_offer_audio_only.sdp", "answer_audio_only.sdp"
	if kind == "av" {
		offerFile, answerFile = "chrome156_offer_av_dc_initial.sdp", "chrome156_answer_recvonly_initial.sdp"
	}
	if offer, err = loadMedia(offerFile, 50000); err != nil {
		return
	}
	answer, err = loadMedia(answerFile, 52000)
	return
}
