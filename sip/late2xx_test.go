package sip

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/rtpenginetest"
)

// TestOutboundLate2xx: the caller hangs up while the SIPp callee rings, and
// the callee's 200 crosses our CANCEL in each of the ways it can. SIPp
// fails the call unless it gets the ACK and then a BYE with Reason
// SIP;cause=487; the caller never sees an answer, the call counts as
// cancelled (487) and once in sigbridge_sip_late_answers_total.
func TestOutboundLate2xx(t *testing.T) {
	cases := []struct {
		scenario  string
		exactAcks int // 0: at least one (the UAS retransmits its 200 until the ACK)
	}{
		{scenario: "uas_cancel_481_late.xml"}, // 481 to the CANCEL, then the 200
		{scenario: "uas_cancel_race.xml"},     // 200 to the CANCEL, then the INVITE's 200
		// 481, 200, ACK, BYE, then the 200 again (a lost ACK): a second
		// ACK, from the late-2xx table, and no second BYE.
		{scenario: "uas_cancel_481_retrans.xml", exactAcks: 2},
	}
	for _, tc := range cases {
		t.Run(tc.scenario, func(t *testing.T) {
			env := newEnv(t, Config{Routes: []Route{loopbackRoute()}})
			uas := startSIPp(t, tc.scenario, "")
			caller, call := placeToSIP(t, env, "sip:bob@"+uas.addr)
			caller.expect(t, "ringing")
			if err := call.Post(caller, gateway.Hangup{}); err != nil {
				t.Fatal(err)
			}
			uas.wait(t) // it got the ACK and the BYE with its Reason
			waitDone(t, call)
			noAnswer(t, caller)
			msgs := uas.messageLog(t)
			acks := len(receivedRequests(msgs, "ACK"))
			if (tc.exactAcks > 0 && acks != tc.exactAcks) || acks < 1 {
				t.Errorf("SIPp got %d ACKs, want %d (0: at least one)", acks, tc.exactAcks)
			}
			if byes := distinctBranches(receivedRequests(msgs, "BYE")); byes != 1 {
				t.Errorf("SIPp got %d BYEs (distinct Via branches), want 1", byes)
			}
			if got := testutil.ToFloat64(env.a.m.lateAnswers); got != 1 {
				t.Errorf("late answers = %v, want 1", got)
			}
			if got := callsMetric(env, "out", "200"); got != 0 {
				t.Errorf("calls{out,200} = %v, want 0 (the call was not answered)", got)
			}
			waitLegsGone(t, env)
			if got := callsMetric(env, "out", "487"); got != 1 {
				t.Errorf("calls{out,487} = %v, want 1", got)
			}
		})
	}
}

// TestOutboundLate2xxBefore481: the callee had answered when our CANCEL
// reached it: its 200 arrives while the CANCEL waits for its answer, then
// 481 to the CANCEL (sipgo's own CANCEL ended the INVITE's transaction on
// that 481, and the 200 was never ACKed). A raw UDP callee, as SIPp cannot
// send the two back to back without taking our ACK, sent in between, for
// an unexpected message.
func TestOutboundLate2xxBefore481(t *testing.T) {
	env := newEnv(t, Config{Routes: []Route{loopbackRoute()}})
	uas := dialRaw(t, env.a.Addr())
	caller, call := placeToSIP(t, env, "sip:bob@"+uas.local())
	inv := uas.expectRequest(t, "INVITE")
	uas.send(t, uas.answer(inv, 180, ""))
	caller.expect(t, "ringing")
	if err := call.Post(caller, gateway.Hangup{}); err != nil {
		t.Fatal(err)
	}
	cancel := uas.expectRequest(t, "CANCEL")
	uas.send(t, uas.answer(inv, 200, webrtcSDP("active", "rawr", 40200)))
	uas.send(t, uas.answer(cancel, 481, ""))
	ack := uas.expectRequest(t, "ACK")
	if tag, _ := ack.To().Params.Get("tag"); tag != rawTag || ack.CSeq().SeqNo != inv.CSeq().SeqNo {
		t.Errorf("ACK To tag %q CSeq %d, want %q %d", tag, ack.CSeq().SeqNo, rawTag, inv.CSeq().SeqNo)
	}
	bye := uas.expectRequest(t, "BYE")
	if h := bye.GetHeader("Reason"); h == nil || !strings.HasPrefix(h.Value(), "SIP;cause=487") {
		t.Errorf("BYE Reason %v, want SIP;cause=487", h)
	}
	uas.send(t, uas.answer(bye, 200, ""))
	waitDone(t, call)
	waitLegsGone(t, env)
	noAnswer(t, caller)
	if got := testutil.ToFloat64(env.a.m.lateAnswers); got != 1 {
		t.Errorf("late answers = %v, want 1", got)
	}
	if got := callsMetric(env, "out", "487"); got != 1 {
		t.Errorf("calls{out,487} = %v, want 1", got)
	}
}

// TestOutboundLate2xxAfterGiveUp: a callee that never answers our CANCEL;
// the leg gives up on it (cancelWait, shortened here) and ends. Only then
// does the callee's 200 arrive, matching no transaction: it is ACKed and
// BYEd from the late-2xx table, and its retransmission is ACKed again
// without a second BYE. A raw UDP callee, so the test decides when the 200
// leaves.
func TestOutboundLate2xxAfterGiveUp(t *testing.T) {
	env := newEnv(t, Config{Routes: []Route{loopbackRoute()}})
	env.a.cancelWait = 100 * time.Millisecond
	uas := dialRaw(t, env.a.Addr())
	caller, call := placeToSIP(t, env, "sip:bob@"+uas.local())
	inv := uas.expectRequest(t, "INVITE")
	callID := inv.CallID().Value()
	uas.send(t, uas.answer(inv, 180, ""))
	caller.expect(t, "ringing")
	if err := call.Post(caller, gateway.Hangup{}); err != nil {
		t.Fatal(err)
	}
	if c := uas.expectRequest(t, "CANCEL"); c.CallID().Value() != callID {
		t.Fatalf("CANCEL for %s, want %s", c.CallID().Value(), callID)
	}
	waitDone(t, call)
	// Not answered: the leg gives up after cancelWait and ends (its
	// Call-ID leaves the table last).
	waitLegsGone(t, env)
	for deadline := time.Now().Add(10 * time.Second); env.a.dialogs.isOut(callID); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("outbound leg still registered")
		}
	}

	ok := uas.answer(inv, 200, webrtcSDP("active", "rawr", 40200))
	uas.send(t, ok)
	ack := uas.expectRequest(t, "ACK")
	if got := ack.CSeq().SeqNo; got != inv.CSeq().SeqNo {
		t.Errorf("ACK CSeq %d, want the INVITE's %d", got, inv.CSeq().SeqNo)
	}
	if tag, _ := ack.To().Params.Get("tag"); tag != rawTag {
		t.Errorf("ACK To tag %q, want %q", tag, rawTag)
	}
	if want := "sip:bob@" + uas.local(); ack.Recipient.String() != want {
		t.Errorf("ACK Request-URI %s, want the Contact %s", ack.Recipient.String(), want)
	}
	bye := uas.expectRequest(t, "BYE")
	if h := bye.GetHeader("Reason"); h == nil || !strings.HasPrefix(h.Value(), "SIP;cause=487") {
		t.Errorf("BYE Reason %v, want SIP;cause=487", h)
	}
	uas.send(t, uas.answer(bye, 200, ""))

	uas.send(t, ok) // a retransmission: our ACK was lost
	uas.expectRequest(t, "ACK")
	// The ACK is sent after the decision about the BYE, which counts.
	if got := testutil.ToFloat64(env.a.m.lateAnswers); got != 1 {
		t.Errorf("late answers = %v, want 1 (one BYE per dialog)", got)
	}
	noAnswer(t, caller)
}

// TestForkLoserAnsweredAcrossCancel: bob is registered twice; one UA
// answers, the other had answered too when our CANCEL (Reason
// SIP;cause=200) reached it: it sends its 200 and then 481 to the CANCEL.
// That 200 is ACKed and BYEd with the same Reason while the call goes on.
func TestForkLoserAnsweredAcrossCancel(t *testing.T) {
	env := registrarEnv(t)
	loser := dialUA(t, env, "WS", "bob")
	winner := dialUA(t, env, "TCP", "bob")
	ringing := make(chan struct{})
	winner.Answer = func(*sip.Request) (int, string) {
		select {
		case <-ringing:
		case <-time.After(10 * time.Second):
		}
		return 200, webrtcSDP("active", "uaua", 40010)
	}
	loser.Cancel = func(cancel, inv *sip.Request) {
		if inv != nil {
			_ = loser.Reply(inv, 200, webrtcSDP("active", "uaub", 40012))
		}
		_ = loser.Reply(cancel, 481, "")
	}
	mustRegister(t, env, loser)
	mustRegister(t, env, winner)
	caller, call := placeToSIP(t, env, "sip:bob@"+env.a.cfg.Host)
	expectInDialog(t, loser, "INVITE")
	close(ringing)
	expectAnswer(t, caller)
	cancel := expectInDialog(t, loser, "CANCEL")
	if h := cancel.GetHeader("Reason"); h == nil || !strings.Contains(h.Value(), "cause=200") {
		t.Errorf("CANCEL Reason %v, want SIP;cause=200", h)
	}
	expectInDialog(t, loser, "ACK")
	bye := expectInDialog(t, loser, "BYE")
	if h := bye.GetHeader("Reason"); h == nil || !strings.Contains(h.Value(), "cause=200") {
		t.Errorf("BYE Reason %v, want SIP;cause=200 (completed elsewhere)", h)
	}
	expectInDialog(t, winner, "ACK")
	if got := testutil.ToFloat64(env.a.m.lateAnswers); got != 1 {
		t.Errorf("late answers = %v, want 1", got)
	}
	_ = call.Post(caller, gateway.Hangup{})
	expectInDialog(t, winner, "BYE")
	waitDone(t, call)
}

// noAnswer fails if the browser-side leg was handed an answer.
func noAnswer(t *testing.T, l *testLeg) {
	t.Helper()
	for {
		select {
		case ev := <-l.events:
			if _, ok := ev.(gateway.Answer); ok {
				t.Errorf("%s got an answer for a call it hung up", l.name)
			}
		default:
			return
		}
	}
}

// waitLegsGone waits until every SIP leg of env has finished.
func waitLegsGone(t *testing.T, env *testEnv) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for len(env.a.liveLegs()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d SIP legs still live", len(env.a.liveLegs()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// receivedRequests are the requests of method SIPp received, from its
// message log (-trace_msg).
func receivedRequests(log, method string) []string {
	var out []string
	for _, part := range strings.Split(log, "message received")[1:] {
		_, msg, _ := strings.Cut(part, "\n")
		msg = strings.TrimLeft(msg, " \r\n")
		if strings.HasPrefix(msg, method+" ") {
			out = append(out, msg)
		}
	}
	return out
}

var branchRE = regexp.MustCompile(`(?i)\nVia:[^\n]*;branch=([^;\s]+)`)

// distinctBranches counts requests by Via branch: a retransmission is one.
func distinctBranches(msgs []string) int {
	seen := map[string]bool{}
	for _, m := range msgs {
		if b := branchRE.FindStringSubmatch(m); b != nil {
			seen[b[1]] = true
		} else {
			seen[m] = true
		}
	}
	return len(seen)
}

// rawTag is the To tag of a raw callee's responses.
const rawTag = "rawuas1"

// expectRequest reads until a request of method arrives (responses and
// other requests, such as retransmitted CANCELs, are skipped).
func (c *rawClient) expectRequest(t *testing.T, method string) *sip.Request {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if req, ok := c.read(time.Until(deadline)).(*sip.Request); ok && req.Method == sip.RequestMethod(method) {
			return req
		}
	}
	t.Fatalf("no %s within 10 s", method)
	return nil
}

// answer is a raw callee's response to req: an INVITE's with our To tag
// and Contact, and sdp as body.
func (c *rawClient) answer(req *sip.Request, code int, sdp string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, statusText(code))
	for _, v := range req.GetHeaders("Via") {
		fmt.Fprintf(&b, "Via: %s\r\n", v.Value())
	}
	to := req.To().Value()
	if _, ok := req.To().Params.Get("tag"); !ok {
		to += ";tag=" + rawTag
	}
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n", req.From().Value(), to,
		req.CallID().Value(), req.CSeq().Value())
	if req.Method == sip.INVITE {
		fmt.Fprintf(&b, "Contact: <sip:bob@%s>\r\n", c.local())
	}
	if sdp != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(sdp), sdp)
	return b.String()
}

// TestLateTableGenerations: an INVITE is kept one to two generations after
// its last put; each remote tag gets one BYE; drop forgets it at once.
func TestLateTableGenerations(t *testing.T) {
	tab := newLateTable()
	t0 := time.Unix(1000, 0)
	a, b := &lateInvite{}, &lateInvite{}
	tab.put("a", a, t0)
	if c := tab.claim("a", "x", t0); c.rec != a || !c.bye {
		t.Fatalf("first claim: %v %v", c.rec, c.bye)
	}
	if tab.claim("a", "x", t0).bye {
		t.Error("second claim of the same tag wants a BYE again")
	}
	if !tab.claim("a", "y", t0).bye {
		t.Error("another tag (another dialog) wants no BYE")
	}
	tab.put("b", b, t0.Add(lateSpan)) // a new generation: a is in the previous one
	if tab.claim("a", "x", t0.Add(lateSpan)).rec != a {
		t.Error("a forgotten after one generation")
	}
	tab.put("b", b, t0.Add(2*lateSpan)) // and another: a is gone, b moved on
	if tab.claim("a", "x", t0.Add(2*lateSpan)).rec != nil {
		t.Error("a kept beyond two generations")
	}
	if tab.claim("b", "x", t0.Add(2*lateSpan)).rec != b {
		t.Error("b, put again, was forgotten")
	}
	tab.drop("b")
	if rec := tab.claim("b", "z", t0.Add(2*lateSpan)).rec; rec != nil || tab.count() != 0 {
		t.Errorf("after drop: %v, %d left", rec, tab.count())
	}
}

// TestAnchorLate2xx: an anchored call (media: rtpengine, a real
// rtpengine) abandoned while SIPp rings; SIPp answers 481 to the CANCEL,
// then 200: it gets the ACK and the BYE, the caller no answer, and
// rtpengine keeps no session of ours.
func TestAnchorLate2xx(t *testing.T) {
	r := rtpenginetest.Start(t)
	env := newEnv(t, Config{Routes: []Route{anchoredRoute()}, RTPEngine: RTPEngineConfig{NG: []string{r.NG},
		Timeout: 400 * time.Millisecond, PingInterval: 200 * time.Millisecond, SweepInterval: time.Hour}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	uas := startSIPp(t, "uas_cancel_481_late.xml", "")
	caller, call := placeToSIP(t, env, "sip:bob@"+uas.addr)
	caller.expect(t, "ringing")
	if n := len(ourSessions(ctx, t, env.a)); n != 1 {
		t.Fatalf("rtpengine holds %d sessions of ours while ringing, want 1", n)
	}
	if err := call.Post(caller, gateway.Hangup{}); err != nil {
		t.Fatal(err)
	}
	uas.wait(t) // it got the ACK and the BYE with its Reason
	waitDone(t, call)
	waitNoSessions(ctx, t, env.a)
	noAnswer(t, caller)
	if got := testutil.ToFloat64(env.a.m.lateAnswers); got != 1 {
		t.Errorf("late answers = %v, want 1", got)
	}
}

// TestRegisteredLate2xxAfterGiveUp: a call to a registered UA (its Contact
// host never resolves) that never answers our CANCEL; the leg gives up and
// ends, and only then does the UA's 200 arrive: the ACK and the BYE reach
// it over its own connection (the INVITE's flow), over WS, TCP, TLS and
// UDP.
func TestRegisteredLate2xxAfterGiveUp(t *testing.T) {
	for _, tr := range flowTransports {
		t.Run(tr, func(t *testing.T) {
			env := registrarEnv(t)
			env.a.cancelWait = 100 * time.Millisecond
			ua := dialUA(t, env, tr, "bob")
			ringing := make(chan *sip.Request, 1)
			ua.Cancel = func(_, inv *sip.Request) { // no answer to the CANCEL
				if inv != nil { // nil: a retransmission (UDP)
					ringing <- inv
				}
			}
			mustRegister(t, env, ua)
			caller, call := placeToSIP(t, env, "sip:bob@"+env.a.cfg.Host)
			expectInDialog(t, ua, "INVITE")
			caller.expect(t, "ringing")
			if err := call.Post(caller, gateway.Hangup{}); err != nil {
				t.Fatal(err)
			}
			expectInDialog(t, ua, "CANCEL")
			var inv *sip.Request
			select {
			case inv = <-ringing:
			case <-time.After(10 * time.Second):
				t.Fatal("no CANCEL handed to the UA")
			}
			waitDone(t, call)
			waitLegsGone(t, env)
			if err := ua.Reply(inv, 200, webrtcSDP("active", "uaua", 40010)); err != nil {
				t.Fatal(err)
			}
			expectInDialog(t, ua, "ACK")
			bye := expectInDialog(t, ua, "BYE")
			if h := bye.GetHeader("Reason"); h == nil || !strings.HasPrefix(h.Value(), "SIP;cause=487") {
				t.Errorf("BYE Reason %v, want SIP;cause=487", h)
			}
			if got := testutil.ToFloat64(env.a.m.lateAnswers); got != 1 {
				t.Errorf("late answers = %v, want 1", got)
			}
			noAnswer(t, caller)
		})
	}
}
