package sip

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/ws/wstest"
)

// answeringLeg is a browser-side callee that answers the offer and then
// leaves every event to the test.
func answeringLeg(t *testing.T, env *testEnv, name string) chan *testLeg {
	ch := make(chan *testLeg, 1)
	env.users.handle(name, func(req gateway.DialRequest) gateway.Leg {
		l := newTestLeg(name)
		l.call = req.Call
		go func() {
			select {
			case ev := <-l.events:
				if o, ok := ev.(gateway.Offer); ok {
					_ = l.call.Post(l, gateway.Answer{SDP: answerFor(o.SDP)})
				}
			case <-time.After(10 * time.Second):
			}
			ch <- l
		}()
		return l
	})
	return ch
}

// TestInboundInfoDTMF: SIPp sends INFO dtmf-relay and dtmf in an answered
// call; the digits reach the browser side in order with their durations.
// An INFO with an unknown body gets 415, one naming an Info-Package 469,
// and neither ends the call (SIPp's scenario checks the codes and that the
// last INFO and the BYE are still answered).
func TestInboundInfoDTMF(t *testing.T) {
	env := trustedEnv(t)
	legs := answeringLeg(t, env, "dtmf")
	uac := startSIPp(t, "uac_info_dtmf.xml", env.a.Addr(), "-s", "dtmf")
	var callee *testLeg
	select {
	case callee = <-legs:
	case <-time.After(10 * time.Second):
		t.Fatal("no call reached the browser user")
	}
	want := []gateway.DTMF{{Digits: "1", Duration: 100 * time.Millisecond},
		{Digits: "5", Duration: 100 * time.Millisecond}, {Digits: "9", Duration: 250 * time.Millisecond}}
	for _, w := range want {
		if got := callee.expect(t, "dtmf").(gateway.DTMF); got != w {
			t.Errorf("dtmf %+v, want %+v", got, w)
		}
	}
	if h := callee.expect(t, "hangup").(gateway.Hangup); h.Reason.Condition != gateway.CondSuccess {
		t.Errorf("hangup %+v, want success", h.Reason)
	}
	uac.wait(t)
}

// TestOutboundInfoDTMF: the browser side sends four digits; the SIP peer
// gets one INFO dtmf-relay per digit, in order, each after the previous
// one was answered. A 486 to the third does not end the call.
func TestOutboundInfoDTMF(t *testing.T) {
	caller, call, uas := answeredToSIP(t, "uas_info_dtmf.xml")
	if err := call.Post(caller, gateway.DTMF{Digits: "13*#", Duration: 120 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	got := waitInfos(t, uas, 4)
	if strings.Join(got, " ") != "1/120 3/120 */120 #/120" {
		t.Fatalf("INFO bodies %q, want 1 3 * # at 120 ms", got)
	}
	if !strings.Contains(uas.messageLog(t), "Content-Type: application/dtmf-relay") {
		t.Error("INFO without Content-Type application/dtmf-relay")
	}
	_ = call.Post(caller, gateway.Hangup{})
	uas.wait(t)
	waitDone(t, call)
}

func TestParseDTMFBodies(t *testing.T) {
	ok := map[string]gateway.DTMF{
		"Signal=1\r\nDuration=100":  {Digits: "1", Duration: 100 * time.Millisecond},
		"signal= #\r\nduration=5":   {Digits: "#", Duration: dtmfMin},
		"Signal=11\nDuration=99999": {Digits: "#", Duration: dtmfMax},
		"Signal=a":                  {Digits: "A", Duration: dtmfDefault},
	}
	for body, want := range ok {
		got, err := parseDTMFRelay([]byte(body))
		if err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", body, got, err, want)
		}
	}
	for _, body := range []string{"", "Duration=100", "Signal=12", "Signal=1\nDuration=x", "Signal=E"} {
		if _, err := parseDTMFRelay([]byte(body)); err == nil {
			t.Errorf("%q accepted", body)
		}
	}
	if got, err := parseDTMFBare([]byte("7\r\n")); err != nil || got.Digits != "7" {
		t.Errorf("bare 7: %+v %v", got, err)
	}
	if _, err := parseDTMFBare([]byte("77")); err == nil {
		t.Error("bare 77 accepted")
	}
}

var extFeatures = map[string]any{"features": []string{"callId", "ringing", "end-of-candidates", "error"}}

// TestInfoDTMFToWSBrowser: SIPp's INFOs reach a browser-dialect client on
// the real WebSocket adapter as dtmf messages, with the call's callId.
func TestInfoDTMFToWSBrowser(t *testing.T) {
	env := newWSEnv(t, Config{TrustedSources: []string{"127.0.0.1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := env.browserWith(ctx, t, "bob", extFeatures, wstest.PeerOptions{})
	uac := startSIPp(t, "uac_info_dtmf.xml", env.a.Addr(), "-s", "bob")
	want := []struct {
		digits string
		ms     int
	}{{"1", 100}, {"5", 100}, {"9", 250}}
	for i, w := range want {
		m, err := b.Client.ExpectType(ctx, "dtmf")
		if err != nil {
			t.Fatalf("dtmf %d: %v (pending %v)", i, err, b.Client.Pending())
		}
		if m.Str("digits") != w.digits || m.Int("duration") != w.ms || m.Str("callId") == "" || m.Str("target") != "bob" {
			t.Fatalf("dtmf %d: %v, want %s/%d to bob with callId", i, m, w.digits, w.ms)
		}
	}
	select {
	case <-b.HangUps():
	case <-ctx.Done():
		t.Fatal("browser got no hang-up")
	}
	uac.wait(t)
}

// TestWSBrowserDTMFToSIP: a browser-dialect client's dtmf message becomes
// one INFO dtmf-relay per digit at SIPp, in order, each sent after the
// previous one's final response; SIPp's 486 to the third does not end the
// call, which the browser then hangs up.
func TestWSBrowserDTMFToSIP(t *testing.T) {
	env := newWSEnv(t, Config{Routes: []Route{loopbackRoute()}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	uas := startSIPp(t, "uas_info_dtmf.xml", "")
	b := env.browserWith(ctx, t, "alice", extFeatures, wstest.PeerOptions{CallID: "d1"})
	if err := b.Call(ctx, "sip:bob@"+uas.addr); err != nil {
		t.Fatal(err)
	}
	for b.PC.RemoteDescription() == nil { // the answer came back
		select {
		case <-ctx.Done():
			t.Fatal("call not answered")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := b.Client.Send(map[string]any{"type": "dtmf", "callId": "d1", "digits": "13*#", "duration": 120}); err != nil {
		t.Fatal(err)
	}
	got := waitInfos(t, uas, 4)
	if strings.Join(got, " ") != "1/120 3/120 */120 #/120" {
		t.Fatalf("INFO bodies %q, want 1 3 * # at 120 ms", got)
	}
	if err := b.Client.Send(map[string]any{"type": "hang-up", "callId": "d1"}); err != nil {
		t.Fatal(err)
	}
	uas.wait(t)
}

var (
	infoBodyRE = regexp.MustCompile(`(?m)^Signal=(.)\r?\nDuration=(\d+)`)
	infoCSeqRE = regexp.MustCompile(`(?m)^CSeq: \d+ INFO\r?$`)
)

// waitInfos waits until SIPp received n INFOs and answered all of them
// (each CSeq line appears in the request and in its response), and returns
// their bodies as "digit/duration".
func waitInfos(t *testing.T, uas *sippProc, n int) []string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		log := uas.messageLog(t)
		if len(infoCSeqRE.FindAllString(log, -1)) >= 2*n || time.Now().After(deadline) {
			var got []string
			for _, m := range infoBodyRE.FindAllStringSubmatch(log, -1) {
				got = append(got, m[1]+"/"+m[2])
			}
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}
