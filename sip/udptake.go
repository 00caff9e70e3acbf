package sip

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// What the UDP readers handle themselves. sipgo parses every datagram it
// reads and hands each message to its transaction layer on a goroutine of
// its own (handleRequestBackground, handleResponseBackground); for an ACK
// of our 2xx it also builds a server transaction, though an ACK of a 2xx
// has none (RFC 3261 §17.1.1.3). Some messages need none of that: the
// reader (stampedConn, stale_linux.go) parses them once, does their work
// itself, which never blocks, and reads on:
//
//   - a response to one of our client transactions (clienttx.go);
//   - a retransmitted 2xx to an INVITE of one of our dialogs: the dialog
//     ACKs it again (Adapter.onStrayResponse does the same for the other
//     readers);
//   - the ACK of the 2xx an inbound leg is waiting for (inLeg.accept),
//     also one that (against RFC 3261 §17.1.1.3) carries the INVITE's
//     branch: sipgo would hand that one to the INVITE's server transaction,
//     which keeps it from the leg.
//
//   - every request but REGISTER with an RFC 3261 branch goes into our
//     server transactions (servertx.go): a retransmission, the ACK of a
//     non-2xx answer and a CANCEL of an INVITE in progress are answered
//     here; a new request gets its transaction and its handler's goroutine
//     (Adapter.serveTx), the one goroutine sipgo would have started.
//
// Bodiless responses to our transactions that need only their status
// (lightres.go) and the 2xx with the answer to our INVITE (lightanswer.go)
// are read without sipgo's full parser.
//
// Anything else, or anything the reader cannot parse, goes to sipgo as
// before, which parses it again (rare: stray responses, late 2xx,
// REGISTER, requests without an RFC 3261 branch).

var (
	responsePrefix = []byte("SIP/2.0 ")
	ackPrefix      = []byte("ACK ")
)

// takeUDP handles a datagram from src in the reader that read it; false:
// sipgo gets it.
func (a *Adapter) takeUDP(data []byte, src *udpSource) (taken bool) {
	defer func() {
		if r := recover(); r != nil { // remote input must not end the reader
			a.gm.Panic()
			a.log.Error("sip UDP reader: panic on a datagram; passed to sipgo", "panic", r)
			taken = false
		}
	}()
	isResponse := bytes.HasPrefix(data, responsePrefix)
	if !isResponse && (a.udpConn == nil || bytes.HasPrefix(data, registerPrefix)) && !bytes.HasPrefix(data, ackPrefix) {
		return false
	}
	if isResponse && (a.takeLight(data) || a.takeAnswer(data, src)) {
		return true
	}
	msg, err := a.parser.ParseSIP(data)
	if err != nil {
		return false
	}
	switch m := msg.(type) {
	case *sip.Response:
		m.SetTransport("UDP")
		m.SetSource(src.str)
		return a.clientTxs.dispatch(m) || a.reackStray(m)
	case *sip.Request:
		m.SetTransport("UDP")
		m.SetSource(src.str)
		if m.IsAck() && a.takeAck(m) {
			return true
		}
		return a.takeRequest(m, src)
	}
	return false
}

var registerPrefix = []byte("REGISTER ")

// reackStray hands a retransmitted 2xx to an INVITE of one of our dialogs
// to the dialog, which ACKs it again; false if it is not one.
func (a *Adapter) reackStray(res *sip.Response) bool {
	cseq := res.CSeq()
	if !res.IsSuccess() || cseq == nil || cseq.MethodName != sip.INVITE {
		return false
	}
	l := a.dialogs.findResponse(res)
	return l != nil && l.push(reack{cseq: cseq.SeqNo}) == nil
}

// takeAck ends an inbound leg's wait for the ACK of its 2xx; false if req
// is not that ACK (an ACK of a non-2xx answer, of a re-INVITE's answer, a
// retransmitted ACK, a malformed one: sipgo and Adapter.onAck see those).
func (a *Adapter) takeAck(req *sip.Request) bool {
	if !req.IsAck() || !hasToTag(req) {
		return false
	}
	cseq := req.CSeq()
	if cseq == nil {
		return false
	}
	l, ok := a.dialogs.find(req).(*inLeg)
	if !ok || !l.awaitingAck.Load() || cseq.SeqNo != l.inviteCSeq {
		return false
	}
	if code, _ := validateRequest(req); code != 0 {
		return false
	}
	a.m.transaction("in", "ACK")
	a.gm.Message("sip", "in", "ACK")
	l.ackArrived()
	return true
}

// takeRequest runs req, a request other than REGISTER, in a server
// transaction of ours (servertx.go); false: sipgo gets it (no RFC 3261
// branch, no UDP listener to answer from). A retransmission, the ACK of a
// non-2xx answer and a CANCEL of an INVITE in progress are handled here,
// and so is an ACK that matches none of our transactions (ackInline); a
// new request gets its transaction and its handler's goroutine (the one
// sipgo would start), except a BYE the reader runs itself (byeInline).
func (a *Adapter) takeRequest(req *sip.Request, src *udpSource) bool {
	if a.udpConn == nil || req.Method == sip.REGISTER {
		return false
	}
	key, ok := srvTxKey(req, "")
	if !ok {
		return false
	}
	tx := a.serverTxs.get(key)
	switch {
	case req.IsAck():
		if tx == nil || !tx.ack(req) {
			a.ackInline(req)
		}
		return true
	case tx != nil:
		tx.retransmission()
		return true
	case req.IsCancel():
		if a.takeCancel(req, key, src) {
			return true
		}
	}
	if tx = a.serverTxs.add(key, req, udpReply{uc: a.udpConn, dest: src.ap}); tx == nil {
		return true // its first copy, read by another reader a moment ago, is being handled
	}
	if !a.byeInline(req, tx) {
		go a.serveTx(req, tx)
	}
	return true
}

// ackInline runs the ACK handler for an ACK that none of our transactions
// takes (a retransmitted ACK, the ACK of a re-INVITE's 2xx: Adapter.onAck,
// which never blocks) on the reader, without a transaction, as sipgo's
// transaction layer passes such ACKs to the handler without one.
func (a *Adapter) ackInline(req *sip.Request) {
	a.m.transaction("in", "ACK")
	a.gm.Message("sip", "in", "ACK")
	if code, reason := validateRequest(req); code != 0 {
		a.log.Debug("invalid sip request", "method", "ACK", "code", code, "reason", reason, "source", req.Source())
		return
	}
	a.onAck(req, nil)
}

// takeCancel answers a CANCEL of one of our INVITE transactions: 200 in
// the CANCEL's own transaction, then the INVITE's 487 if it had no final
// answer yet (RFC 3261 §9.2); false if the CANCEL matches none (its
// handler answers 481).
func (a *Adapter) takeCancel(req *sip.Request, key string, src *udpSource) bool {
	ikey, _ := srvTxKey(req, sip.INVITE)
	inv := a.serverTxs.get(ikey)
	if inv == nil {
		return false
	}
	a.m.transaction("in", "CANCEL")
	a.gm.Message("sip", "in", "CANCEL")
	if tx := a.serverTxs.add(key, req, udpReply{uc: a.udpConn, dest: src.ap}); tx != nil {
		if err := tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil)); err != nil {
			a.log.Debug("200 to CANCEL not sent", "err", err)
		}
	}
	inv.cancel(req)
	return true
}

// srvTxKey is the key of req's server transaction (RFC 3261 §17.2.3, as
// sip.ServerTxKeyMake makes it) as a request of method (""): the CSeq's,
// ACK as INVITE); ok is false without an RFC 3261 branch, which sipgo's
// transactions match the RFC 2543 way.
func srvTxKey(req *sip.Request, method sip.RequestMethod) (string, bool) {
	via, cseq := req.Via(), req.CSeq()
	if via == nil || cseq == nil {
		return "", false
	}
	branch, _ := via.Params.Get("branch")
	if len(branch) <= len(sip.RFC3261BranchMagicCookie) || !strings.HasPrefix(branch, sip.RFC3261BranchMagicCookie) {
		return "", false
	}
	if method == "" {
		method = cseq.MethodName
		if method == sip.ACK {
			method = sip.INVITE
		}
	}
	port := via.Port
	if port <= 0 {
		port = sip.DefaultPort(via.Transport)
	}
	var b strings.Builder
	b.Grow(len(branch) + len(via.Host) + len(method) + 9)
	b.WriteString(branch)
	b.WriteString(sip.TxSeperator)
	b.WriteString(via.Host)
	b.WriteString(sip.TxSeperator)
	b.WriteString(strconv.Itoa(port))
	b.WriteString(sip.TxSeperator)
	b.WriteString(string(method))
	return b.String(), true
}

// serveTx runs req's handler in its transaction; a transaction the
// handler left without a final response ends with it (as sipgo's server
// does), one with a final response lives on for its timers.
func (a *Adapter) serveTx(req *sip.Request, tx *srvTx) {
	defer tx.handlerDone()
	a.dispatch(req, tx)
}
