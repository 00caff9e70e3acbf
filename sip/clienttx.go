package sip

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Our client transactions over UDP (RFC 3261 §17.1, with RFC 6026's
// Accepted state for INVITE), in place of sipgo's for every request the
// adapter sends over UDP (flowRequester). sipgo's transaction layer starts
// a goroutine for every response it receives (handleResponseBackground),
// because its transaction blocks until the transaction user has taken the
// response from an unbuffered channel; at 2,000 browser → SIP calls/s that
// was four goroutines per call (100, 180 and 200 to the INVITE, 200 to the
// BYE), each a creation, a stack that grows while parsing and a hand-off to
// the scheduler. Ours never block: a response goes into a buffered channel
// (a final one always fits), so the UDP reader that parsed it hands it to
// its transaction itself (udptake.go; Adapter.onStrayResponse for the
// other readers). Behaviour is sipgo's: Timer A/E retransmissions over
// UDP (doubling, for non-INVITE capped at T2, T2 once provisional), Timer
// B/F timeouts until the first response, the ACK of a non-2xx final answer
// (sent again for each retransmission of it, for Timer D), a 2xx moves an
// INVITE to Accepted for Timer M (its retransmissions go to the
// OnRetransmission hook), a non-INVITE final waits Timer K to absorb
// retransmissions. Reliable transports keep sipgo's transactions.

// clientTxState is where a client transaction is in RFC 3261 §17.1.
type clientTxState uint8

const (
	txCalling clientTxState = iota // Calling (INVITE) or Trying (non-INVITE)
	txProceeding
	txAccepted  // INVITE answered 2xx (RFC 6026)
	txCompleted // final answer (non-2xx for INVITE)
	txTerminated
)

// txResponseBuffer is how many responses wait for the transaction user; the
// last slot is kept for the final response (provisional ones beyond it are
// dropped, as their retransmissions would be).
const txResponseBuffer = 4

// clientTx is one client transaction of ours. It implements
// sip.ClientTransaction.
type clientTx struct {
	key    string
	origin *sip.Request
	conn   sip.Connection
	table  *clientTxTable
	invite bool

	responses chan *sip.Response
	done      chan struct{}

	mu    sync.Mutex
	state clientTxState
	err   error
	// One timer runs the transaction's timers (fire): A or E and B or F
	// together (it is due at the earlier), then D, K or M. One per
	// transaction instead of three: each was a timer and a closure.
	timer     *time.Timer
	due       time.Time     // when timer is due: a run before is a stale one
	retrans   time.Duration // current interval of Timer A/E
	nextA     time.Time     // when Timer A/E is due; zero when stopped
	deadB     time.Time     // when Timer B/F is due; zero when stopped
	ending    bool          // timer is D, K or M
	endWait   time.Duration // its duration
	endDelays int           // times expire waited for the user (maxEndDelays)
	ack       *sip.Request  // the ACK of a non-2xx final answer
	onTerm    []sip.FnTxTerminate
	onRetrans sip.FnTxResponse

	// An INVITE's 100 Trying carries nothing for its user but that a
	// provisional response came, which lets a hung-up caller CANCEL (RFC
	// 3261 §9.1). It is kept here (trying) instead of waking the user,
	// until the user asks (provisionalSeen): from then on every
	// provisional response reaches it (all1xx).
	trying, all1xx bool
}

var _ sip.ClientTransaction = (*clientTx)(nil)

// clientTxTable holds our live client transactions by key (branch and
// method, sip.ClientTxKeyMake). Safe for concurrent use.
type clientTxTable struct {
	mu  sync.Mutex
	txs map[string]*clientTx
}

func newClientTxTable() *clientTxTable { return &clientTxTable{txs: map[string]*clientTx{}} }

// request starts a client transaction for req over conn (which it owns
// from now: the transaction releases it when it ends) and sends req.
func (t *clientTxTable) request(req *sip.Request, conn sip.Connection) (*clientTx, error) {
	key, err := sip.ClientTxKeyMake(req)
	if err != nil {
		_, _ = conn.TryClose()
		return nil, err
	}
	tx := &clientTx{key: key, origin: req, conn: conn, table: t, invite: req.IsInvite(),
		responses: make(chan *sip.Response, txResponseBuffer), done: make(chan struct{})}
	t.mu.Lock()
	if _, dup := t.txs[key]; dup {
		t.mu.Unlock()
		_, _ = conn.TryClose()
		return nil, fmt.Errorf("sip: client transaction %q already exists", key)
	}
	t.txs[key] = tx
	t.mu.Unlock()
	tx.start()
	if err := conn.WriteMsg(req); err != nil {
		tx.end(fmt.Errorf("sip: send %s: %w: %w", req.Method, err, sip.ErrTransactionTransport))
		return nil, fmt.Errorf("sip: send %s: %w", req.Method, err)
	}
	return tx, nil
}

// dispatch hands res to its transaction; false: it matches none of ours.
func (t *clientTxTable) dispatch(res *sip.Response) bool {
	key, err := sip.ClientTxKeyMake(res)
	if err != nil {
		return false
	}
	t.mu.Lock()
	tx := t.txs[key]
	t.mu.Unlock()
	if tx == nil {
		return false
	}
	tx.receive(res)
	return true
}

// find returns the live transaction of key (branch, TxSeperator, method),
// nil if none.
func (t *clientTxTable) find(key []byte) *clientTx {
	t.mu.Lock()
	tx := t.txs[string(key)]
	t.mu.Unlock()
	return tx
}

func (t *clientTxTable) drop(tx *clientTx) {
	t.mu.Lock()
	if t.txs[tx.key] == tx {
		delete(t.txs, tx.key)
	}
	t.mu.Unlock()
}

// terminateAll ends every live transaction (Adapter.stop).
func (t *clientTxTable) terminateAll() {
	t.mu.Lock()
	txs := make([]*clientTx, 0, len(t.txs))
	for _, tx := range t.txs {
		txs = append(txs, tx)
	}
	t.mu.Unlock()
	for _, tx := range txs {
		tx.end(sip.ErrTransactionTerminated)
	}
}

// len is the number of live transactions (tests).
func (t *clientTxTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.txs)
}

// start arms Timer A/E (unreliable transports) and Timer B/F.
func (tx *clientTx) start() {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	now := time.Now()
	if !sip.IsReliable(tx.origin.Transport()) {
		tx.retrans = sip.Timer_A
		tx.nextA = now.Add(tx.retrans)
	}
	tx.deadB = now.Add(sip.Timer_B)
	tx.armRetransmit()
}

// arm makes the timer due at t; tx.mu is held.
func (tx *clientTx) arm(t time.Time) {
	tx.due = t
	d := time.Until(t)
	if tx.timer == nil {
		tx.timer = time.AfterFunc(d, tx.fire)
		return
	}
	tx.timer.Reset(d)
}

// armRetransmit arms the timer for the earlier of Timer A/E and B/F;
// tx.mu is held.
func (tx *clientTx) armRetransmit() {
	next := tx.deadB
	if !tx.nextA.IsZero() && tx.nextA.Before(next) {
		next = tx.nextA
	}
	tx.arm(next)
}

// fire runs the timer that is due: Timer B/F, A/E, or D/K/M (expire).
// A run that is not due is one of a time the timer was set to before
// (Reset does not stop a run already started): it does nothing.
func (tx *clientTx) fire() {
	tx.mu.Lock()
	now := time.Now()
	switch {
	case tx.state == txTerminated || now.Before(tx.due):
		tx.mu.Unlock()
	case tx.ending:
		tx.mu.Unlock()
		tx.expire()
	case !tx.deadB.IsZero() && !now.Before(tx.deadB):
		tx.mu.Unlock()
		tx.end(fmt.Errorf("Timer_B timed out. %w", sip.ErrTransactionTimeout))
	case !tx.nextA.IsZero() && !now.Before(tx.nextA):
		tx.retransmit(now)
	default:
		tx.mu.Unlock()
	}
}

// retransmit is Timer A (INVITE: while Calling, doubling) or Timer E
// (non-INVITE: doubling up to T2, T2 once Proceeding); tx.mu is held, and
// released.
func (tx *clientTx) retransmit(now time.Time) {
	if tx.state != txCalling && (tx.invite || tx.state != txProceeding) {
		tx.mu.Unlock()
		return
	}
	switch {
	case tx.invite:
		tx.retrans *= 2
	case tx.state == txProceeding:
		tx.retrans = sip.T2
	default:
		tx.retrans = min(2*tx.retrans, sip.T2)
	}
	tx.nextA = now.Add(tx.retrans)
	tx.armRetransmit()
	tx.mu.Unlock()
	if err := tx.conn.WriteMsg(tx.origin); err != nil {
		tx.end(fmt.Errorf("sip: resend %s: %w: %w", tx.origin.Method, err, sip.ErrTransactionTransport))
	}
}

// receive runs the state machine for one response. The transaction user
// gets the first provisional responses and the first final one through the
// buffered channel; nothing here blocks but the ACK's write. The ACK of a
// non-2xx final answer is written before that answer reaches the user, as
// RFC 3261 §17.1.1.2 orders it: a user that answers a 401 or 407 with a new
// INVITE at once must not get it to the peer ahead of the ACK (a UAS that
// waits for the ACK, SIPp's uas_auth.xml, aborts the call otherwise).
func (tx *clientTx) receive(res *sip.Response) {
	var (
		ack     *sip.Request
		final   *sip.Response // a non-2xx final answer for the user, after its ACK
		retrans sip.FnTxResponse
	)
	tx.mu.Lock()
	switch {
	case tx.state == txTerminated:
	case res.IsProvisional():
		if tx.proceed(res.StatusCode) {
			tx.responses <- res
		}
	case tx.state == txCalling || tx.state == txProceeding:
		tx.stopTimers(false)
		switch {
		case tx.invite && res.IsSuccess():
			tx.responses <- res // the slot kept for it
			tx.state = txAccepted
			tx.endAfter(sip.Timer_M)
		case tx.invite:
			final = res // the slot stays kept: no other final answer gets past Completed
			tx.state = txCompleted
			tx.ack = nonSuccessACK(tx.origin, res)
			ack = tx.ack // Timer D starts once the user has the answer (below)
		default:
			tx.responses <- res // the slot kept for it
			tx.state = txCompleted
			tx.endAfter(tx.wait(sip.Timer_K))
		}
	case tx.state == txAccepted && res.IsSuccess():
		retrans = tx.onRetrans
	case tx.state == txCompleted && tx.invite:
		ack = tx.ack // a retransmitted final answer: our ACK was lost
	}
	tx.mu.Unlock()
	if retrans != nil {
		retrans(res)
	}
	if ack != nil {
		if err := tx.conn.WriteMsg(ack); err != nil {
			tx.end(fmt.Errorf("sip: send ACK: %w: %w", err, sip.ErrTransactionTransport))
		}
	}
	if final != nil {
		tx.responses <- final
		tx.mu.Lock()
		if tx.state == txCompleted && !tx.ending {
			tx.endAfter(tx.wait(sip.Timer_D))
		}
		tx.mu.Unlock()
	}
}

// proceed runs the state machine for a provisional response with code;
// true: the user gets it, and there is room for it in tx.responses (not
// for a 100 Trying to an INVITE, which tx.trying keeps; not past
// Proceeding). tx.mu is held.
func (tx *clientTx) proceed(code int) bool {
	if tx.state != txCalling && tx.state != txProceeding {
		return false
	}
	tx.state = txProceeding
	if tx.invite {
		tx.stopTimers(false) // Timer A and B; the transaction user bounds the wait
	}
	if tx.invite && code == 100 && !tx.all1xx {
		tx.trying = true
		return false
	}
	return len(tx.responses) < cap(tx.responses)-1
}

// receiveStatus is receive for a response of which the user needs no more
// than its status code and reason phrase (lightres.go): the response the
// user gets has no headers, and is built only if the user gets it (not
// for the 100 Trying an INVITE keeps).
func (tx *clientTx) receiveStatus(code int, reason string) {
	if code >= 200 {
		tx.receive(statusResponse(code, reason))
		return
	}
	tx.mu.Lock()
	if tx.proceed(code) {
		tx.responses <- statusResponse(code, reason)
	}
	tx.mu.Unlock()
}

// statusResponse is sip.NewResponse(code, reason) without its header
// slice, made on the first header appended (one allocation instead of
// two): the user of a light response reads its status code alone.
func statusResponse(code int, reason string) *sip.Response {
	res := &sip.Response{StatusCode: code, Reason: reason}
	res.SipVersion = "SIP/2.0"
	return res
}

// provisionalSeen reports whether a 100 Trying came that the user was
// not given; from now on the user gets every provisional response.
func (tx *clientTx) provisionalSeen() bool {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.all1xx = true
	return tx.trying
}

// wait is Timer D or K: d over UDP, none over reliable transports.
func (tx *clientTx) wait(d time.Duration) time.Duration {
	if sip.IsReliable(tx.origin.Transport()) {
		return 0
	}
	return d
}

// maxEndDelays bounds how often expire waits again for a transaction
// user that has not read its responses.
const maxEndDelays = 64

// expire ends the transaction when Timer D, K or M fires, unless a
// response still waits in the channel: a user selecting on Responses and
// Done at once could otherwise see Done first and lose the final answer
// (sipgo starts these timers only once the user has taken the response,
// as its pass-up blocks until then; Timer M is 1 s here, timerm.go). Then
// the timer runs again, at most maxEndDelays times.
func (tx *clientTx) expire() {
	tx.mu.Lock()
	if tx.state != txTerminated && len(tx.responses) > 0 && tx.endDelays < maxEndDelays && tx.ending {
		tx.endDelays++
		tx.arm(time.Now().Add(max(tx.endWait, sip.T1)))
		tx.mu.Unlock()
		return
	}
	tx.mu.Unlock()
	tx.end(sip.ErrTransactionTerminated)
}

// endAfter arms Timer D, K or M (d) in place of A and B; tx.mu is held.
func (tx *clientTx) endAfter(d time.Duration) {
	tx.endWait, tx.ending = d, true
	tx.arm(time.Now().Add(d))
}

// stopTimers stops Timer A and B (and D/K/M with all); tx.mu is held.
func (tx *clientTx) stopTimers(all bool) {
	tx.nextA, tx.deadB = time.Time{}, time.Time{}
	if tx.timer != nil && (all || !tx.ending) {
		tx.timer.Stop()
	}
	if all {
		tx.ending = false
	}
}

// end terminates the transaction with err (once): timers stop, Done
// closes, the table forgets it, the OnTerminate hooks run and the
// connection is released.
func (tx *clientTx) end(err error) {
	tx.mu.Lock()
	if tx.state == txTerminated {
		tx.mu.Unlock()
		return
	}
	tx.state = txTerminated
	tx.err = err
	tx.stopTimers(true)
	hooks := tx.onTerm
	tx.onTerm, tx.onRetrans, tx.ack = nil, nil, nil
	close(tx.done)
	tx.mu.Unlock()
	tx.table.drop(tx)
	for _, f := range hooks {
		f(tx.key, err)
	}
	_, _ = tx.conn.TryClose()
}

// Terminate ends the transaction at once (sipgo: Err is then
// sip.ErrTransactionCanceled).
func (tx *clientTx) Terminate() { tx.end(sip.ErrTransactionCanceled) }

// OnTerminate registers f for the end of the transaction; false if it has
// ended already.
func (tx *clientTx) OnTerminate(f sip.FnTxTerminate) bool {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.state == txTerminated {
		return false
	}
	tx.onTerm = append(tx.onTerm, f)
	return true
}

// Done is closed when the transaction ends.
func (tx *clientTx) Done() <-chan struct{} { return tx.done }

// Err is why the transaction ended (nil while it runs).
func (tx *clientTx) Err() error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.err
}

// Responses delivers the transaction's responses: provisional ones (some
// may be dropped if nobody reads) and the final one.
func (tx *clientTx) Responses() <-chan *sip.Response { return tx.responses }

// OnRetransmission registers f for retransmitted 2xx answers to an INVITE
// (while Accepted); false if the transaction has ended.
func (tx *clientTx) OnRetransmission(f sip.FnTxResponse) bool {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.state == txTerminated {
		return false
	}
	if prev := tx.onRetrans; prev != nil {
		tx.onRetrans = func(r *sip.Response) { prev(r); f(r) }
	} else {
		tx.onRetrans = f
	}
	return true
}

// nonSuccessACK is the ACK of a non-2xx final answer to inv (RFC 3261
// §17.1.1.3): inv's Request-URI, top Via, Route, From, Call-ID and CSeq
// number, the response's To (with its tag). It is made from a clone of
// inv, which keeps the address inv was sent to (resolved once, kept
// unexported by sipgo): the ACK goes to the same address without
// resolving the destination again, as sipgo's own ACK does.
func nonSuccessACK(inv *sip.Request, res *sip.Response) *sip.Request {
	ack := inv.Clone()
	ack.Method = sip.ACK
	for _, h := range slices.Clone(ack.Headers()) {
		ack.RemoveHeader(h.Name())
	}
	if via := inv.Via(); via != nil {
		ack.AppendHeader(via.Clone())
	}
	for _, h := range inv.GetHeaders("Route") {
		ack.AppendHeader(sip.HeaderClone(h))
	}
	mf := sip.MaxForwardsHeader(70)
	ack.AppendHeader(&mf)
	if h := inv.From(); h != nil {
		ack.AppendHeader(sip.HeaderClone(h))
	}
	if h := res.To(); h != nil {
		ack.AppendHeader(sip.HeaderClone(h))
	}
	if h := inv.CallID(); h != nil {
		ack.AppendHeader(sip.HeaderClone(h))
	}
	if h := inv.CSeq(); h != nil {
		ack.AppendHeader(&sip.CSeqHeader{SeqNo: h.SeqNo, MethodName: sip.ACK})
	}
	ack.SetBody(nil)
	return ack
}

// requestUDP starts one of our client transactions for a request leaving
// over UDP: written to the listener directly when it leaves from it to an
// IP address, else over the connection sipgo picks (txwrite.go).
func (a *Adapter) requestUDP(ctx context.Context, req *sip.Request) (sip.ClientTransaction, error) {
	var conn sip.Connection
	if c, ok := a.listenerConn(req); ok {
		conn = c
	} else {
		var err error
		if conn, err = a.ua.TransportLayer().ClientRequestConnection(ctx, req); err != nil {
			return nil, fmt.Errorf("sip: connection for %s: %w", req.Method, err)
		}
	}
	tx, err := a.clientTxs.request(req, conn)
	if err != nil {
		return nil, err
	}
	return tx, nil
}
