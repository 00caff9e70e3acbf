package sip

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sigbridge/sigbridge/gateway"
)

// ourServerTx returns the server transaction of ours that req (as sent
// raw) is in; it fails the test if the UDP reader did not take it.
func ourServerTx(t *testing.T, env *testEnv, raw string) *srvTx {
	t.Helper()
	msg, err := sip.NewParser().ParseSIP([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	key, ok := srvTxKey(msg.(*sip.Request), "")
	if !ok {
		t.Fatal("no transaction key")
	}
	tx := env.a.serverTxs.get(key)
	if tx == nil {
		t.Fatalf("request %q is in no server transaction of ours", strings.SplitN(raw, "\r\n", 2)[0])
	}
	return tx
}

func toTag(m sip.Message) string {
	res, ok := m.(*sip.Response)
	if !ok || res.To() == nil {
		return ""
	}
	tag, _ := res.To().Params.Get("tag")
	return tag
}

// A non-2xx final answer (a busy callee's 486) is retransmitted (Timer G)
// until its ACK, a retransmitted INVITE gets it again, and the ACK moves
// the transaction to Confirmed, which ends at Timer I.
func TestServerTxNon2xxRetransmittedUntilAck(t *testing.T) {
	ends := watchTxEnds(t)
	env := trustedEnv(t)
	c := dialRaw(t, env.a.Addr())
	callID := fmt.Sprintf("srvtx-busy-%d@127.0.0.1", time.Now().UnixNano())
	invite := c.rawRequest("INVITE", "sip:busy@"+env.a.Addr(), []string{"Content-Type: application/sdp",
		"!Call-ID: " + callID}, webrtcSDP("actpass", "rawc", 30000))
	c.send(t, invite)
	is486 := func(m sip.Message) bool { return isResponse(m, sip.INVITE, 486) }
	first := c.readUntil(t, "486", is486)
	tx := ourServerTx(t, env, invite)
	// Not ACKed: Timer G sends it again (T1, 2*T1 ...).
	if g := c.readUntil(t, "486 retransmitted by Timer G", is486); toTag(g) != toTag(first) {
		t.Fatalf("Timer G retransmission has To tag %q, want %q", toTag(g), toTag(first))
	}
	c.send(t, invite)
	if r := c.readUntil(t, "486 for the retransmitted INVITE", is486); toTag(r) != toTag(first) {
		t.Fatalf("retransmitted INVITE got To tag %q, want %q", toTag(r), toTag(first))
	}
	c.ackFailure(first.(*sip.Response))
	waitTxEnd(t, ends, "1 INVITE "+callID) // Timer I (T4) after the ACK; Timer H would be 32 s
	if err := tx.Err(); err != nil {
		t.Fatalf("transaction ended with %v, want a normal end (ACKed)", err)
	}
}

// A retransmitted INVITE gets the latest provisional response again, from
// the transaction (the callee "ring" never answers): the same 180, the
// same To tag, and no second call. Then a CANCEL of the ringing INVITE
// gets 200 and the INVITE 487; the callee's leg is hung up as cancelled;
// a retransmitted CANCEL gets 200 again.
func TestServerTxInviteRetransmissionAndCancel(t *testing.T) {
	env := trustedEnv(t)
	c := dialRaw(t, env.a.Addr())
	invite := c.rawRequest("INVITE", "sip:ring@"+env.a.Addr(), []string{"Content-Type: application/sdp"},
		webrtcSDP("actpass", "rawc", 30000))
	c.send(t, invite)
	callee := env.users.leg(t, "ring")
	ringing := c.readUntil(t, "180", func(m sip.Message) bool { return isResponse(m, sip.INVITE, 180) }).(*sip.Response)
	ourServerTx(t, env, invite)
	c.send(t, invite)
	again := c.readUntil(t, "180 again", func(m sip.Message) bool { return isResponse(m, sip.INVITE, 180) })
	if toTag(again) == "" || toTag(again) != toTag(ringing) {
		t.Fatalf("retransmission answered with To tag %q, first 180 had %q", toTag(again), toTag(ringing))
	}
	if n := env.gw.ActiveCalls(); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
	cancel := fmt.Sprintf("CANCEL %s SIP/2.0\r\nVia: %s\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"+
		"CSeq: %d CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		"sip:ring@"+env.a.Addr(), ringing.Via().Value(), ringing.From().Value(),
		"<sip:ring@"+env.a.Addr()+">", ringing.CallID().Value(), ringing.CSeq().SeqNo)
	c.send(t, cancel)
	got200, got487 := false, false
	for !got200 || !got487 {
		m := c.readUntil(t, "200 to the CANCEL and 487 to the INVITE", func(m sip.Message) bool {
			return isResponse(m, sip.CANCEL, 200) || isResponse(m, sip.INVITE, 487)
		})
		if isResponse(m, sip.CANCEL, 200) {
			got200 = true
		} else {
			got487 = true
			if toTag(m) != toTag(ringing) {
				t.Errorf("487 has To tag %q, the 180 had %q", toTag(m), toTag(ringing))
			}
			c.ackFailure(m.(*sip.Response))
		}
	}
	h := callee.expect(t, "hangup").(gateway.Hangup)
	if h.Reason.Condition != gateway.CondCancel {
		t.Errorf("callee hangup %+v, want cancel", h.Reason)
	}
	c.send(t, cancel)
	c.readUntil(t, "200 to the retransmitted CANCEL", func(m sip.Message) bool { return isResponse(m, sip.CANCEL, 200) })
	waitMetric(t, env, "in", "487")
}

// A retransmitted BYE (its 200 lost) gets the same 200 again, from the
// BYE's transaction (Timer J keeps it).
func TestServerTxByeRetransmitted(t *testing.T) {
	env := trustedEnv(t)
	c := dialRaw(t, env.a.Addr())
	callID, callee, ok := c.answeredCall(t, env, "srvtx-bye", "sb1")
	inDialog := func(method string, cseq int, branch string) string {
		return fmt.Sprintf("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s\r\nFrom: %s\r\nTo: %s\r\n"+
			"Call-ID: %s\r\nCSeq: %d %s\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
			method, ok.Contact().Address.String(), c.local(), branch, ok.From().Value(), ok.To().Value(), callID, cseq, method)
	}
	c.send(t, inDialog("ACK", 1, "srvtxack"))
	waitNoLegGoroutine(t, env)
	bye := inDialog("BYE", 2, fmt.Sprintf("srvtxbye%d", time.Now().UnixNano()))
	c.send(t, bye)
	isByeOK := func(m sip.Message) bool { return isResponse(m, sip.BYE, 200) }
	first := c.readUntil(t, "200 to the BYE", isByeOK)
	waitDone(t, callee.call)
	c.send(t, bye)
	again := c.readUntil(t, "200 to the retransmitted BYE", isByeOK)
	if toTag(again) != toTag(first) {
		t.Fatalf("retransmitted BYE got To tag %q, want %q", toTag(again), toTag(first))
	}
}

// srvTxKey makes the key sipgo's ServerTxKeyMake makes for every request
// with an RFC 3261 branch, and none for the others (they stay sipgo's).
func FuzzSrvTxKey(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(inviteSeed("alice", "")))
	f.Add([]byte("CANCEL sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("ACK sip:a@h SIP/2.0\r\nVia: SIP/2.0/TCP h:5070;branch=z9hG4bKx\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"))
	parser := newParser()
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := parser.ParseSIP(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}
		key, ok := srvTxKey(req, "")
		want, err := sip.ServerTxKeyMake(req)
		switch {
		case !ok:
			if via := req.Via(); via != nil {
				if b, _ := via.Params.Get("branch"); len(b) > 7 && strings.HasPrefix(b, sip.RFC3261BranchMagicCookie) && req.CSeq() != nil {
					t.Fatalf("no key for branch %q", b)
				}
			}
		case err != nil:
			t.Fatalf("key %q where sipgo has none: %v", key, err)
		case key != want:
			t.Fatalf("key %q, sipgo's %q", key, want)
		}
	})
}

// A panic in a transaction's OnTerminate callback, run by a timer on the
// clock's goroutine, is recovered and reported, and the other
// transactions' timers still fire (here two non-INVITE transactions ending
// at Timer J; the first one's callback panics).
func TestTxClockSurvivesPanic(t *testing.T) {
	uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	table := newSrvTxTable()
	defer table.terminateAll()
	panics := make(chan any, 2)
	table.clock.onPanic = func(r any) { panics <- r }
	reply := udpReply{uc: uc, dest: uc.LocalAddr().(*net.UDPAddr).AddrPort()}
	var txs []*srvTx
	for i := range 2 {
		raw := fmt.Sprintf("OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKclock%d\r\n"+
			"From: <sip:b@127.0.0.1>;tag=f\r\nTo: <sip:a@127.0.0.1>\r\nCall-ID: clock%d\r\nCSeq: 1 OPTIONS\r\n"+
			"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n", i, i)
		msg, err := sip.NewParser().ParseSIP([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		req := msg.(*sip.Request)
		key, _ := srvTxKey(req, "")
		tx := table.add(key, req, reply)
		if i == 0 {
			tx.OnTerminate(func(string, error) { panic("callback") })
		}
		if err := tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil)); err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	for _, tx := range txs {
		select {
		case <-tx.Done():
		case <-time.After(15 * time.Second):
			t.Fatal("Timer J did not end the transaction")
		}
	}
	select {
	case r := <-panics:
		if r != "callback" {
			t.Fatalf("recovered %v, want the callback's panic", r)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the panic was not reported")
	}
	if n := table.len(); n != 0 {
		t.Fatalf("%d transactions left in the table", n)
	}
}
