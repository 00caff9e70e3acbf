package sip

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/sigbridge/sigbridge/gateway"
)

// A 2xx to an INVITE we gave up on. When our outbound leg cancels its
// INVITE (the caller hung up while it rang, another fork branch answered,
// shutdown) the callee may have answered already: its 2xx crosses our
// CANCEL, which then gets 481 (or 200), and the 2xx arrives after the
// CANCEL's answer, or is retransmitted after the leg has ended, when the
// INVITE's client transaction is gone and the 2xx matches nothing. The
// same holds for a 2xx after a timeout or a failure. RFC 3261 §9.1 and
// §15: the UAC must ACK such a 2xx and then end the dialog with BYE,
// or the callee keeps a call up (and its media relay) until it gives up
// waiting for the ACK.
//
// A 2xx that reaches the leg while it still waits for the INVITE's final
// response (it always does after its CANCEL, uacwait.go) is ACKed and
// BYEd by the leg (outLeg.crossed). Anything later comes to the adapter's
// stray-response handler, which finds the INVITE here: every outbound
// INVITE is remembered, by Call-ID and our From tag, from the moment it is
// sent until its leg is answered (the dialog table takes over) or, when
// the leg ends without a dialog, for lateSpan to 2*lateSpan more. Each such
// 2xx is ACKed (retransmissions too: our ACK may be lost), and each dialog
// (the 2xx's To tag) gets one BYE, with the leg's Reason. Nothing of it
// reaches the gateway call: the leg, and usually the call, are over.
// Counted in sigbridge_sip_late_answers_total (once per dialog).

// lateSpan is one generation of the table: 64*T1 (32 s, T1 = 500 ms), how
// long a UAS retransmits an unacknowledged 2xx (RFC 3261 §13.3.1.4), and
// Timer B.
const lateSpan = 32 * time.Second

// lateInvite is what answering a late 2xx needs from our INVITE: our From
// (with our tag), the transport, the binding's flow (registered users'
// INVITEs, flow.go), the Reason of the BYE, and the To tags of the
// dialogs already BYEd (or answered by the leg itself).
//
// Until the leg gives up, from is the INVITE's own header, a pointer into
// the block that holds all of the INVITE's headers (buildInvite): copying
// it for every INVITE would cost allocations on every call, and an answered
// call drops the record (outLeg.forgetLate). When the leg gives up, the
// record stays lateSpan to 2*lateSpan more, and keep gives it a copy of its
// own, so that the INVITE's headers are not kept that long for one header.
type lateInvite struct {
	from      *sip.FromHeader // ours (never modified): the INVITE's own, then a copy (guarded by lateTable.mu once shared)
	ownFrom   bool            // from is the record's own copy (guarded by lateTable.mu)
	transport string
	flow      flow
	reason    sip.Header // set when the leg gives up (nil: ReasonCancel's)
	done      []string   // remote tags that need no BYE (guarded by lateTable.mu)
}

// lateMax bounds the INVITEs remembered per generation (about 130 k:
// 4,000 given-up INVITEs/s); beyond it a late 2xx of a new one is not
// recognised (and only logged).
const lateMax = 1 << 17

// lateTable remembers our INVITEs in two generations of lateSpan (a
// genMemo); mu guards the records' reason and done. Safe for concurrent
// use. Unlike the per-call memos (memo.go) it keeps its keys and records
// as they are: a record holds what a late 2xx is answered with (our From,
// the flow, the Reason), and an INVITE is held from when it is sent only
// until it is answered (drop) or, when its leg ends without an answer,
// for lateSpan to 2*lateSpan: answered calls leave nothing behind.
type lateTable struct {
	memo genMemo[string, *lateInvite]
	mu   sync.Mutex
}

func newLateTable() *lateTable {
	return &lateTable{memo: genMemo[string, *lateInvite]{span: lateSpan, max: lateMax}}
}

// put (re)places rec under key in the current generation: at the INVITE
// and again when the leg gives it up, so an ended leg's INVITE is kept at
// least lateSpan.
func (t *lateTable) put(key string, rec *lateInvite, now time.Time) { t.memo.put(key, rec, now) }

// drop forgets key: the leg's dialog answers from now on.
func (t *lateTable) drop(key string) { t.memo.delete(key) }

// keep sets the Reason of the BYE for rec, gives rec its own copy of the
// From (lateInvite), and (re)places it under key for lateSpan more.
func (t *lateTable) keep(key string, rec *lateInvite, h sip.Header, now time.Time) {
	t.mu.Lock()
	rec.reason = h
	if !rec.ownFrom {
		from := cloneFrom(rec.from)
		rec.from, rec.ownFrom = &from, true
	}
	t.mu.Unlock()
	t.put(key, rec, now)
}

// lateClaim is what claim found: the INVITE's record, its From and Reason
// as they were then, and whether the 2xx's dialog still needs a BYE.
type lateClaim struct {
	rec    *lateInvite
	from   *sip.FromHeader
	reason sip.Header
	bye    bool
}

// claim returns the INVITE of key at now, its From and Reason, and whether
// the dialog with the peer's tag remote still needs a BYE (true once per
// tag); rec is nil when key is not in the table.
func (t *lateTable) claim(key, remote string, now time.Time) lateClaim {
	rec, ok := t.memo.get(key, now)
	if !ok {
		return lateClaim{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return lateClaim{rec: rec, from: rec.from, reason: rec.reason, bye: rec.markDone(remote)}
}

// markDone records remote as needing no (further) BYE; true if it was new.
// lateTable.mu is held, or rec is not shared yet.
func (rec *lateInvite) markDone(remote string) bool {
	for _, d := range rec.done {
		if d == remote {
			return false
		}
	}
	rec.done = append(rec.done, remote)
	return true
}

// markDone is lateInvite.markDone under the table's lock.
func (t *lateTable) markDone(rec *lateInvite, remote string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return rec.markDone(remote)
}

func (t *lateTable) count() int { return t.memo.len() }

// onLate2xx handles a 2xx to an INVITE of ours that matches no transaction
// and no dialog: true when the INVITE was one of ours (given up, or still
// being given up).
func (a *Adapter) onLate2xx(res *sip.Response) bool {
	cid, from, to, cseq := res.CallID(), res.From(), res.To(), res.CSeq()
	if cid == nil || from == nil || to == nil || cseq == nil {
		return false
	}
	local, _ := from.Params.Get("tag")
	remote, _ := to.Params.Get("tag")
	c := a.late.claim(flowKey(cid.Value(), local), remote, time.Now())
	if c.rec == nil {
		return false
	}
	ld, err := a.lateDialog(c.rec, c.from, res)
	if err != nil {
		a.log.Info("2xx to an INVITE we gave up: not usable", "callid", cid.Value(), "err", err)
		return true
	}
	if err := ld.ack(cseq.SeqNo); err != nil {
		a.log.Info("2xx to an INVITE we gave up: ACK not sent", "callid", cid.Value(), "err", err)
	}
	if !c.bye {
		a.log.Debug("retransmitted 2xx to an INVITE we gave up: ACKed again", "callid", cid.Value())
		return true
	}
	a.m.lateAnswer()
	a.log.Info("2xx to an INVITE we gave up (cancelled, failed or timed out): ACKed, sending BYE",
		"callid", cid.Value(), "status", res.StatusCode, "remote_tag", remote)
	go ld.bye(a.ctx, c.reason)
	return true
}

// lateDialog is the dialog a late 2xx set up: built from our INVITE's
// record and the 2xx (its Record-Route, To tag and Contact), sent over the
// INVITE's flow when it had one.
type lateDialog struct {
	d      *dialogState
	target sip.Uri
	flow   flow
}

// errNoContact: a 2xx without a Contact, and no flow to send the ACK over.
var errNoContact = errors.New("sip: 2xx without Contact")

func (a *Adapter) lateDialog(rec *lateInvite, from *sip.FromHeader, res *sip.Response) (*lateDialog, error) {
	d := &dialogState{a: a, transport: rec.transport}
	d.callID = *res.CallID()
	d.from = cloneFrom(from)
	d.to = *sip.HeaderClone(res.To()).(*sip.ToHeader)
	d.cseq.Store(res.CSeq().SeqNo)
	rr := res.GetHeaders("Record-Route")
	for i := len(rr) - 1; i >= 0; i-- {
		d.routes = append(d.routes, rr[i].Value())
	}
	ld := &lateDialog{d: d, flow: rec.flow}
	switch c := res.Contact(); {
	case c != nil:
		ld.target = *c.Address.Clone()
	case rec.flow.valid():
		ld.target = res.To().Address // the flow decides where it goes
	default:
		return nil, errNoContact
	}
	return ld, nil
}

// overFlow points req at the INVITE's flow, as flowRequester would have
// while the leg was bound to it; a closed connection is not redialed.
func (ld *lateDialog) overFlow(req *sip.Request) error {
	if !ld.flow.valid() {
		return nil
	}
	req.SetTransport(ld.flow.transport)
	req.SetDestination(ld.flow.remote)
	if !ld.flow.reliable() {
		ld.d.a.fromListener(req, "UDP")
		return nil
	}
	req.Laddr = sip.Addr{}
	if !ld.d.a.flowAlive(ld.flow) {
		return errFlowClosed
	}
	return nil
}

// ack acknowledges the 2xx with CSeq cseq (dialogState.ack, over the flow).
func (ld *lateDialog) ack(cseq uint32) error {
	req := sip.NewRequest(sip.ACK, ld.target)
	ld.d.build(req, cseq)
	if err := ld.overFlow(req); err != nil {
		return err
	}
	if sent, err := ld.d.a.writeAckUDP(req, req.Transport()); sent {
		return err
	}
	ld.d.a.fromListener(req, req.Transport())
	return ld.d.a.cli.WriteRequest(req, addVia)
}

// bye ends the dialog, waiting at most byeTimeout for the answer.
func (ld *lateDialog) bye(ctx context.Context, reason sip.Header) {
	a := ld.d.a
	req := sip.NewRequest(sip.BYE, ld.target)
	if reason == nil {
		reason = reasonHeader(gateway.ReasonCancel)
	}
	req.AppendHeader(sip.HeaderClone(reason))
	ld.d.build(req, ld.d.cseq.Add(1))
	if err := ld.overFlow(req); err != nil {
		a.log.Info("BYE after a late 2xx not sent", "callid", ld.d.callID.Value(), "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, byeTimeout)
	defer cancel()
	a.m.transaction("out", "BYE")
	a.gm.Message("sip", "out", "BYE")
	tx, err := a.cli.TransactionRequest(ctx, req, addVia)
	if err != nil {
		a.log.Info("BYE after a late 2xx not sent", "callid", ld.d.callID.Value(), "err", err)
		return
	}
	res, err := waitFinal(ctx, tx)
	if err != nil {
		a.log.Info("BYE after a late 2xx not answered", "callid", ld.d.callID.Value(), "err", err)
		return
	}
	a.log.Debug("BYE after a late 2xx answered", "callid", ld.d.callID.Value(), "status", res.StatusCode)
}
