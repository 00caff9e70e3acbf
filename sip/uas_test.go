package sip

import (
	"fmt"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sigbridge/sigbridge/gateway"
)

func trustedEnv(t *testing.T) *testEnv {
	return newEnv(t, Config{TrustedSources: []string{"127.0.0.1/32"}})
}

func waitMetric(t *testing.T, env *testEnv, dir, code string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for callsMetric(env, dir, code) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("calls{%s,%s} never counted", dir, code)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestInboundAnswered(t *testing.T) {
	env := trustedEnv(t)
	uac := startSIPp(t, "uac_call.xml", env.a.Addr(), "-s", "answer")
	callee := env.users.leg(t, "answer")
	uac.wait(t)
	waitMetric(t, env, "in", "200")
	h := callee.expect(t, "hangup").(gateway.Hangup)
	if h.Reason.Condition != gateway.CondSuccess {
		t.Errorf("callee hangup %+v, want success", h.Reason)
	}
	if callee.call.From() == "" || callee.call.From()[:4] != "sip:" {
		t.Errorf("caller address %q is not a sip: address", callee.call.From())
	}
}

func TestInboundRefused(t *testing.T) {
	cases := []struct{ scenario, user, code string }{
		{"uac_decline.xml", "decline", "603"},
		{"uac_busy.xml", "busy", "486"},
		{"uac_offline.xml", "offline", "480"},
		{"uac_unknown.xml", "nobody", "404"},
	}
	for _, tc := range cases {
		t.Run(tc.user, func(t *testing.T) {
			env := trustedEnv(t)
			uac := startSIPp(t, tc.scenario, env.a.Addr(), "-s", tc.user)
			uac.wait(t)
			waitMetric(t, env, "in", tc.code)
		})
	}
}

func TestInboundCancel(t *testing.T) {
	env := trustedEnv(t)
	uac := startSIPp(t, "uac_cancel.xml", env.a.Addr(), "-s", "ring")
	callee := env.users.leg(t, "ring")
	uac.wait(t)
	h := callee.expect(t, "hangup").(gateway.Hangup)
	if h.Reason.Condition != gateway.CondCancel {
		t.Errorf("callee hangup %+v, want cancel", h.Reason)
	}
	waitMetric(t, env, "in", "487")
}

func TestInboundUntrustedRefused(t *testing.T) {
	env := newEnv(t, Config{})
	uac := startSIPp(t, "uac_forbidden.xml", env.a.Addr(), "-s", "answer")
	uac.wait(t)
	waitMetric(t, env, "in", "403")
}

// TestInboundByeBeforeAck: the caller's ACK for our 200 is lost (under
// overload the kernel drops datagrams of a full receive queue) and its BYE
// comes first. The BYE, which can only carry our To tag because the caller
// has our 200, confirms the dialog: it is answered 200 well before Timer H
// (32 s) would have given up on the ACK, the browser leg is hung up, and
// the gateway sends no BYE of its own for "no ACK".
func TestInboundByeBeforeAck(t *testing.T) {
	env := trustedEnv(t)
	c := dialRaw(t, env.a.Addr())
	callID, callee, ok := c.answeredCall(t, env, "byeack", "ba1")
	bye := fmt.Sprintf("BYE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKbye%d\r\nFrom: %s\r\nTo: %s\r\n"+
		"Call-ID: %s\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		ok.Contact().Address.String(), c.local(), time.Now().UnixNano(), ok.From().Value(), ok.To().Value(), callID)
	c.send(t, bye)
	var byeOK *sip.Response
	for deadline := time.Now().Add(10 * time.Second); byeOK == nil && time.Now().Before(deadline); {
		switch m := c.read(time.Until(deadline)).(type) {
		case *sip.Response:
			if m.CSeq().MethodName == sip.BYE {
				byeOK = m
			} // else a retransmission of our 200, unACKed
		case *sip.Request:
			t.Fatalf("the gateway sent %s while the caller's BYE waited", m.Method)
		}
	}
	if byeOK == nil || byeOK.StatusCode != 200 {
		t.Fatalf("BYE before the ACK: got %v, want 200 before Timer H", byeOK)
	}
	waitDone(t, callee.call)
}

// TestInboundTryingOnlyWhenSlow: the gateway sends no 100 Trying of its own
// at once; sipgo's INVITE server transaction sends one 200 ms after the
// INVITE when nothing else was sent by then (RFC 3261 §17.2.1). A callee
// that rings and answers at once: 180 and 200, and a 100 only if the box
// was too slow for that (then never before the 200 ms). A callee that
// neither rings nor answers: a 100, so the caller stops retransmitting.
func TestInboundTryingOnlyWhenSlow(t *testing.T) {
	env := trustedEnv(t)
	invite := func(c *rawClient, user string) time.Time {
		callID := fmt.Sprintf("trying-%s-%d@127.0.0.1", user, time.Now().UnixNano())
		c.send(t, c.rawRequest("INVITE", "sip:"+user+"@"+env.a.Addr(), []string{"Content-Type: application/sdp",
			"!Call-ID: " + callID}, webrtcSDP("actpass", "rawc", 30000)))
		return time.Now()
	}

	fast := dialRaw(t, env.a.Addr())
	sent := invite(fast, "answer")
	callee := env.users.leg(t, "answer")
	var codes []int
	var ok200 *sip.Response
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		res, ok := fast.read(time.Until(deadline)).(*sip.Response)
		if !ok {
			continue
		}
		codes = append(codes, res.StatusCode)
		if res.StatusCode == 100 && time.Since(sent) < sip.Timer_1xx {
			t.Errorf("100 Trying %v after the INVITE: sent at once, not by the 200 ms timer", time.Since(sent))
		}
		if res.StatusCode >= 200 {
			ok200 = res
			break
		}
	}
	if len(codes) == 0 || codes[len(codes)-1] != 200 {
		t.Fatalf("answered INVITE got %v, want 180 and 200", codes)
	}
	if !slicesContains(codes, 180) {
		t.Errorf("answered INVITE got %v, no 180", codes)
	}
	for i, method := range []string{"ACK", "BYE"} {
		fast.send(t, fmt.Sprintf("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s%d\r\nFrom: %s\r\nTo: %s\r\n"+
			"Call-ID: %s\r\nCSeq: %d %s\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
			method, ok200.Contact().Address.String(), fast.local(), method, time.Now().UnixNano(),
			ok200.From().Value(), ok200.To().Value(), ok200.CallID().Value(), i+1, method))
	}
	waitDone(t, callee.call)

	silent := make(chan *testLeg, 1)
	env.users.handle("silent", func(req gateway.DialRequest) gateway.Leg {
		l := newTestLeg("silent") // takes the offer, never rings or answers
		l.call = req.Call
		silent <- l
		return l
	})
	slow := dialRaw(t, env.a.Addr())
	invite(slow, "silent")
	res, ok := slow.read(5 * time.Second).(*sip.Response)
	if !ok || res.StatusCode != 100 {
		t.Fatalf("INVITE to a callee that does not ring: got %v, want 100 Trying", res)
	}
	l := <-silent
	_ = l.call.Post(l, gateway.Hangup{Reason: gateway.Reason{Condition: gateway.CondBusy, Code: 486}})
	if res := slow.final(5 * time.Second); res == nil || res.StatusCode != 486 {
		t.Errorf("after the callee's busy: got %v, want 486", res)
	}
	waitDone(t, l.call)

	// The receive queue was late a moment ago (as the UDP reader notes a
	// datagram that waited over the shed age): the 100 goes at once, before
	// the callee rings or answers, since a retransmission may be right
	// behind the INVITE and would stop sipgo's timer.
	env.a.sockShed.lastLate.Store(time.Now().UnixNano())
	late := dialRaw(t, env.a.Addr())
	sent = invite(late, "silent")
	l = <-silent
	res, ok = late.read(5 * time.Second).(*sip.Response)
	if !ok || res.StatusCode != 100 || time.Since(sent) >= sip.Timer_1xx {
		t.Errorf("INVITE while the queue is late: got %v after %v, want 100 Trying at once", res, time.Since(sent))
	}
	_ = l.call.Post(l, gateway.Hangup{Reason: gateway.Reason{Condition: gateway.CondBusy, Code: 486}})
	if res := late.final(5 * time.Second); res == nil || res.StatusCode != 486 {
		t.Errorf("after the callee's busy: got %v, want 486", res)
	}
	waitDone(t, l.call)
}

func slicesContains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
