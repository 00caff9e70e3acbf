package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// txPeer is a raw SIP UAS on loopback: it reads what the adapter sends
// and answers by hand.
type txPeer struct {
	conn *net.UDPConn
	from *net.UDPAddr // where the last request came from
}

func newTxPeer(t *testing.T) *txPeer {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &txPeer{conn: conn}
}

// request returns the next request within 10 s (fails the test if none).
func (p *txPeer) request(t *testing.T) *sip.Request {
	t.Helper()
	buf := make([]byte, 65535)
	_ = p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, from, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("peer: no request: %v", err)
		}
		msg, err := sip.NewParser().ParseSIP(buf[:n])
		if err != nil {
			t.Fatalf("peer: unparsable %q: %v", buf[:n], err)
		}
		if req, ok := msg.(*sip.Request); ok {
			p.from = from
			return req
		}
	}
}

// respond answers req with status (and a To tag).
func (p *txPeer) respond(t *testing.T, req *sip.Request, status int, reason string) {
	t.Helper()
	res := sip.NewResponseFromRequest(req, status, reason, nil)
	if status > 100 {
		res.To().Params.Add("tag", "peer1")
	}
	if _, err := p.conn.WriteToUDP([]byte(res.String()), p.from); err != nil {
		t.Fatal(err)
	}
}

// peerRequest is a request from the adapter's UDP listener to p.
func peerRequest(env *testEnv, p *txPeer, method sip.RequestMethod) *sip.Request {
	addr := p.conn.LocalAddr().(*net.UDPAddr)
	req := sip.NewRequest(method, sip.Uri{Scheme: "sip", User: "peer", Host: "127.0.0.1", Port: addr.Port})
	env.a.fromListener(req, "UDP")
	return req
}

// startInviteTx sends an INVITE from a fresh adapter to a fresh raw peer
// over UDP and returns the client transaction that carries it.
func startInviteTx(t *testing.T) (*testEnv, *txPeer, sip.ClientTransaction) {
	t.Helper()
	env := newEnv(t, Config{})
	peer := newTxPeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	tx, err := env.a.cli.TransactionRequest(ctx, peerRequest(env, peer, sip.INVITE))
	if err != nil {
		t.Fatal(err)
	}
	return env, peer, tx
}

// nextResponse is the transaction's next response within 10 s.
func nextResponse(t *testing.T, tx sip.ClientTransaction) *sip.Response {
	t.Helper()
	select {
	case r := <-tx.Responses():
		return r
	case <-tx.Done():
		t.Fatalf("transaction ended: %v", tx.Err())
	case <-time.After(10 * time.Second):
		t.Fatal("no response within 10 s")
	}
	return nil
}

// A non-2xx final answer to our INVITE over UDP reaches the transaction
// user after the provisional ones, is ACKed by the transaction (RFC 3261
// §17.1.1.3: same branch, the response's To tag), and each retransmission
// of it is ACKed again (Completed, Timer D) while the user is not told
// twice; Terminate ends it.
func TestClientTxNonSuccessACK(t *testing.T) {
	env, peer, tx := startInviteTx(t)
	if _, ours := tx.(*clientTx); !ours {
		t.Fatalf("transaction over UDP is %T, want *clientTx", tx)
	}
	inv := peer.request(t)
	peer.respond(t, inv, 100, "Trying")
	peer.respond(t, inv, 180, "Ringing")
	peer.respond(t, inv, 486, "Busy Here")
	for _, want := range []int{180, 486} { // the 100 is kept from the user (provisionalSeen)
		if r := nextResponse(t, tx); r.StatusCode != want {
			t.Fatalf("got %d, want %d", r.StatusCode, want)
		}
	}
	branch, _ := inv.Via().Params.Get("branch")
	for i := range 2 {
		ack := peer.request(t)
		for ack.Method == sip.INVITE { // a retransmission sent before our 100 arrived
			ack = peer.request(t)
		}
		if ack.Method != sip.ACK {
			t.Fatalf("ACK %d: got %s", i, ack.Method)
		}
		if b, _ := ack.Via().Params.Get("branch"); b != branch {
			t.Errorf("ACK %d: branch %q, want the INVITE's %q", i, b, branch)
		}
		if tag, _ := ack.To().Params.Get("tag"); tag != "peer1" {
			t.Errorf("ACK %d: To tag %q, want peer1", i, tag)
		}
		if c := ack.CSeq(); c.SeqNo != inv.CSeq().SeqNo || c.MethodName != sip.ACK {
			t.Errorf("ACK %d: CSeq %s", i, c.Value())
		}
		if i == 0 {
			peer.respond(t, inv, 486, "Busy Here") // retransmitted: our ACK was "lost"
		}
	}
	select {
	case r := <-tx.Responses():
		t.Fatalf("retransmitted final passed up again: %d", r.StatusCode)
	default:
	}
	tx.Terminate()
	<-tx.Done()
	if !errors.Is(tx.Err(), sip.ErrTransactionCanceled) {
		t.Errorf("Err after Terminate: %v", tx.Err())
	}
	if n := env.a.clientTxs.len(); n != 0 {
		t.Errorf("%d transactions left after Terminate", n)
	}
}

// An unanswered INVITE over UDP is retransmitted (Timer A) with the same
// branch until a response comes; its 2xx reaches the user, and a
// retransmitted 2xx goes to the OnRetransmission hook (Accepted, RFC 6026).
func TestClientTxRetransmitsUntilAnswered(t *testing.T) {
	_, peer, tx := startInviteTx(t)
	defer tx.Terminate()
	retrans := make(chan *sip.Response, 1)
	if !tx.OnRetransmission(func(r *sip.Response) { retrans <- r }) {
		t.Fatal("OnRetransmission refused on a live transaction")
	}
	first := peer.request(t)
	again := peer.request(t)
	if again.Method != sip.INVITE || again.Via().Value() != first.Via().Value() {
		t.Fatalf("second datagram: %s with Via %s, want the INVITE again with Via %s",
			again.Method, again.Via().Value(), first.Via().Value())
	}
	peer.respond(t, first, 200, "OK")
	if r := nextResponse(t, tx); r.StatusCode != 200 {
		t.Fatalf("got %d, want 200", r.StatusCode)
	}
	peer.respond(t, first, 200, "OK")
	select {
	case r := <-retrans:
		if r.StatusCode != 200 {
			t.Fatalf("retransmission hook got %d", r.StatusCode)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("retransmitted 2xx did not reach OnRetransmission")
	}
}

// doResult is what Client.Do returned.
type doResult struct {
	res *sip.Response
	err error
}

// doAsync sends a request of method from a fresh adapter to a fresh raw
// peer over UDP (Client.Do, on its own goroutine) and returns Do's outcome
// through the channel.
func doAsync(t *testing.T, method sip.RequestMethod) (*testEnv, *txPeer, <-chan doResult) {
	t.Helper()
	env := newEnv(t, Config{})
	peer := newTxPeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	done := make(chan doResult, 1)
	go func() {
		res, err := env.a.cli.Do(ctx, peerRequest(env, peer, method))
		done <- doResult{res, err}
	}()
	return env, peer, done
}

// A non-INVITE request over UDP gets its final answer; provisional ones
// come first.
func TestClientTxNonInvite(t *testing.T) {
	env, peer, done := doAsync(t, sip.OPTIONS)
	req := peer.request(t)
	if req.Method != sip.OPTIONS {
		t.Fatalf("got %s", req.Method)
	}
	peer.respond(t, req, 100, "Trying")
	peer.respond(t, req, 200, "OK")
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := r.res; got.StatusCode != 200 || !strings.HasPrefix(got.Source(), "127.0.0.1:") {
		t.Fatalf("got %d from %q", got.StatusCode, got.Source())
	}
	if n := env.a.clientTxs.len(); n != 0 {
		t.Errorf("%d transactions left after Do", n)
	}
}

// nonSuccessACK copies Route headers of the INVITE (RFC 3261 §17.1.1.3).
// ackGateConn is a sip.Connection whose WriteMsg of an ACK reports that it
// started and then waits until released.
type ackGateConn struct {
	writing chan struct{}
	release chan struct{}
}

func (c *ackGateConn) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}
}
func (c *ackGateConn) Ref(int) int            { return 1 }
func (c *ackGateConn) TryClose() (int, error) { return 0, nil }
func (c *ackGateConn) Close() error           { return nil }
func (c *ackGateConn) WriteMsg(m sip.Message) error {
	if r, ok := m.(*sip.Request); ok && r.IsAck() {
		c.writing <- struct{}{}
		<-c.release
	}
	return nil
}

// TestClientTxACKBeforeFinal: the ACK of a non-2xx final answer is on the
// wire before the transaction user gets the answer. A user that answers a
// 401 with a new INVITE at once (digest auth) must not get that INVITE to
// the peer ahead of the ACK: SIPp's uas_auth.xml aborted the call
// (TestOutboundDigestWrongPassword, about 1 run in 30 on a busy box).
func TestClientTxACKBeforeFinal(t *testing.T) {
	tx, conn := gatedInviteTx(t)
	res := sip.NewResponseFromRequest(tx.origin, 401, "Unauthorized", nil)
	res.To().Params.Add("tag", "t1")
	go tx.receive(res)
	<-conn.writing
	if n := len(tx.responses); n != 0 {
		t.Errorf("the user can read %d response(s) while the ACK is still being written", n)
	}
	close(conn.release)
	if r := nextResponse(t, tx); r.StatusCode != 401 {
		t.Fatalf("got %d, want 401", r.StatusCode)
	}
}

// testInvite is an INVITE as the outbound leg sends it, with a Route.
// gatedInviteTx is a client transaction of testInvite over an ackGateConn,
// terminated at the test's end.
func gatedInviteTx(t *testing.T) (*clientTx, *ackGateConn) {
	t.Helper()
	conn := &ackGateConn{writing: make(chan struct{}), release: make(chan struct{})}
	tx, err := newClientTxTable().request(testInvite(), conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tx.Terminate)
	return tx, conn
}

func testInvite() *sip.Request {
	inv := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "b", Host: "example.com"})
	inv.AppendHeader(sip.NewHeader("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc"))
	inv.AppendHeader(sip.NewHeader("Route", "<sip:proxy.example.com;lr>"))
	fromParams := sip.NewParams()
	fromParams.Add("tag", "f1")
	inv.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "a", Host: "example.com"}, Params: fromParams})
	inv.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "b", Host: "example.com"}, Params: sip.NewParams()})
	cid := sip.CallIDHeader("c1@example.com")
	inv.AppendHeader(&cid)
	inv.AppendHeader(&sip.CSeqHeader{SeqNo: 7, MethodName: sip.INVITE})
	inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	inv.SetBody([]byte("v=0\r\n"))
	inv.SetDestination("192.0.2.7:5060")
	return inv
}

func TestNonSuccessACKRoute(t *testing.T) {
	inv := testInvite()
	res := sip.NewResponseFromRequest(inv, 503, "Service Unavailable", nil)
	res.To().Params.Add("tag", "t9")
	ack := nonSuccessACK(inv, res)
	s := ack.String()
	for _, want := range []string{"ACK sip:b@example.com SIP/2.0", "branch=z9hG4bKabc", "Route: <sip:proxy.example.com;lr>",
		"tag=t9", "CSeq: 7 ACK", "Call-ID: c1@example.com"} {
		if !strings.Contains(s, want) {
			t.Errorf("ACK lacks %q:\n%s", want, s)
		}
	}
	for _, gone := range []string{"Content-Type", "v=0", "INVITE"} {
		if strings.Contains(s, gone) {
			t.Errorf("ACK has %q:\n%s", gone, s)
		}
	}
	if !strings.Contains(s, "Content-Length: 0") || len(ack.Body()) != 0 {
		t.Errorf("ACK has a body:\n%s", s)
	}
	if ack.Destination() != inv.Destination() {
		t.Errorf("ACK to %q, want the INVITE's %q", ack.Destination(), inv.Destination())
	}
	if fmt.Sprint(len(ack.GetHeaders("Via"))) != "1" {
		t.Errorf("ACK has %d Via", len(ack.GetHeaders("Via")))
	}
}

// Timer M (D, K) does not end a transaction whose final answer the user
// has not read yet: a user selecting on Responses and Done would
// otherwise see Done first and lose the 2xx (the box stalls, the leg's
// goroutine runs late). Once it is read, the timer ends it.
func TestClientTxWaitsForUnreadFinal(t *testing.T) {
	_, peer, tx := startInviteTx(t)
	defer tx.Terminate()
	ours := tx.(*clientTx)
	inv := peer.request(t)
	ok := sip.NewResponseFromRequest(inv, 200, "OK", nil)
	ok.To().Params.Add("tag", "peer1")
	ours.receive(ok) // as the reader would, without the network's timing
	ours.expire()    // Timer M fires before the user read the 200
	select {
	case <-tx.Done():
		t.Fatal("Timer M ended the transaction with its 2xx unread")
	default:
	}
	if r := nextResponse(t, tx); r.StatusCode != 200 {
		t.Fatalf("got %d, want 200", r.StatusCode)
	}
	ours.expire() // read now: Timer M ends it
	select {
	case <-tx.Done():
	default:
		t.Fatal("Timer M did not end the transaction once its 2xx was read")
	}
	if !errors.Is(tx.Err(), sip.ErrTransactionTerminated) {
		t.Errorf("Err: %v", tx.Err())
	}
}

// TestClientTxReceiveStatus: a light response reaches the user as
// receive would give it: a 100 to an INVITE is kept (tx.trying), not
// queued, until the user asks; a 180 and the final answer are queued with
// their status code and reason phrase.
func TestClientTxReceiveStatus(t *testing.T) {
	tx, _ := gatedInviteTx(t)
	tx.receiveStatus(100, "Trying")
	tx.mu.Lock()
	n, trying, state, timerA, timerB := len(tx.responses), tx.trying, tx.state, !tx.nextA.IsZero(), !tx.deadB.IsZero()
	tx.mu.Unlock()
	if n != 0 || !trying || state != txProceeding || timerA || timerB {
		t.Fatalf("after a 100: %d queued, trying %v, state %d, timers %v %v", n, trying, state, timerA, timerB)
	}
	if !tx.provisionalSeen() {
		t.Fatal("the 100 was not seen")
	}
	tx.receiveStatus(100, "Trying")
	tx.receiveStatus(180, "Ringing")
	tx.receiveStatus(200, "OK")
	for _, want := range []struct {
		code   int
		reason string
	}{{100, "Trying"}, {180, "Ringing"}, {200, "OK"}} {
		r := nextResponse(t, tx)
		if r.StatusCode != want.code || r.Reason != want.reason || r.SipVersion != "SIP/2.0" {
			t.Fatalf("got %d %q %q, want %d %q", r.StatusCode, r.Reason, r.SipVersion, want.code, want.reason)
		}
		if got, wantStr := r.String(), sip.NewResponse(r.StatusCode, r.Reason).String(); got != wantStr {
			t.Errorf("got %q, want %q", got, wantStr)
		}
	}
	if tx.state != txAccepted {
		t.Errorf("state %d after a 200, want Accepted", tx.state)
	}
}

// countConn is a sip.Connection that counts the messages written.
type countConn struct {
	ackGateConn
	mu sync.Mutex
	n  int
}

func (c *countConn) WriteMsg(sip.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return nil
}

func (c *countConn) written() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// TestClientTxOneTimer: one timer runs Timer A and B: a run before it is
// due does nothing (a run of a time it was set to before), Timer A
// retransmits and doubles, Timer B ends the transaction; the timer is the
// same throughout.
func TestClientTxOneTimer(t *testing.T) {
	conn := &countConn{}
	table := newClientTxTable()
	tx, err := table.request(testInvite(), conn)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Terminate()
	tx.mu.Lock()
	timer, due := tx.timer, tx.due
	tx.mu.Unlock()
	if timer == nil || time.Until(due) > sip.Timer_A || conn.written() != 1 {
		t.Fatalf("after start: timer %v due in %v, %d written", timer != nil, time.Until(due), conn.written())
	}
	tx.fire() // stale: not due yet
	if conn.written() != 1 || tx.Err() != nil {
		t.Fatalf("a run before the timer is due: %d written, err %v", conn.written(), tx.Err())
	}
	past := time.Now().Add(-time.Millisecond)
	tx.mu.Lock()
	tx.due, tx.nextA = past, past
	tx.mu.Unlock()
	tx.fire() // Timer A
	tx.mu.Lock()
	retrans, next, sameTimer := tx.retrans, time.Until(tx.due), tx.timer == timer
	tx.mu.Unlock()
	if conn.written() != 2 || retrans != 2*sip.Timer_A || next > retrans || next < retrans/2 || !sameTimer {
		t.Fatalf("after Timer A: %d written, interval %v, due in %v, same timer %v", conn.written(), retrans, next, sameTimer)
	}
	tx.mu.Lock()
	tx.due, tx.deadB = past, past
	tx.mu.Unlock()
	tx.fire() // Timer B
	select {
	case <-tx.Done():
	default:
		t.Fatal("Timer B did not end the transaction")
	}
	if !errors.Is(tx.Err(), sip.ErrTransactionTimeout) || conn.written() != 2 {
		t.Errorf("Err %v, %d written", tx.Err(), conn.written())
	}
}
