package sip

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// timerL is how long sipgo keeps an INVITE server transaction after a 2xx
// (Timer L, RFC 6026 §7.1: 64*T1, 32 s, by default), and timerJ how long it
// keeps a non-INVITE server transaction after its final response on UDP
// (Timer J, RFC 3261 §17.2.2: 64*T1).
//
// Those transactions hold the request as parsed, our response, the header
// clones of both and, for the INVITE, the dialog session (through the
// transaction's callbacks) with its own copy of the INVITE; sipgo's
// Terminate stops neither timer and the timer's closure holds the
// transaction. At 1,000 SIP → browser calls/s that was the INVITE and the
// BYE of the last 32 s of calls, most of a process RSS of 809 MiB that
// grew for the first 40-60 s of every run (docs/PERFORMANCE.md).
//
// What the timers are for is done by the transaction user instead:
//
//   - Timer L lets the "Accepted" transaction absorb retransmitted INVITEs
//     and pass the TU's 2xx retransmissions to the transport. Our inbound
//     leg retransmits its 2xx itself, straight to the transaction's
//     connection, until the ACK or 64*T1 (inLeg.accept: RFC 3261 §13.3.1.4
//     makes that the TU's job), so the end of the transaction ends no ACK
//     wait. A retransmitted INVITE that finds no transaction is recognised
//     by its Call-ID, From tag and CSeq (Adapter.accepted, remembered for
//     32-64 s from the INVITE, longer than the caller's Timer B): while the
//     leg waits for the ACK it gets the same 2xx again, after that it is
//     absorbed as the transaction would have, and it never becomes a second
//     call. Re-INVITEs are handled the same way by the leg
//     (legCore.reinviteAgain).
//   - Timer J lets the transaction answer retransmissions of the request
//     with the same response. A sender retransmits only when it has no
//     final response, at most T2 (4 s) apart, so with timerJ = T2 a
//     retransmission whose response was lost still meets the transaction
//     unless our answers to the request and to two or three of its
//     retransmissions were all lost. For BYE, the one non-INVITE request of
//     every call, even that case is covered: a BYE in a dialog that ended
//     in the last 32-64 s gets 200 again (dialogTable.ended), never 481. Others
//     are answered anew: OPTIONS and an empty UPDATE the same way, an INFO
//     with a digit relays the digit again, a REGISTER is refused as out of
//     order (its binding was stored by the first).
//
// Like Timer M (timerm.go) they are sipgo package variables: set once,
// before any transaction exists. sip.SetTimers would reset them; nothing
// in sigbridge calls it.
const (
	timerL = time.Second
	timerJ = 4 * time.Second // T2
)

func init() {
	sip.Timer_L = timerL
	sip.Timer_J = timerJ
}

// ackWait is how long an inbound leg retransmits its 2xx waiting for the
// ACK (RFC 3261 §13.3.1.4: 64*T1).
func ackWait() time.Duration { return 64 * sip.T1 }

// Bounds of the memo of accepted initial INVITEs.
const (
	acceptedSpan = 32 * time.Second // one generation; an entry lives 32-64 s (Timer B is 32 s)
	acceptedMax  = 1 << 17          // INVITEs per generation (about 130 k: 4,000 calls/s)
)

// acceptedInvite is what a retransmission of an inbound leg's INVITE finds
// once the INVITE's transaction may be gone.
type acceptedInvite struct {
	ok       atomic.Pointer[sip.Response] // our 2xx while the leg waits for its ACK
	answered atomic.Bool                  // a 2xx was sent
}

// inviteID identifies an initial INVITE apart from its branch: Call-ID,
// From tag and CSeq number (RFC 3261 §8.2.2.2).
func inviteID(req *sip.Request) (string, bool) {
	cid, from, cseq := req.CallID(), req.From(), req.CSeq()
	if cid == nil || from == nil || cseq == nil {
		return "", false
	}
	tag, _ := from.Params.Get("tag")
	return cid.Value() + "\x00" + tag + "\x00" + strconv.FormatUint(uint64(cseq.SeqNo), 10), true
}

// remember notes the INVITE of a new inbound leg.
func (a *Adapter) rememberInvite(req *sip.Request) *acceptedInvite {
	acc := &acceptedInvite{}
	if id, ok := inviteID(req); ok {
		a.accepted.put(id, acc, time.Now())
	}
	return acc
}

// inviteAgain handles an initial INVITE that is one an inbound leg already
// has (true): sipgo made a new transaction for it because the first one
// ended (Timer L, see above) or because it came another way (another
// branch). While the leg waits for the ACK of its 2xx, the 2xx goes again;
// once it was ACKed (or the call is over) the INVITE is absorbed, as
// RFC 6026 §8.7 has the "Accepted" transaction do; a leg that has sent no
// 2xx still has its transaction, so this is a merged request (RFC 3261
// §8.2.2.2): 482.
func (a *Adapter) inviteAgain(req *sip.Request, tx sip.ServerTransaction) bool {
	id, ok := inviteID(req)
	if !ok {
		return false
	}
	acc, ok := a.accepted.get(id, time.Now())
	if !ok {
		return false
	}
	switch res := acc.ok.Load(); {
	case res != nil:
		if err := tx.Respond(res); err != nil {
			a.log.Debug("2xx for a retransmitted INVITE not sent", "err", err)
		}
	case acc.answered.Load():
		tx.Terminate() // absorbed: no response, no 100 Trying
	default:
		a.reply(req, tx, 482, "Loop Detected")
	}
	return true
}

// testTxEnded, when a test sets it, is told when the server transaction of
// an initial INVITE or of an in-dialog request ends ("<CSeq> <Call-ID>",
// "2 INVITE abc@host").
var testTxEnded atomic.Pointer[func(request string)]

// watchTx tells testTxEnded of tx's end.
func watchTx(req *sip.Request, tx sip.ServerTransaction) {
	f := testTxEnded.Load()
	if f == nil || req.CallID() == nil || req.CSeq() == nil {
		return
	}
	request := req.CSeq().Value() + " " + req.CallID().Value()
	tx.OnTerminate(func(string, error) { (*f)(request) })
}
