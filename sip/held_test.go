package sip

import (
	"bytes"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sigbridge/sigbridge/gateway"
)

// legGoroutines counts the goroutines running a SIP leg: the set-up phase
// of either direction or the confirmed phase (legCore.serve).
func legGoroutines(t *testing.T) int {
	t.Helper()
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range strings.Split(b.String(), "\n\n") {
		if strings.Contains(g, "sip.(*legCore).serve") || strings.Contains(g, "sip.(*outLeg).run") ||
			strings.Contains(g, "sip.(*inLeg).run") {
			n++
		}
	}
	return n
}

// waitNoLegGoroutine waits until no goroutine runs a leg while the call is
// still up.
func waitNoLegGoroutine(t *testing.T, env *testEnv) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for legGoroutines(t) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still run a held call's SIP leg", legGoroutines(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := env.gw.ActiveCalls(); n != 1 {
		t.Fatalf("%d calls active, want the held one", n)
	}
}

// TestHeldOutboundCallHasNoGoroutine: once answered and ACKed, a browser →
// SIP call's leg runs no goroutine (the memory of a held call); the
// caller's hang-up still reaches the callee as a BYE.
func TestHeldOutboundCallHasNoGoroutine(t *testing.T) {
	env := newEnv(t, Config{Routes: []Route{loopbackRoute()}})
	uas := startSIPp(t, "uas_answer.xml", "")
	caller, call := placeToSIP(t, env, "sip:bob@"+uas.addr)
	expectAnswer(t, caller)
	waitNoLegGoroutine(t, env)
	if err := call.Post(caller, gateway.Hangup{}); err != nil {
		t.Fatal(err)
	}
	uas.wait(t) // the scenario ends with the BYE and its 200
	waitDone(t, call)
}

// TestHeldInboundCallHasNoGoroutine: the same for a SIP → browser call,
// which runs on sipgo's INVITE handler until the ACK; the caller's BYE
// after the hold still ends the call.
func TestHeldInboundCallHasNoGoroutine(t *testing.T) {
	env := trustedEnv(t)
	uac := startSIPp(t, "uac_held.xml", env.a.Addr(), "-s", "answer", "-d", "7000")
	callee := env.users.leg(t, "answer")
	waitMetric(t, env, "in", "200")
	waitNoLegGoroutine(t, env)
	h := callee.expect(t, "hangup").(gateway.Hangup)
	if h.Reason.Condition != gateway.CondSuccess {
		t.Errorf("callee hangup %+v, want success (the caller's BYE)", h.Reason)
	}
	uac.wait(t)
}

// TestOutboundRetransmitted2xxAckedAgain: the callee sends its 200 again
// after our ACK, as a UAS does when the ACK is lost; the INVITE's
// transaction is gone by then, and the dialog ACKs it again (RFC 3261
// §13.2.2.4). The call stays up until the callee's BYE.
func TestOutboundRetransmitted2xxAckedAgain(t *testing.T) {
	env := newEnv(t, Config{Routes: []Route{loopbackRoute()}})
	uas := startSIPp(t, "uas_2xx_again.xml", "")
	caller, call := placeToSIP(t, env, "sip:bob@"+uas.addr)
	expectAnswer(t, caller)
	h := caller.expect(t, "hangup").(gateway.Hangup)
	if h.Reason.Condition != gateway.CondSuccess {
		t.Errorf("hangup %+v, want the callee's own BYE (success)", h.Reason)
	}
	uas.wait(t) // fails unless the second 200 got its ACK
	waitDone(t, call)
	if n := strings.Count(uas.messageLog(t), "ACK sip:"); n != 2 {
		t.Errorf("the callee received %d ACKs, want 2", n)
	}
}

// heldInviteContexts counts the outbound legs that still hold their
// INVITE's cancel function, or made a context of their own (a held call
// that sent nothing since its ACK needs none: legCore.context).
func heldInviteContexts(a *Adapter) int {
	a.liveMu.Lock()
	defer a.liveMu.Unlock()
	n := 0
	for lc := range a.live {
		if l, ok := lc.self.(*outLeg); ok {
			l.mu.Lock()
			if l.cancelInvite != nil || l.ctx != nil {
				n++
			}
			l.mu.Unlock()
		}
	}
	return n
}

// TestAnsweredInviteReleased: once an outbound call is answered and ACKed,
// nothing keeps its INVITE (and so its transaction, 2xx and SDPs): sipgo's
// Timer M, which Terminate does not stop, would pin them for 32 s
// (timerM). Nor its headers, which buildInvite makes in one block: the
// late-2xx record kept the From, and so all of them, for the whole call
// (outLeg.forgetLate).
func TestAnsweredInviteReleased(t *testing.T) {
	released, headers := make(chan struct{}), make(chan struct{})
	var once, hOnce sync.Once
	testInviteSent = func(r *sip.Request) {
		runtime.AddCleanup(r, func(struct{}) { once.Do(func() { close(released) }) }, struct{}{})
		runtime.AddCleanup(r.From(), func(struct{}) { hOnce.Do(func() { close(headers) }) }, struct{}{})
	}
	t.Cleanup(func() { testInviteSent = nil })
	env := newEnv(t, Config{Routes: []Route{loopbackRoute()}})
	uas := startSIPp(t, "uas_answer.xml", "")
	caller, call := placeToSIP(t, env, "sip:bob@"+uas.addr)
	expectAnswer(t, caller)
	waitNoLegGoroutine(t, env)
	// Well under Timer M's 32 s default; the call is still up.
	waitReleased(t, released, "the answered INVITE")
	waitReleased(t, headers, "the answered INVITE's headers")
	if n := heldInviteContexts(env.a); n != 0 {
		t.Errorf("%d answered legs keep their INVITE's cancel function or a context of their own", n)
	}
	if n := env.gw.ActiveCalls(); n != 1 {
		t.Fatalf("%d calls active, want the held one", n)
	}
	if err := call.Post(caller, gateway.Hangup{}); err != nil {
		t.Fatal(err)
	}
	uas.wait(t)
	waitDone(t, call)
}

// TestGivenUpInviteReleased: an INVITE that failed (486, over TCP, where
// no Timer D keeps its transaction) stays in the late-2xx table for 32 to
// 64 s, for a 2xx that may still come, but the record keeps a copy of our
// From, not the INVITE's block of headers (lateTable.keep).
func TestGivenUpInviteReleased(t *testing.T) {
	headers := make(chan struct{})
	var once sync.Once
	testInviteSent = func(r *sip.Request) {
		runtime.AddCleanup(r.From(), func(struct{}) { once.Do(func() { close(headers) }) }, struct{}{})
	}
	t.Cleanup(func() { testInviteSent = nil })
	rt := loopbackRoute()
	rt.Transport = "tcp"
	env := newEnv(t, Config{Routes: []Route{rt}})
	uas := startSIPp(t, "uas_busy.xml", "", "-t", "t1")
	caller, call := placeToSIP(t, env, "sip:bob@"+uas.addr)
	if h := caller.expect(t, "hangup").(gateway.Hangup); h.Reason.Code != 486 {
		t.Fatalf("hangup %+v, want 486", h.Reason)
	}
	uas.wait(t)
	waitDone(t, call)
	waitReleased(t, headers, "a failed INVITE's headers")
	if n := env.a.late.count(); n != 1 {
		t.Fatalf("%d INVITEs in the late-2xx table, want the failed one", n)
	}
}
