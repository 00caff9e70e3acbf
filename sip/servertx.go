package sip

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Our server transactions over UDP (RFC 3261 §17.2, with RFC 6026's
// Accepted state for INVITE), in place of sipgo's for the requests the
// UDP readers take (udptake.go: every method but REGISTER, with an RFC
// 3261 branch). sipgo's transaction layer starts a goroutine for every
// request it receives (handleRequestBackground), runs an FSM per
// transaction, and its Timer L (INVITE after 2xx) and Timer J (non-INVITE)
// fire as goroutines of their own once per call (time.AfterFunc). Ours:
//
//   - the reader that parsed a request looks its transaction up itself: a
//     retransmission gets the last response again (an INVITE with no
//     response yet gets 100 Trying), an ACK of a non-2xx final answer
//     confirms it, a CANCEL of an INVITE in Proceeding gets 200 and the
//     INVITE 487; only a new request starts a goroutine, the handler's
//     (which for an INVITE becomes the leg's);
//   - every timer (the 200 ms 100 Trying of §17.2.1, G, H, I, J, L) is an
//     entry in one heap served by one goroutine (txClock), not a runtime
//     timer with a goroutine per firing.
//
// Values: Timer G from T1 doubling to T2, H 64*T1, I T4, J and L as
// timerl.go argues (T2 and 1 s: retransmissions beyond them are answered
// by the TU, acceptedMemo and dialogTable.ended). TCP, TLS and WebSocket
// keep sipgo's transactions, and so does REGISTER.
//
// Once its final response is out a transaction keeps only what its state
// still needs, not the parsed request and response: a BYE's lives Timer J
// (4 s) after its 200, four times as long as the call's own hold in a
// steady SIP → browser load, and the INVITE's Timer L (1 s) after the
// 2xx. Completed (a non-2xx answer to an INVITE, any final answer to
// another request) keeps its key and the bytes of that answer, which
// Timer G and the retransmissions of the request get; Accepted (a 2xx to
// an INVITE) keeps its key only, as it absorbs retransmissions and the TU
// sends its 2xx again itself. The request (which only Proceeding uses: 100
// Trying, 487 for a CANCEL), the last provisional response and the CANCEL
// callbacks (which only Proceeding calls) go at the final response.

// srvTxState is where a server transaction is in RFC 3261 §17.2.
type srvTxState uint8

const (
	srvTrying     srvTxState = iota // non-INVITE before any response; an INVITE is Proceeding from the start
	srvProceeding                   // a provisional response was sent (INVITE: or none yet)
	srvAccepted                     // INVITE answered 2xx (RFC 6026 §7.1)
	srvCompleted                    // final response sent (INVITE: non-2xx, waiting for the ACK)
	srvConfirmed                    // INVITE: the ACK of the non-2xx came
	srvTerminated
)

// errSrvTxDone is returned by Respond once the transaction took its final
// response (or ended).
var errSrvTxDone = errors.New("sip: server transaction has no room for this response")

// srvTx is one server transaction of ours over UDP. It implements
// sip.ServerTransaction for the handlers.
type srvTx struct {
	key    string
	origin *sip.Request
	invite bool
	conn   udpReply
	table  *srvTxTable

	acks chan *sip.Request // cap 1: the ACK of a non-2xx final answer

	mu       sync.Mutex
	state    srvTxState
	last     *sip.Response // the last provisional response sent, until the final one
	wire     []byte        // Completed: the final response as sent, for Timer G and retransmissions
	err      error
	clockSeq uint32        // the one pending timer's sequence (txClock)
	gNext    time.Duration // Timer G's next interval
	hAt      time.Time     // Timer H's deadline while Completed
	onTerm   []sip.FnTxTerminate
	onCancel []sip.FnTxCancel
	done     chan struct{} // made by the first Done (few transactions are asked), closed at the end
}

// closedDone is the Done of a transaction that ended before anyone asked.
var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

var _ sip.ServerTransaction = (*srvTx)(nil)

// srvTxTable holds our live server transactions by key
// (sip.ServerTxKeyMake: branch, sent-by and method, ACK as INVITE).
type srvTxTable struct {
	mu    sync.Mutex
	txs   map[string]*srvTx
	clock *txClock
}

func newSrvTxTable() *srvTxTable {
	return &srvTxTable{txs: map[string]*srvTx{}, clock: newTxClock()}
}

func (t *srvTxTable) get(key string) *srvTx {
	t.mu.Lock()
	tx := t.txs[key]
	t.mu.Unlock()
	return tx
}

// add starts a transaction for req, a new request with key, answered
// through conn; nil if one with that key exists (a retransmission that
// raced its first copy to another reader).
func (t *srvTxTable) add(key string, req *sip.Request, conn udpReply) *srvTx {
	tx := &srvTx{key: key, origin: req, invite: req.IsInvite(), conn: conn, table: t}
	if tx.invite {
		tx.state = srvProceeding
		tx.acks = make(chan *sip.Request, 1)
	}
	t.mu.Lock()
	if _, dup := t.txs[key]; dup {
		t.mu.Unlock()
		return nil
	}
	t.txs[key] = tx
	t.mu.Unlock()
	if tx.invite {
		tx.mu.Lock()
		tx.schedule(time.Now().Add(sip.Timer_1xx))
		tx.mu.Unlock()
	}
	return tx
}

func (t *srvTxTable) drop(tx *srvTx) {
	t.mu.Lock()
	if t.txs[tx.key] == tx {
		delete(t.txs, tx.key)
	}
	t.mu.Unlock()
}

// len is the number of live transactions.
func (t *srvTxTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.txs)
}

// terminateAll ends every live transaction and the clock (Adapter.stop).
func (t *srvTxTable) terminateAll() {
	t.clock.stop()
	t.mu.Lock()
	txs := make([]*srvTx, 0, len(t.txs))
	for _, tx := range t.txs {
		txs = append(txs, tx)
	}
	t.mu.Unlock()
	for _, tx := range txs {
		tx.end(sip.ErrTransactionTerminated)
	}
}

// schedule sets the transaction's one pending timer; tx.mu is held.
func (tx *srvTx) schedule(at time.Time) {
	tx.clockSeq++
	tx.table.clock.at(at, tx, tx.clockSeq)
}

// unschedule cancels the pending timer; tx.mu is held.
func (tx *srvTx) unschedule() { tx.clockSeq++ }

// fire runs the pending timer (on the clock's goroutine) unless it was
// replaced or cancelled since.
func (tx *srvTx) fire(seq uint32, now time.Time) {
	tx.mu.Lock()
	if seq != tx.clockSeq || tx.state == srvTerminated {
		tx.mu.Unlock()
		return
	}
	switch tx.state {
	case srvProceeding: // the 200 ms of §17.2.1: 100 Trying unless the TU answered
		if tx.invite && tx.last == nil {
			tx.send(sip.NewResponseFromRequest(tx.origin, 100, "Trying", nil))
		}
		tx.mu.Unlock()
	case srvCompleted:
		if tx.invite && now.Before(tx.hAt) { // Timer G
			_ = tx.conn.writeBytes(tx.wire)
			tx.schedule(minTime(now.Add(tx.gNext), tx.hAt))
			tx.gNext = min(2*tx.gNext, sip.T2)
			tx.mu.Unlock()
			return
		}
		tx.mu.Unlock()
		if tx.invite { // Timer H: no ACK
			tx.end(sip.ErrTransactionTimeout)
			return
		}
		tx.end(nil) // Timer J
	default: // Accepted (Timer L), Confirmed (Timer I)
		tx.mu.Unlock()
		tx.end(nil)
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// send writes res, a provisional response, as the transaction's latest;
// tx.mu is held.
func (tx *srvTx) send(res *sip.Response) error {
	tx.last = res
	return tx.write(res)
}

// sendFinal writes res, the final response, and lets go of what only
// Proceeding needs (the request, the last provisional response, the
// CANCEL callbacks); keep keeps res's bytes for Completed. tx.mu is held,
// tx.state is the state after res.
func (tx *srvTx) sendFinal(res *sip.Response, keep bool) error {
	tx.origin, tx.last, tx.onCancel = nil, nil, nil
	if !keep {
		return tx.write(res)
	}
	tx.wire = wireBytes(res)
	if err := tx.conn.writeBytes(tx.wire); err != nil {
		return fmt.Errorf("sip: send %d: %w", res.StatusCode, err)
	}
	return nil
}

func (tx *srvTx) write(res *sip.Response) error {
	if err := tx.conn.WriteMsg(res); err != nil {
		return fmt.Errorf("sip: send %d: %w", res.StatusCode, err)
	}
	return nil
}

// Respond sends res within the transaction (sip.ServerTransaction).
func (tx *srvTx) Respond(res *sip.Response) error {
	tx.mu.Lock()
	if tx.invite {
		return tx.respondInvite(res)
	}
	defer tx.mu.Unlock()
	switch {
	case tx.state > srvProceeding:
		return errSrvTxDone
	case res.IsProvisional():
		tx.state = srvProceeding
		return tx.send(res)
	}
	tx.state = srvCompleted
	tx.schedule(time.Now().Add(timerJ))
	return tx.sendFinal(res, true)
}

// respondInvite is Respond for an INVITE; it unlocks tx.mu.
func (tx *srvTx) respondInvite(res *sip.Response) error {
	switch {
	case tx.state == srvAccepted && res.IsSuccess(): // the TU's 2xx retransmission
		tx.mu.Unlock()
		return tx.write(res)
	case tx.state != srvProceeding:
		tx.mu.Unlock()
		return errSrvTxDone
	case res.IsProvisional():
		err := tx.send(res)
		tx.mu.Unlock()
		return err
	case res.IsSuccess():
		tx.state = srvAccepted
		tx.schedule(time.Now().Add(timerL))
		err := tx.sendFinal(res, false)
		tx.mu.Unlock()
		return err
	}
	tx.complete(res)
	tx.mu.Unlock()
	return nil
}

// complete sends a non-2xx final answer to the INVITE and starts Timers G
// and H; tx.mu is held.
func (tx *srvTx) complete(res *sip.Response) {
	now := time.Now()
	tx.state = srvCompleted
	tx.hAt = now.Add(64 * sip.T1)
	tx.gNext = min(2*sip.T1, sip.T2)
	tx.schedule(now.Add(sip.T1))
	_ = tx.sendFinal(res, true) // a lost write is what Timer G is for
}

// retransmission handles a retransmitted request (the reader's goroutine).
func (tx *srvTx) retransmission() {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	switch tx.state {
	case srvProceeding:
		if tx.last == nil && tx.invite { // nothing from the TU yet: 100 now (its sender is waiting)
			_ = tx.send(sip.NewResponseFromRequest(tx.origin, 100, "Trying", nil))
			return
		}
		if tx.last != nil {
			_ = tx.write(tx.last)
		}
	case srvCompleted:
		_ = tx.conn.writeBytes(tx.wire)
	}
	// Trying (non-INVITE, nothing to repeat), Accepted (the TU retransmits
	// its 2xx, RFC 6026 §7.1), Confirmed, Terminated: absorbed.
}

// ack handles an ACK that matches the INVITE transaction: it confirms a
// non-2xx answer (Timer I); true when absorbed here. In Accepted it is the
// ACK of our 2xx carrying the INVITE's branch: false, the TU takes it.
func (tx *srvTx) ack(req *sip.Request) bool {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	switch tx.state {
	case srvAccepted:
		return false
	case srvCompleted:
		tx.state = srvConfirmed
		tx.schedule(time.Now().Add(sip.T4))
		select {
		case tx.acks <- req:
		default:
		}
	}
	return true
}

// cancel handles a CANCEL of this INVITE transaction (RFC 3261 §9.2): in
// Proceeding the INVITE gets 487 and the TU is told (OnCancel); later the
// CANCEL changes nothing. The CANCEL's own 200 is its transaction's.
func (tx *srvTx) cancel(req *sip.Request) {
	tx.mu.Lock()
	if tx.state != srvProceeding {
		tx.mu.Unlock()
		return
	}
	tx.err = sip.ErrTransactionCanceled
	res := sip.NewResponseFromRequest(tx.origin, 487, "Request Terminated", nil)
	if tag, to := toTagOf(tx.last), res.To(); tag != "" && to != nil { // one To tag for every response to a request (RFC 3261 §8.2.6.2)
		to.Params.Add("tag", tag)
	}
	fns := tx.onCancel // before complete, which lets go of them
	tx.onCancel = nil
	tx.complete(res)
	tx.mu.Unlock()
	for _, f := range fns {
		f(req)
	}
}

// toTagOf is the To tag of res ("": none, or no res).
func toTagOf(res *sip.Response) string {
	if res == nil || res.To() == nil {
		return ""
	}
	tag, _ := res.To().Params.Get("tag")
	return tag
}

// end terminates the transaction with err (nil: a normal end).
func (tx *srvTx) end(err error) {
	tx.mu.Lock()
	if tx.state == srvTerminated {
		tx.mu.Unlock()
		return
	}
	tx.state = srvTerminated
	tx.unschedule()
	if tx.err == nil {
		tx.err = err
	}
	err = tx.err
	fns, done := tx.onTerm, tx.done
	tx.onTerm, tx.onCancel = nil, nil
	tx.origin, tx.last, tx.wire = nil, nil, nil
	tx.mu.Unlock()
	tx.table.drop(tx)
	if done != nil {
		close(done) // once out of the table: Done means gone (only the first end gets here)
	}
	for _, f := range fns {
		f(tx.key, err)
	}
}

// handlerDone ends the transaction if its handler returned without a
// final response.
func (tx *srvTx) handlerDone() {
	tx.mu.Lock()
	final := tx.state >= srvAccepted // Terminated too: Terminate is then a no-op
	tx.mu.Unlock()
	if !final {
		tx.Terminate()
	}
}

// Terminate ends the transaction at once (sip.Transaction).
func (tx *srvTx) Terminate() { tx.end(sip.ErrTransactionTerminated) }

// OnTerminate registers f for the transaction's end; false if it ended.
func (tx *srvTx) OnTerminate(f sip.FnTxTerminate) bool {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.state == srvTerminated {
		return false
	}
	tx.onTerm = append(tx.onTerm, f)
	return true
}

// OnCancel registers f for a CANCEL of the INVITE; false if it ended.
func (tx *srvTx) OnCancel(f sip.FnTxCancel) bool {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.state == srvTerminated {
		return false
	}
	tx.onCancel = append(tx.onCancel, f)
	return true
}

// Done is closed when the transaction has ended (and left the table).
func (tx *srvTx) Done() <-chan struct{} {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	switch {
	case tx.done != nil:
	case tx.state == srvTerminated:
		return closedDone
	default:
		tx.done = make(chan struct{})
	}
	return tx.done
}

func (tx *srvTx) Err() error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.err
}

// Acks returns the ACK of a non-2xx final answer (nil channel for a
// non-INVITE: it never delivers).
func (tx *srvTx) Acks() <-chan *sip.Request { return tx.acks }

// Connection is where the transaction answers (inLeg.waitAck retransmits
// its 2xx there after the transaction ended).
func (tx *srvTx) Connection() sip.Connection { return &tx.conn }

// udpReply is the sip.Connection of a server transaction over UDP:
// responses go from the listening socket to the request's source (as
// sipgo sends them; RFC 3581 rport), serialised into a pooled buffer.
type udpReply struct {
	uc   *net.UDPConn
	dest netip.AddrPort
}

var _ sip.Connection = (*udpReply)(nil)

func (c *udpReply) LocalAddr() net.Addr { return c.uc.LocalAddr() }
func (c *udpReply) Ref(int) int         { return 1 }
func (c *udpReply) TryClose() (int, error) {
	return 1, nil // the listener is the adapter's
}
func (c *udpReply) Close() error { return nil }

func (c *udpReply) WriteMsg(msg sip.Message) error {
	buf := ackBufs.Get().(*bytes.Buffer)
	defer ackBufs.Put(buf)
	buf.Reset()
	msg.StringWrite(buf)
	return c.writeBytes(buf.Bytes())
}

// writeBytes sends a serialised message.
func (c *udpReply) writeBytes(b []byte) error {
	if len(b) > sip.UDPMTUSize-200 {
		return sip.ErrUDPMTUCongestion
	}
	_, err := c.uc.WriteToUDPAddrPort(b, c.dest)
	return err
}

// wireBytes is msg serialised, in a slice of its own length.
func wireBytes(msg sip.Message) []byte {
	buf := ackBufs.Get().(*bytes.Buffer)
	defer ackBufs.Put(buf)
	buf.Reset()
	msg.StringWrite(buf)
	return bytes.Clone(buf.Bytes())
}
