package interop

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// TestPlainRTP runs the plain-RTP scenarios against a local gateway that
// anchors them through a real rtpengine (userspace, loopback) the harness
// starts, in a network namespace that holds only lo: a plain-RTP SIP phone
// (PCMU, telephone-event, no ICE, no DTLS) called by and calling pion and
// Chromium browser users, audio counted at both ends, hold and resume,
// hang-up and vanishing phone, DTMF both ways. The plain-RTP offer that a
// gateway without rtpengine refuses is reported unsupported here.
func TestPlainRTP(t *testing.T) {
	if inLoopbackNetns(t) {
		return
	}
	l := startLocalWith(t, LocalOptions{Rtpengine: needTool(t, "rtpengine", "rtpengine-daemon")})
	dep := l.Deployment
	if dep.SIP == nil || !dep.SIP.PlainRTP {
		t.Fatalf("the local gateway did not take the rtpengine configuration (log: %s)", l.LogFile)
	}
	dep.Chromium = chromiumPath(t)
	dep.SIPp = needTool(t, "sipp", "sip-tester")
	scs := append(PlainRTPScenarios(), pick(t, "sip-to-browser/plain-rtp-refused")...)
	rs := runMatrix(t, dep, scs, 8*time.Minute)
	for _, s := range PlainRTPScenarios() {
		wantStatus(t, rs, s.Name, Pass)
	}
	wantStatus(t, rs, "sip-to-browser/plain-rtp-refused", Unsupported)
	for _, r := range rs {
		if r.Status != Pass {
			continue
		}
		if strings.Contains(r.Scenario, "dtmf-tones") && !strings.Contains(r.DTMF, "in-band") {
			t.Errorf("%s: the callee got the digits %s", r.Scenario, r.DTMF)
		}
		if r.Scenario == "browser-to-sip/plain-rtp-dtmf" && !strings.Contains(r.DTMF, "in-band") {
			t.Errorf("%s: the phone got the browser's dtmf message %s, want in-band (rtpengine play DTMF)", r.Scenario, r.DTMF)
		}
	}
}

// TestPlainRTPUnsupported: a deployment without rtpengine reports every
// plain-RTP scenario unsupported, saying why, and runs nothing.
func TestPlainRTPUnsupported(t *testing.T) {
	dep := Deployment{WS: "ws://127.0.0.1:1/ws", SIP: &SIPDeployment{Gateway: "sip:127.0.0.1:1"}, Chromium: "/bin/true",
		SIPp: "/bin/true"}
	for _, s := range PlainRTPScenarios() {
		r := RunOne(context.Background(), dep, s)
		if r.Status != Unsupported || !strings.Contains(r.Reason, "no rtpengine configured") {
			t.Errorf("%s: %s %q, want unsupported for want of rtpengine", s.Name, r.Status, r.Reason)
		}
	}
	dep.SIP.PlainRTP = true
	refused := pick(t, "sip-to-browser/plain-rtp-refused")[0]
	if r := RunOne(context.Background(), dep, refused); r.Status != Unsupported || !strings.Contains(r.Reason, "anchors") {
		t.Errorf("%s against an anchoring deployment: %s %q", refused.Name, r.Status, r.Reason)
	}
}

// TestRTPEnds: two plain-RTP media ends negotiate (offer, answer with the
// offer's telephone-event payload type, RFC 3264 directions), count each
// other's PCMU packets and read each other's RFC 4733 digits.
func TestRTPEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, _, err := parsePlainSDP("v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"); err == nil {
		t.Error("a WebRTC SDP taken as plain RTP")
	}
	a, err := newRTPEnd("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	b, err := newRTPEnd("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	if err := a.offer("sendonly"); err != nil {
		t.Fatal(err)
	}
	offer, _ := a.completeSDP(ctx)
	offer = strings.ReplaceAll(offer, "101", "96") // another telephone-event payload type
	if err := b.answer(offer); err != nil {
		t.Fatal(err)
	}
	answer, _ := b.completeSDP(ctx)
	if !strings.Contains(answer, "a=recvonly") || !strings.Contains(answer, "a=rtpmap:96 telephone-event/8000") {
		t.Fatalf("answer:\n%s", answer)
	}
	if err := a.setRemote(webrtc.SDPTypeAnswer, answer); err != nil {
		t.Fatal(err)
	}
	if err := a.SendTones(ctx, "42"); err != nil {
		t.Fatal(err)
	}
	if err := b.SendTones(ctx, "#"); err != nil {
		t.Fatal(err)
	}
	for {
		ra, _ := a.Report(ctx)
		rb, _ := b.Report(ctx)
		if ra.Audio >= 5 && rb.Audio >= 5 && rb.Tones == "42" && ra.Tones == "#" {
			if rb.TonePackets != 14 || !ra.Connected {
				t.Errorf("b got %d telephone-event packets for 2 digits, a connected %v", rb.TonePackets, ra.Connected)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("a %+v, b %+v", ra, rb)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
