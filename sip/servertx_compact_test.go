package sip

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// compactTxEnv is a server transaction table whose clock is stopped (its
// timers never fire; a test fires them itself) and a peer socket that
// reads what the transactions send.
type compactTxEnv struct {
	tbl   *srvTxTable
	reply udpReply
	peer  *net.UDPConn
}

func newCompactTxEnv(t *testing.T) *compactTxEnv {
	t.Helper()
	ours, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ours.Close(); _ = peer.Close() })
	tbl := newSrvTxTable()
	tbl.clock.stop()
	return &compactTxEnv{tbl: tbl, peer: peer,
		reply: udpReply{uc: ours, dest: peer.LocalAddr().(*net.UDPAddr).AddrPort()}}
}

// start makes the transaction of raw, a request as received.
func (e *compactTxEnv) start(t *testing.T, raw string) (*srvTx, *sip.Request) {
	t.Helper()
	req := parseInvite(t, raw) // any method: parsed as received over UDP
	key, ok := srvTxKey(req, "")
	if !ok {
		t.Fatal("no transaction key")
	}
	tx := e.tbl.add(key, req, e.reply)
	if tx == nil {
		t.Fatal("transaction not added")
	}
	return tx, req
}

// read returns the next datagram the peer gets.
func (e *compactTxEnv) read(t *testing.T, what string) []byte {
	t.Helper()
	buf := make([]byte, 65535)
	_ = e.peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := e.peer.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return buf[:n]
}

// held is what tx holds besides its key: the request, the last
// provisional response, the final response's bytes, the CANCEL callbacks.
func (tx *srvTx) held() (origin *sip.Request, last *sip.Response, wire []byte, onCancel int) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.origin, tx.last, tx.wire, len(tx.onCancel)
}

const compactVia = "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK"

// compactRequest is a request as received; a BYE carries our To tag.
func compactRequest(method, branch, cseq string) string {
	to := "<sip:callee@127.0.0.1>"
	if method != "INVITE" {
		to += ";tag=to1"
	}
	return method + " sip:callee@127.0.0.1 SIP/2.0\r\n" + compactVia + branch + "\r\n" +
		"From: <sip:caller@127.0.0.1>;tag=from1\r\nTo: " + to + "\r\n" +
		"Call-ID: compact@127.0.0.1\r\nCSeq: " + cseq + " " + method + "\r\nMax-Forwards: 70\r\n" +
		"Contact: <sip:caller@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n"
}

// A non-INVITE transaction keeps its key and its final response's bytes
// once it answered, not the request or the response as parsed; a
// retransmitted request gets those very bytes again.
func TestServerTxCompactNonInvite(t *testing.T) {
	e := newCompactTxEnv(t)
	tx, req := e.start(t, compactRequest("BYE", "cbye1", "2"))
	if err := tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil)); err != nil {
		t.Fatal(err)
	}
	first := e.read(t, "200 to the BYE")
	origin, last, wire, _ := tx.held()
	if origin != nil || last != nil {
		t.Errorf("Completed BYE transaction holds request %v, response %v; want neither", origin != nil, last != nil)
	}
	if !bytes.Equal(wire, first) {
		t.Errorf("Completed BYE transaction holds %q, want the 200 as sent %q", wire, first)
	}
	tx.retransmission()
	if again := e.read(t, "200 to the retransmitted BYE"); !bytes.Equal(again, first) {
		t.Errorf("retransmitted BYE got %q, want %q", again, first)
	}
	if err := tx.Respond(sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil)); err == nil {
		t.Error("a second final response was accepted")
	}
}

// An INVITE transaction keeps the request and its provisional response
// while Proceeding (a retransmission gets the 180 again, a CANCEL a 487
// with its To tag); once it answered non-2xx it keeps the answer's bytes
// only, which the retransmitted INVITE and Timer G send.
func TestServerTxCompactInviteNon2xx(t *testing.T) {
	e := newCompactTxEnv(t)
	tx, req := e.start(t, compactRequest("INVITE", "cinv1", "1"))
	tx.OnCancel(func(*sip.Request) {})
	ringing := sip.NewResponseFromRequest(req, 180, "Ringing", nil)
	if err := tx.Respond(ringing); err != nil {
		t.Fatal(err)
	}
	first180 := e.read(t, "180")
	if origin, last, _, onCancel := tx.held(); origin == nil || last == nil || onCancel != 1 {
		t.Fatalf("Proceeding INVITE transaction lost what it needs: request %v, 180 %v, CANCEL callbacks %d",
			origin != nil, last != nil, onCancel)
	}
	tx.retransmission()
	if again := e.read(t, "180 for the retransmitted INVITE"); !bytes.Equal(again, first180) {
		t.Errorf("retransmitted INVITE got %q, want the 180 %q", again, first180)
	}
	busy := sip.NewResponseFromRequest(req, 486, "Busy Here", nil)
	busy.To().Params.Add("tag", toTagOf(ringing))
	if err := tx.Respond(busy); err != nil {
		t.Fatal(err)
	}
	first := e.read(t, "486")
	origin, last, wire, onCancel := tx.held()
	if origin != nil || last != nil || onCancel != 0 {
		t.Errorf("Completed INVITE transaction holds request %v, 180 %v, %d CANCEL callbacks; want none",
			origin != nil, last != nil, onCancel)
	}
	if !bytes.Equal(wire, first) {
		t.Errorf("Completed INVITE transaction holds %q, want the 486 as sent %q", wire, first)
	}
	tx.retransmission()
	if again := e.read(t, "486 for the retransmitted INVITE"); !bytes.Equal(again, first) {
		t.Errorf("retransmitted INVITE got %q, want %q", again, first)
	}
	tx.mu.Lock()
	seq := tx.clockSeq
	tx.mu.Unlock()
	tx.fire(seq, time.Now()) // Timer G
	if g := e.read(t, "486 sent again by Timer G"); !bytes.Equal(g, first) {
		t.Errorf("Timer G sent %q, want %q", g, first)
	}
	tx.cancel(nil) // too late: changes nothing, sends nothing
	tx.retransmission()
	if again := e.read(t, "486 after the CANCEL"); !bytes.Equal(again, first) {
		t.Errorf("after a late CANCEL the retransmitted INVITE got %q, want %q", again, first)
	}
}

// An INVITE transaction answered 2xx (Accepted) keeps nothing but its key:
// it absorbs retransmissions, and the TU's 2xx retransmissions still go
// through it.
func TestServerTxCompactInviteAccepted(t *testing.T) {
	e := newCompactTxEnv(t)
	tx, req := e.start(t, compactRequest("INVITE", "cinv2", "1"))
	tx.OnCancel(func(*sip.Request) { t.Error("CANCEL callback called after the 2xx") })
	ok := sip.NewResponseFromRequest(req, 200, "OK", nil)
	if err := tx.Respond(ok); err != nil {
		t.Fatal(err)
	}
	first := e.read(t, "200")
	if origin, last, wire, onCancel := tx.held(); origin != nil || last != nil || wire != nil || onCancel != 0 {
		t.Errorf("Accepted INVITE transaction holds request %v, 200 %v, %d bytes, %d CANCEL callbacks; want none",
			origin != nil, last != nil, len(wire), onCancel)
	}
	tx.retransmission() // absorbed: nothing is sent
	tx.cancel(nil)      // changes nothing
	if err := tx.Respond(ok); err != nil {
		t.Fatalf("the TU's 2xx retransmission: %v", err)
	}
	if again := e.read(t, "the TU's 200 again"); !bytes.Equal(again, first) {
		t.Errorf("got %q after an absorbed retransmission, want the TU's 200 %q", again, first)
	}
}

// A CANCEL of an INVITE in Proceeding still reaches the TU (OnCancel) when
// the 487 it causes lets go of the callbacks, and the 487 (with the To tag
// of the 180) is what a retransmitted INVITE gets after it.
func TestServerTxCompactCancel(t *testing.T) {
	e := newCompactTxEnv(t)
	tx, req := e.start(t, compactRequest("INVITE", "cinv3", "1"))
	cancelled := 0
	tx.OnCancel(func(*sip.Request) { cancelled++ })
	ringing := sip.NewResponseFromRequest(req, 180, "Ringing", nil)
	if err := tx.Respond(ringing); err != nil {
		t.Fatal(err)
	}
	e.read(t, "180")
	_, cancelReq := e.start(t, compactRequest("CANCEL", "cinv3", "1"))
	tx.cancel(cancelReq)
	if cancelled != 1 {
		t.Fatalf("OnCancel called %d times, want 1", cancelled)
	}
	first := e.read(t, "487")
	msg, err := sip.NewParser().ParseSIP(first)
	if err != nil {
		t.Fatal(err)
	}
	if res := msg.(*sip.Response); res.StatusCode != 487 || toTagOf(res) != toTagOf(ringing) {
		t.Fatalf("got %d with To tag %q, want 487 with the 180's %q", res.StatusCode, toTagOf(res), toTagOf(ringing))
	}
	if origin, last, wire, onCancel := tx.held(); origin != nil || last != nil || onCancel != 0 || !bytes.Equal(wire, first) {
		t.Errorf("cancelled INVITE transaction holds request %v, 180 %v, %d CANCEL callbacks, bytes equal %v",
			origin != nil, last != nil, onCancel, bytes.Equal(wire, first))
	}
	tx.retransmission()
	if again := e.read(t, "487 for the retransmitted INVITE"); !bytes.Equal(again, first) {
		t.Errorf("retransmitted INVITE got %q, want %q", again, first)
	}
}

// A transaction makes its Done channel only when asked: asked before the
// end it is closed by the end (and the transaction is out of the table by
// then), asked after the end it is closed already.
func TestServerTxDoneMadeWhenAsked(t *testing.T) {
	e := newCompactTxEnv(t)
	asked, _ := e.start(t, compactRequest("OPTIONS", "cdone1", "1"))
	done := asked.Done()
	select {
	case <-done:
		t.Fatal("Done closed before the end")
	default:
	}
	asked.Terminate()
	<-done
	if e.tbl.len() != 0 {
		t.Fatalf("%d transactions in the table after Done", e.tbl.len())
	}
	late, _ := e.start(t, compactRequest("OPTIONS", "cdone2", "1"))
	late.Terminate()
	select {
	case <-late.Done():
	default:
		t.Fatal("Done of an ended transaction not closed")
	}
	if asked.Done() != done {
		t.Error("Done changed after the end")
	}
}
