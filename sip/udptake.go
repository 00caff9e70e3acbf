package sip

import (
	"bytes"

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
// Anything else, or anything the reader cannot parse, goes to sipgo as
// before, which parses it again (rare: stray responses, late 2xx, ACKs
// of non-2xx answers, which sipgo's INVITE server transaction must see).

var (
	responsePrefix = []byte("SIP/2.0 ")
	ackPrefix      = []byte("ACK ")
)

// takeUDP handles a datagram from src in the reader that read it; false:
// sipgo gets it.
func (a *Adapter) takeUDP(data []byte, src string) (taken bool) {
	defer func() {
		if r := recover(); r != nil { // remote input must not end the reader
			a.gm.Panic()
			a.log.Error("sip UDP reader: panic on a datagram; passed to sipgo", "panic", r)
			taken = false
		}
	}()
	isResponse := bytes.HasPrefix(data, responsePrefix)
	if !isResponse && !bytes.HasPrefix(data, ackPrefix) {
		return false
	}
	msg, err := a.parser.ParseSIP(data)
	if err != nil {
		return false
	}
	switch m := msg.(type) {
	case *sip.Response:
		m.SetTransport("UDP")
		m.SetSource(src)
		return a.clientTxs.dispatch(m) || a.reackStray(m)
	case *sip.Request:
		m.SetTransport("UDP")
		m.SetSource(src)
		return a.takeAck(m)
	}
	return false
}

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
