package interop

import (
	"strings"
	"testing"
	"time"
)

// TestDTMF runs the DTMF scenarios against a local gateway in a network
// namespace that holds only lo: RFC 4733 digits from a pion browser end
// and from Chromium's RTCRtpSender.dtmf reach the SIP UA as
// telephone-event packets (the gateway keeps telephone-event in both SDPs),
// and back from a SIP caller; the browser's dtmf message reaches the SIP UA
// as INFO, and INFO from a SIP caller reaches a pion browser and Chromium
// as dtmf messages.
func TestDTMF(t *testing.T) {
	if inLoopbackNetns(t) {
		return
	}
	l := startLocal(t)
	dep := l.Deployment
	dep.Chromium = chromiumPath(t)
	scs := DTMFScenarios()
	rs := runMatrix(t, dep, scs, 4*time.Minute)
	for _, s := range scs {
		wantStatus(t, rs, s.Name, Pass)
	}
	for _, r := range rs {
		inBand := strings.Contains(r.DTMF, "in-band")
		if want := strings.Contains(r.Scenario, "tones"); r.Status == Pass && inBand != want {
			t.Errorf("%s: callee got the digits %s", r.Scenario, r.DTMF)
		}
		if r.Status == Pass && r.CalleeMedia != nil && strings.Contains(r.Scenario, "tones") && r.CalleeMedia.TonePackets < len(dtmfDigits) {
			t.Errorf("%s: %d telephone-event packets for %d digits", r.Scenario, r.CalleeMedia.TonePackets, len(dtmfDigits))
		}
	}
}
