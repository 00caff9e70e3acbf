package interop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
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
// hang-up and vanishing phone, DTMF both ways (the browser's dtmf message
// reaches the phone as INFO, the gateway's default); afterwards rtpengine
// holds no session (ng list). The plain-RTP offer that a gateway without
// rtpengine refuses is reported unsupported here. Scenarios with a known
// issue of the gateway may be reported XFAIL.
func TestPlainRTP(t *testing.T) {
	if inLoopbackNetns(t) {
		return
	}
	l := startPlainRTPLocal(t, false)
	dep := l.Deployment
	dep.SIPp = needTool(t, "sipp", "sip-tester")
	scs := append(PlainRTPScenarios(), pick(t, "sip-to-browser/plain-rtp-refused")...)
	for i := range scs {
		scs[i].Known = knownIssue(scs[i].Name)
	}
	rs := runMatrix(t, dep, scs, 8*time.Minute)
	for _, s := range scs[:len(scs)-1] {
		want := Pass
		if s.Known != nil && statusOf(rs, s.Name) == KnownFailure {
			want = KnownFailure
		}
		wantStatus(t, rs, s.Name, want)
	}
	wantStatus(t, rs, "sip-to-browser/plain-rtp-refused", Unsupported)
	for _, r := range rs {
		switch {
		case r.Status != Pass:
		case strings.Contains(r.Scenario, "dtmf-tones") && !strings.Contains(r.DTMF, "in-band"):
			t.Errorf("%s: the callee got the digits %s", r.Scenario, r.DTMF)
		case r.Scenario == "browser-to-sip/plain-rtp-dtmf" && !strings.Contains(r.DTMF, "as signaling"):
			t.Errorf("%s: the phone got the browser's dtmf message %s, want INFO (inject_dtmf is off)", r.Scenario, r.DTMF)
		}
	}
	// Every call ended (hang-ups both ways, a vanished phone): the gateway
	// deleted each one's rtpengine session.
	deadline := time.Now().Add(5 * time.Second)
	for calls := rtpengineCalls(t, l.rtp.NG); len(calls) > 0; calls = rtpengineCalls(t, l.rtp.NG) {
		if time.Now().After(deadline) {
			t.Errorf("rtpengine still holds %d calls after every scenario ended: %v", len(calls), calls)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPlainRTPInjectDTMF: with rtpengine.inject_dtmf the browser's dtmf
// message reaches the plain-RTP phone in-band: rtpengine's play DTMF, counted
// by the phone as telephone-event packets.
func TestPlainRTPInjectDTMF(t *testing.T) {
	if inLoopbackNetns(t) {
		return
	}
	l := startPlainRTPLocal(t, true)
	rs := runMatrix(t, l.Deployment, pick(t, "browser-to-sip/plain-rtp-dtmf", "browser-to-sip/plain-rtp-answered-audio"),
		2*time.Minute)
	wantStatus(t, rs, "browser-to-sip/plain-rtp-answered-audio", Pass)
	wantStatus(t, rs, "browser-to-sip/plain-rtp-dtmf", Pass)
	for _, r := range rs {
		if r.Scenario == "browser-to-sip/plain-rtp-dtmf" && r.Status == Pass && !strings.Contains(r.DTMF, "in-band") {
			t.Errorf("%s: the phone got the browser's dtmf message %s, want in-band (rtpengine play DTMF)", r.Scenario, r.DTMF)
		}
	}
}

// startPlainRTPLocal starts a local deployment with an rtpengine and
// Chromium for the plain-RTP scenarios.
func startPlainRTPLocal(t *testing.T, inject bool) *Local {
	t.Helper()
	l := startLocalWith(t, LocalOptions{Rtpengine: needTool(t, "rtpengine", "rtpengine-daemon"), InjectDTMF: inject})
	if l.SIP == nil || !l.SIP.PlainRTP {
		t.Fatalf("the local gateway did not take the rtpengine configuration (log: %s)", l.LogFile)
	}
	l.Chromium = chromiumPath(t)
	return l
}

func statusOf(rs []Result, name string) Status {
	for _, r := range rs {
		if r.Scenario == name {
			return r.Status
		}
	}
	return ""
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

// rtpengineCalls lists the calls the rtpengine at addr holds (ng "list").
func rtpengineCalls(t *testing.T, addr string) []string {
	t.Helper()
	conn, err := net.Dial("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cookie := newToken()[:8]
	if _, err := conn.Write([]byte(cookie + " d7:command4:list5:limiti1000ee")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 64<<10)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("ng list: %v", err)
	}
	body, ok := strings.CutPrefix(string(buf[:n]), cookie+" ")
	if !ok {
		t.Fatalf("ng list: reply %q", buf[:n])
	}
	v, _, err := bdecode(body)
	d, isDict := v.(map[string]any)
	if err != nil || !isDict || d["result"] != "ok" {
		t.Fatalf("ng list: %q (%v)", body, err)
	}
	var calls []string
	list, _ := d["calls"].([]any)
	for _, c := range list {
		if s, ok := c.(string); ok {
			calls = append(calls, s)
		}
	}
	return calls
}

// bdecode reads one bencoded value (byte strings, integers, lists and
// dictionaries) from the front of s.
func bdecode(s string) (any, string, error) {
	if s == "" {
		return nil, s, errors.New("bencode: empty")
	}
	switch c := s[0]; {
	case c == 'i':
		end := strings.IndexByte(s, 'e')
		if end < 0 {
			return nil, s, errors.New("bencode: open integer")
		}
		n, err := strconv.Atoi(s[1:end])
		return n, s[end+1:], err
	case c == 'l' || c == 'd':
		var items []any
		rest := s[1:]
		for rest != "" && rest[0] != 'e' {
			var v any
			var err error
			if v, rest, err = bdecode(rest); err != nil {
				return nil, rest, err
			}
			items = append(items, v)
		}
		if rest == "" {
			return nil, rest, errors.New("bencode: open list")
		}
		if c == 'l' {
			return items, rest[1:], nil
		}
		d := map[string]any{}
		for i := 0; i+1 < len(items); i += 2 {
			k, _ := items[i].(string)
			d[k] = items[i+1]
		}
		return d, rest[1:], nil
	case c >= '0' && c <= '9':
		colon := strings.IndexByte(s, ':')
		if colon < 0 {
			return nil, s, errors.New("bencode: bad string")
		}
		n, err := strconv.Atoi(s[:colon])
		if err != nil || colon+1+n > len(s) {
			return nil, s, errors.New("bencode: bad string length")
		}
		return s[colon+1 : colon+1+n], s[colon+1+n:], nil
	}
	return nil, s, fmt.Errorf("bencode: unexpected %q", s[0])
}

func TestBdecode(t *testing.T) {
	v, rest, err := bdecode("d5:callsl3:abc1:xe6:result2:ok3:numi-7eeZ")
	d, _ := v.(map[string]any)
	if err != nil || rest != "Z" || d["result"] != "ok" || d["num"] != -7 || len(d["calls"].([]any)) != 2 {
		t.Fatalf("%v %q %v", v, rest, err)
	}
	for _, bad := range []string{"", "i12", "l1:a", "5:ab", "x"} {
		if _, _, err := bdecode(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}
