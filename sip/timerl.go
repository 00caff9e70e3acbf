package sip

import (
	"encoding/binary"
	"hash/maphash"
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
//     by its Call-ID, From tag and CSeq (Adapter.accepted, an
//     acceptedMemo, remembered for 32-40 s from the INVITE, longer than
//     the caller's Timer B): while the
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
//     in the last 32-40 s gets 200 again (dialogTable.ended), never 481. Others
//     are answered anew: OPTIONS and an empty UPDATE the same way, an INFO
//     with a digit relays the digit again, a REGISTER is refused as out of
//     order (its binding was stored by the first).
//
// Our own server transactions on UDP (servertx.go) use the same two
// values, on their one clock goroutine (txclock.go) rather than one
// time.AfterFunc goroutine per firing; sipgo's (REGISTER, TCP, TLS, WS)
// use the package variables below.
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
	acceptedSpan = 32 * time.Second // an entry lives 32-40 s (Timer B is 32 s)
	acceptedMax  = 1 << 17          // INVITEs per span (about 130 k: 4,000 calls/s)
)

// acceptedMemo remembers the initial INVITEs of inbound legs for their
// retransmissions, from the INVITE for acceptedSpan to 1.25*acceptedSpan (genSet),
// and the 2xx of each leg that waits for its ACK. Safe for concurrent use.
//
// An INVITE is held as the memoHash of its Call-ID, From tag and CSeq
// number (inviteHash) with one bit, whether a 2xx was sent, in a genSet
// (memo.go): 11-16 bytes, nothing the garbage collector scans. The 2xx
// itself is held only while its leg waits for the ACK (acking: usually
// one round trip, a few legs at a time), which is the only time a
// retransmission is
// answered with it; before a retransmission gets it, it is checked against
// the retransmission's Call-ID, From tag and CSeq (sameInvite), so an
// INVITE whose hash collides with another's (below 2^-45 per INVITE,
// memo.go) is never answered with another call's 2xx. A collision costs
// that one new INVITE its call: it is absorbed, or answered 482, as a
// retransmission of the other.
type acceptedMemo struct {
	set    genSet                   // inviteHash, flag: a 2xx was sent; set.mu guards acking too
	acking map[uint64]*sip.Response // our 2xx while its leg waits for the ACK
}

func newAcceptedMemo() *acceptedMemo {
	return &acceptedMemo{set: genSet{span: acceptedSpan, max: acceptedMax}, acking: map[uint64]*sip.Response{}}
}

// acceptedInvite is an inbound leg's INVITE in the memo.
type acceptedInvite struct {
	m   *acceptedMemo
	key uint64
	ok  bool // the INVITE has a Call-ID, From and CSeq: it is remembered
}

// sending notes that the leg is sending res, its 2xx, and waits for the
// ACK: until acked, a retransmission of the INVITE gets res again, and
// after it, it is absorbed.
func (acc *acceptedInvite) sending(res *sip.Response) {
	if !acc.ok {
		return
	}
	acc.m.set.update(acc.key, true)
	acc.m.set.mu.Lock()
	acc.m.acking[acc.key] = res
	acc.m.set.mu.Unlock()
}

// acked ends the wait for the ACK of res (sent with sending).
func (acc *acceptedInvite) acked(res *sip.Response) {
	if !acc.ok {
		return
	}
	acc.m.set.mu.Lock()
	if acc.m.acking[acc.key] == res {
		delete(acc.m.acking, acc.key)
	}
	acc.m.set.mu.Unlock()
}

// ackingFor returns the 2xx waiting for its ACK that req, an initial
// INVITE with hash key, is a retransmission of (nil: none).
func (m *acceptedMemo) ackingFor(key uint64, req *sip.Request) *sip.Response {
	m.set.mu.Lock()
	res := m.acking[key]
	m.set.mu.Unlock()
	if res == nil || !sameInvite(req, res) {
		return nil
	}
	return res
}

// waiting is the number of 2xx waiting for their ACK.
func (m *acceptedMemo) waiting() int {
	m.set.mu.Lock()
	defer m.set.mu.Unlock()
	return len(m.acking)
}

// inviteHash is the memoHash of what identifies an initial INVITE apart
// from its branch: Call-ID, From tag and CSeq number (RFC 3261 §8.2.2.2).
// It does not allocate.
func inviteHash(req *sip.Request) (uint64, bool) {
	cid, from, cseq := req.CallID(), req.From(), req.CSeq()
	if cid == nil || from == nil || cseq == nil {
		return 0, false
	}
	tag, _ := from.Params.Get("tag")
	var h maphash.Hash
	h.SetSeed(memoSeed)
	h.WriteString(cid.Value())
	h.WriteByte(0)
	h.WriteString(tag)
	var n [5]byte
	binary.BigEndian.PutUint32(n[1:], cseq.SeqNo)
	h.Write(n[:])
	return h.Sum64(), true
}

// sameInvite reports whether res answers req, an initial INVITE: the same
// Call-ID, From tag and CSeq number.
func sameInvite(req *sip.Request, res *sip.Response) bool {
	rc, rf, rs := res.CallID(), res.From(), res.CSeq()
	qc, qf, qs := req.CallID(), req.From(), req.CSeq()
	if rc == nil || rf == nil || rs == nil || qc == nil || qf == nil || qs == nil {
		return false
	}
	rt, _ := rf.Params.Get("tag")
	qt, _ := qf.Params.Get("tag")
	return rc.Value() == qc.Value() && rt == qt && rs.SeqNo == qs.SeqNo
}

// rememberInvite notes the INVITE of a new inbound leg.
func (a *Adapter) rememberInvite(req *sip.Request) *acceptedInvite {
	acc := &acceptedInvite{m: a.accepted}
	if acc.key, acc.ok = inviteHash(req); acc.ok {
		a.accepted.set.put(acc.key, false, time.Now())
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
	key, ok := inviteHash(req)
	if !ok {
		return false
	}
	answered, ok := a.accepted.set.get(key, time.Now())
	if !ok {
		return false
	}
	switch res := a.accepted.ackingFor(key, req); {
	case res != nil:
		if err := tx.Respond(res); err != nil {
			a.log.Debug("2xx for a retransmitted INVITE not sent", "err", err)
		}
	case answered:
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
