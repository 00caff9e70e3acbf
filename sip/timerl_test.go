package sip

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sigbridge/sigbridge/gateway"
)

// watchTxEnds makes the test see the end of the server transactions of
// initial INVITEs and in-dialog requests ("<CSeq> <Call-ID>").
func watchTxEnds(t *testing.T) <-chan string {
	t.Helper()
	ch := make(chan string, 64)
	f := func(request string) {
		select {
		case ch <- request:
		default:
		}
	}
	testTxEnded.Store(&f)
	t.Cleanup(func() { testTxEnded.Store(nil) })
	return ch
}

// waitTxEnd waits until the transaction of want ("<CSeq> <Call-ID>") ended.
func waitTxEnd(t *testing.T, ends <-chan string, want string) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case got := <-ends:
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("the server transaction of %s did not end", want)
		}
	}
}

// inviteResponses reads what the raw caller receives until until returns
// true for a message, failing on any response to the INVITE other than a
// 200 with toTag and on any request from the gateway.
func inviteResponses(t *testing.T, c *rawClient, toTag string, until func(sip.Message) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		m := c.read(time.Until(deadline))
		switch m := m.(type) {
		case *sip.Response:
			if m.CSeq().MethodName == sip.INVITE {
				tag, _ := m.To().Params.Get("tag")
				if m.StatusCode != 200 || tag != toTag {
					t.Fatalf("INVITE answered %d (To tag %q), want only our 200 (To tag %q)", m.StatusCode, tag, toTag)
				}
			}
		case *sip.Request:
			t.Fatalf("the gateway sent %s", m.Method)
		}
		if m != nil && until(m) {
			return
		}
	}
	t.Fatal("no answer from the gateway")
}

func isResponse(m sip.Message, method sip.RequestMethod, code int) bool {
	res, ok := m.(*sip.Response)
	return ok && res.CSeq().MethodName == method && res.StatusCode == code
}

// TestInboundRetransmissionsAfterTransactions: sipgo ends the INVITE's
// server transaction one second after our 200 (Timer L, timerl.go) and
// the BYE's four seconds after its 200 (Timer J). After that, the caller's
// retransmitted INVITE (its 200 lost, say) creates no second call and
// gets nothing but our 200; a late ACK still confirms the call (the leg,
// not the transaction, waits for it: 64*T1); and a retransmitted BYE gets
// 200 again, not 481.
func TestInboundRetransmissionsAfterTransactions(t *testing.T) {
	ends := watchTxEnds(t)
	env := trustedEnv(t)
	c := dialRaw(t, env.a.Addr())
	callID := fmt.Sprintf("timerl-%d@127.0.0.1", time.Now().UnixNano())
	invite := c.rawRequest("INVITE", "sip:answer@"+env.a.Addr(), []string{"Content-Type: application/sdp",
		"!From: <sip:alice@127.0.0.1>;tag=tl1", "!Call-ID: " + callID}, webrtcSDP("actpass", "rawc", 30000))
	c.send(t, invite)
	callee := env.users.leg(t, "answer")
	ok := c.final(10 * time.Second)
	if ok == nil || ok.StatusCode != 200 {
		t.Fatalf("INVITE: got %v, want 200", ok)
	}
	toTag, _ := ok.To().Params.Get("tag")
	waitTxEnd(t, ends, "1 INVITE "+callID) // Timer L: no ACK yet

	c.send(t, invite) // the same INVITE again, same branch
	waitTxEnd(t, ends, "1 INVITE "+callID)
	inviteResponses(t, c, toTag, func(m sip.Message) bool { return isResponse(m, sip.INVITE, 200) })

	inDialog := func(method string, cseq int, branch string) string {
		return fmt.Sprintf("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s\r\nFrom: %s\r\nTo: %s\r\n"+
			"Call-ID: %s\r\nCSeq: %d %s\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
			method, ok.Contact().Address.String(), c.local(), branch, ok.From().Value(), ok.To().Value(),
			callID, cseq, method)
	}
	c.send(t, inDialog("ACK", 1, "tlack"))
	waitNoLegGoroutine(t, env) // the late ACK confirmed the call: the INVITE handler returned
	select {
	case l := <-env.users.published("answer"):
		t.Fatalf("a second call reached the callee (%s)", l.name)
	default:
	}
	if n := callsMetric(env, "in", "200"); n != 1 {
		t.Errorf("%v inbound calls answered, want 1", n)
	}

	bye := inDialog("BYE", 2, "tlbye")
	c.send(t, bye)
	inviteResponses(t, c, toTag, func(m sip.Message) bool { return isResponse(m, sip.BYE, 200) })
	if h := callee.expect(t, "hangup").(gateway.Hangup); h.Reason.Condition != gateway.CondSuccess {
		t.Errorf("callee hangup %+v, want success (the caller's BYE)", h.Reason)
	}
	waitDone(t, callee.call)
	waitTxEnd(t, ends, "2 BYE "+callID) // Timer J
	c.send(t, bye)
	inviteResponses(t, c, toTag, func(m sip.Message) bool {
		if res, ok := m.(*sip.Response); ok && res.CSeq().MethodName == sip.BYE {
			if res.StatusCode != 200 {
				t.Fatalf("retransmitted BYE answered %d, want 200", res.StatusCode)
			}
			return true
		}
		return false
	})
}

// fakeServerTx is a server transaction that records what it is told.
type fakeServerTx struct {
	mu         sync.Mutex
	responses  []*sip.Response
	terminated bool
	done       chan struct{}
}

func newFakeServerTx() *fakeServerTx { return &fakeServerTx{done: make(chan struct{})} }

func (f *fakeServerTx) Respond(res *sip.Response) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.responses = append(f.responses, res)
	return nil
}

func (f *fakeServerTx) Terminate() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.terminated {
		f.terminated = true
		close(f.done)
	}
}

func (f *fakeServerTx) OnTerminate(sip.FnTxTerminate) bool { return true }
func (f *fakeServerTx) Done() <-chan struct{}              { return f.done }
func (f *fakeServerTx) Err() error                         { return nil }
func (f *fakeServerTx) Acks() <-chan *sip.Request          { return nil }
func (f *fakeServerTx) OnCancel(sip.FnTxCancel) bool       { return true }

// TestInviteAgainOutcomes: what an initial INVITE that an inbound leg
// already has gets, by the leg's state: our 2xx while the leg waits for
// its ACK, nothing once it was ACKed, 482 when no 2xx was sent (a merged
// request, RFC 3261 §8.2.2.2); another INVITE is not taken for it.
func TestInviteAgainOutcomes(t *testing.T) {
	env := trustedEnv(t)
	c := dialRaw(t, env.a.Addr())
	parse := func(raw string) *sip.Request {
		t.Helper()
		msg, err := sip.NewParser().ParseSIP([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		return msg.(*sip.Request)
	}
	req := parse(c.rawRequest("INVITE", "sip:answer@"+env.a.Addr(), []string{"!Call-ID: again@x", "!From: <sip:a@x>;tag=f1"}, ""))
	other := parse(c.rawRequest("INVITE", "sip:answer@"+env.a.Addr(), []string{"!Call-ID: again@x", "!From: <sip:a@x>;tag=f1", "!CSeq: 2 INVITE"}, ""))

	if tx := newFakeServerTx(); env.a.inviteAgain(req, tx) {
		t.Fatal("an INVITE no leg has was taken for a retransmission")
	}
	acc := env.a.rememberInvite(req)
	check := func(what string, wantCode int, wantTerminated bool) {
		t.Helper()
		tx := newFakeServerTx()
		if !env.a.inviteAgain(req, tx) {
			t.Fatalf("%s: not recognised", what)
		}
		code := 0
		if len(tx.responses) == 1 {
			code = tx.responses[0].StatusCode
		}
		if code != wantCode || len(tx.responses) > 1 || tx.terminated != wantTerminated {
			t.Errorf("%s: responses %d (first %d), terminated %v; want %d, terminated %v",
				what, len(tx.responses), code, tx.terminated, wantCode, wantTerminated)
		}
	}
	check("no 2xx yet", 482, false)
	ok := sip.NewResponseFromRequest(req, 200, "OK", nil)
	acc.sending(ok)
	check("awaiting the ACK", 200, false)
	acc.acked(ok)
	check("ACKed", 0, true)
	if n := env.a.accepted.waiting(); n != 0 {
		t.Errorf("%d 2xx held after their ACK", n)
	}
	if env.a.inviteAgain(other, newFakeServerTx()) {
		t.Error("an INVITE with another CSeq was taken for a retransmission")
	}
	// A hash collision (made here: another INVITE's 2xx waiting for its
	// ACK under req's hash) never answers req with another call's 2xx: it
	// is absorbed as a retransmission of an answered INVITE.
	otherOK := sip.NewResponseFromRequest(other, 200, "OK", nil)
	(&acceptedInvite{m: env.a.accepted, key: acc.key, ok: true}).sending(otherOK)
	check("colliding with another INVITE's 2xx", 0, true)
	acc.acked(ok) // not the 2xx held: it stays
	if n := env.a.accepted.waiting(); n != 1 {
		t.Errorf("acked of a 2xx not held: %d 2xx held, want 1", n)
	}
}

// TestInviteHash: what identifies an initial INVITE (Call-ID, From tag,
// CSeq number) and nothing else makes its hash, and sameInvite checks the
// same three.
func TestInviteHash(t *testing.T) {
	parse := func(callID, fromTag string, cseq int, via string) *sip.Request {
		t.Helper()
		msg, err := sip.ParseMessage([]byte("INVITE sip:b@127.0.0.1 SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-" + via + "\r\n" +
			"From: <sip:a@127.0.0.1>;tag=" + fromTag + "\r\nTo: <sip:b@127.0.0.1>\r\n" +
			"Call-ID: " + callID + "\r\nCSeq: " + strconv.Itoa(cseq) + " INVITE\r\nContent-Length: 0\r\n\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		return msg.(*sip.Request)
	}
	base := parse("c1@x", "f1", 1, "b1")
	h0, ok := inviteHash(base)
	if !ok {
		t.Fatal("no hash")
	}
	if h, _ := inviteHash(parse("c1@x", "f1", 1, "b2")); h != h0 {
		t.Error("another branch changed the hash")
	}
	for _, other := range []*sip.Request{parse("c2@x", "f1", 1, "b1"), parse("c1@x", "f2", 1, "b1"),
		parse("c1@x", "f1", 2, "b1"), parse("c1@xf", "1", 1, "b1")} {
		if h, _ := inviteHash(other); h == h0 {
			t.Errorf("%s %s: same hash as %s", other.CallID().Value(), other.CSeq().Value(), base.CallID().Value())
		}
		if sameInvite(other, sip.NewResponseFromRequest(base, 200, "OK", nil)) {
			t.Errorf("%s %s: taken for the same INVITE", other.CallID().Value(), other.CSeq().Value())
		}
	}
	if !sameInvite(parse("c1@x", "f1", 1, "b2"), sip.NewResponseFromRequest(base, 200, "OK", nil)) {
		t.Error("a retransmission (another branch) not taken for the same INVITE")
	}
	if n := testing.AllocsPerRun(100, func() { inviteHash(base) }); n != 0 {
		t.Errorf("inviteHash allocates %v times", n)
	}
}

// TestGenMemoGenerations: a key is found for one span at least and two at
// most, also when nothing else is put meanwhile.
func TestGenMemoGenerations(t *testing.T) {
	m := genMemo[string, int]{span: 10 * time.Second, max: 2}
	t0 := time.Unix(1000, 0)
	m.put("a", 1, t0)
	for _, c := range []struct {
		at   time.Duration
		want bool
	}{{0, true}, {9 * time.Second, true}, {15 * time.Second, true}, {20 * time.Second, false}} {
		if _, ok := m.get("a", t0.Add(c.at)); ok != c.want {
			t.Errorf("get at +%v: found %v, want %v", c.at, ok, c.want)
		}
	}
	m.put("b", 2, t0.Add(12*time.Second)) // a new generation; a is in the old one
	if v, ok := m.get("a", t0.Add(13*time.Second)); !ok || v != 1 {
		t.Errorf("a after the turn: %v %v, want 1", v, ok)
	}
	if _, ok := m.get("a", t0.Add(22*time.Second)); ok {
		t.Error("a found two spans after its generation started")
	}
	m.put("c", 3, t0.Add(13*time.Second))
	m.put("d", 4, t0.Add(14*time.Second)) // beyond max: not remembered
	if _, ok := m.get("d", t0.Add(14*time.Second)); ok {
		t.Error("a key beyond max was remembered")
	}
}

// TestInboundAnswerReleased: once a SIP → browser call is confirmed, nothing
// keeps our 200 (and with it the INVITE's transaction and session): sipgo
// kept the accepted INVITE transaction until Timer L, 32 s by default, and
// its Terminate does not stop that timer (timerl.go). The call goes on and
// ends with the caller's BYE.
func TestInboundAnswerReleased(t *testing.T) {
	released := make(chan struct{})
	var once sync.Once
	testOKSent = func(r *sip.Response) {
		runtime.AddCleanup(r, func(struct{}) { once.Do(func() { close(released) }) }, struct{}{})
	}
	t.Cleanup(func() { testOKSent = nil })
	env := trustedEnv(t)
	c := dialRaw(t, env.a.Addr())
	callID, callee, ok := c.answeredCall(t, env, "released", "rl1")
	inDialog := func(method string, cseq int) string {
		return fmt.Sprintf("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s%d\r\nFrom: %s\r\nTo: %s\r\n"+
			"Call-ID: %s\r\nCSeq: %d %s\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
			method, ok.Contact().Address.String(), c.local(), method, time.Now().UnixNano(), ok.From().Value(),
			ok.To().Value(), callID, cseq, method)
	}
	c.send(t, inDialog("ACK", 1))
	waitNoLegGoroutine(t, env)
	waitReleased(t, released, "the answered call's 200")
	if n := env.gw.ActiveCalls(); n != 1 {
		t.Fatalf("%d calls active, want the held one", n)
	}
	c.send(t, inDialog("BYE", 2))
	if h := callee.expect(t, "hangup").(gateway.Hangup); h.Reason.Condition != gateway.CondSuccess {
		t.Errorf("callee hangup %+v, want success (the caller's BYE)", h.Reason)
	}
	waitDone(t, callee.call)
}

// TestInboundReinviteAgainAfterTimerL: the caller's re-INVITE, answered
// 200 and retransmitted after its transaction ended (Timer L), gets our
// 200 again, not "500 CSeq Out Of Order", and is no new offer; its late
// ACK and the BYE end the call normally.
func TestInboundReinviteAgainAfterTimerL(t *testing.T) {
	ends := watchTxEnds(t)
	env := trustedEnv(t)
	c := dialRaw(t, env.a.Addr())
	callID, callee, ok := c.answeredCall(t, env, "reinv", "ri1")
	toTag, _ := ok.To().Params.Get("tag")
	inDialog := func(method string, cseq int, branch, body string) string {
		ct := ""
		if body != "" {
			ct = "Content-Type: application/sdp\r\nContact: <sip:alice@" + c.local() + ">\r\n"
		}
		return fmt.Sprintf("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s\r\nFrom: %s\r\nTo: %s\r\n"+
			"Call-ID: %s\r\nCSeq: %d %s\r\nMax-Forwards: 70\r\n%sContent-Length: %d\r\n\r\n%s",
			method, ok.Contact().Address.String(), c.local(), branch, ok.From().Value(), ok.To().Value(),
			callID, cseq, method, ct, len(body), body)
	}
	c.send(t, inDialog("ACK", 1, "riack1", ""))
	waitNoLegGoroutine(t, env)

	reinvite := inDialog("INVITE", 2, "rireinv", webrtcSDP("actpass", "rawd", 30002))
	c.send(t, reinvite)
	inviteResponses(t, c, toTag, func(m sip.Message) bool { return isResponse(m, sip.INVITE, 200) })
	waitTxEnd(t, ends, "2 INVITE "+callID) // Timer L of the re-INVITE: no ACK yet
	c.send(t, reinvite)
	inviteResponses(t, c, toTag, func(m sip.Message) bool { return isResponse(m, sip.INVITE, 200) })
	c.send(t, inDialog("ACK", 2, "riack2", ""))
	c.send(t, inDialog("BYE", 3, "ribye", ""))
	inviteResponses(t, c, toTag, func(m sip.Message) bool { return isResponse(m, sip.BYE, 200) })
	h := callee.expect(t, "hangup").(gateway.Hangup)
	if h.Reason.Condition != gateway.CondSuccess {
		t.Errorf("callee hangup %+v, want success (the caller's BYE): the retransmitted re-INVITE must change nothing", h.Reason)
	}
	waitDone(t, callee.call)
}
