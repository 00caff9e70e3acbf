package sip

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/emiago/sipgo/sip"

	"github.com/sigbridge/sigbridge/gateway"
)

// Flows (RFC 5626 §3, RFC 7118 §5). A dialog or a registration remembers
// the connection its requests came in on: a WS, WSS, TCP or TLS connection,
// or for UDP the source address and port. Every request we send inside such
// a dialog (BYE, re-INVITE, UPDATE, INFO, OPTIONS probes, ACK, CANCEL) goes
// over that flow, whatever the Contact host says: browser UAs register
// "<random>.invalid;transport=ws", which never resolves. sipgo's dialog code
// takes the destination from the Contact or the route set (emiago/sipgo#361),
// so the adapter's client has a transaction requester (flowRequester) that
// sets transport and destination from the flow table just before a request
// leaves. When a connection-oriented flow closes (the listeners wrap every
// accepted connection in a flowConn), every dialog on it ends at once with
// ReasonFlowClosed and the registrar drops the bindings it carried.

// flow is a connection a peer reached us on.
type flow struct {
	transport string // sipgo network name: UDP, TCP, TLS, WS, WSS
	remote    string // the peer's address, ip:port
}

// requestFlow is the flow a received request came in on.
func requestFlow(req *sip.Request) flow {
	return flow{transport: sip.NetworkToUpper(req.Transport()), remote: req.Source()}
}

func (f flow) valid() bool    { return f.transport != "" && f.remote != "" }
func (f flow) reliable() bool { return sip.IsReliable(f.transport) }
func (f flow) String() string { return f.transport + ":" + f.remote }

// ReasonFlowClosed ends the calls whose SIP connection closed.
var ReasonFlowClosed = gateway.Reason{Condition: gateway.CondConnectivityError, Code: 408,
	Text: "SIP connection closed"}

// errFlowClosed: a request for a dialog whose connection is gone.
var errFlowClosed = errors.New("sip: connection of the flow is closed")

// flowLeg is a leg as the flow table sees it.
type flowLeg interface {
	flowGone()
}

// flowEntry is one dialog (or INVITE branch) bound to a flow.
type flowEntry struct {
	f   flow
	leg flowLeg
}

// flowTable maps our dialogs (Call-ID and our tag) to their flows. Safe for
// concurrent use.
type flowTable struct {
	mu      sync.Mutex
	entries map[string]flowEntry
	byFlow  map[flow]map[string]struct{} // keys of entries, per flow
}

func newFlowTable() *flowTable {
	return &flowTable{entries: map[string]flowEntry{}, byFlow: map[flow]map[string]struct{}{}}
}

// flowKey identifies a dialog from our side: Call-ID and our (From) tag.
func flowKey(callID, localTag string) string { return callID + "\x00" + localTag }

func (t *flowTable) add(key string, f flow, l flowLeg) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unindex(key)
	t.entries[key] = flowEntry{f: f, leg: l}
	keys := t.byFlow[f]
	if keys == nil {
		keys = map[string]struct{}{}
		t.byFlow[f] = keys
	}
	keys[key] = struct{}{}
}

func (t *flowTable) remove(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unindex(key)
	delete(t.entries, key)
}

// unindex drops key from its flow's index. Called with mu held.
func (t *flowTable) unindex(key string) {
	e, ok := t.entries[key]
	if !ok {
		return
	}
	keys := t.byFlow[e.f]
	delete(keys, key)
	if len(keys) == 0 {
		delete(t.byFlow, e.f)
	}
}

// lookup returns the entry of a request we are about to send: its From
// tag is ours.
func (t *flowTable) lookup(req *sip.Request) (flowEntry, bool) {
	cid, from := req.CallID(), req.From()
	if cid == nil || from == nil {
		return flowEntry{}, false
	}
	tag, _ := from.Params.Get("tag")
	// flowKey's concatenation, on the stack: every request we send is
	// looked up, and a map index by string(bytes) does not allocate.
	var buf [128]byte
	key := append(append(append(buf[:0], cid.Value()...), 0), tag...)
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[string(key)]
	return e, ok
}

// on returns the legs on f.
func (t *flowTable) on(f flow) []flowLeg {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := t.byFlow[f]
	out := make([]flowLeg, 0, len(keys))
	for key := range keys {
		out = append(out, t.entries[key].leg)
	}
	return out
}

func (t *flowTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}

// flowRequester is the sipgo client's transaction requester: requests of a
// dialog bound to a flow leave over it, everything else as sipgo decides.
type flowRequester struct{ a *Adapter }

// Request implements sipgo.ClientTransactionRequester. ACKs (which have no
// transaction) are written to the transport directly.
func (r flowRequester) Request(ctx context.Context, req *sip.Request) (sip.ClientTransaction, error) {
	if err := r.a.routeOverFlow(req); err != nil {
		return nil, err
	}
	if req.IsAck() {
		return nil, r.a.ua.TransportLayer().WriteMsg(req)
	}
	var (
		tx  sip.ClientTransaction
		err error
	)
	if sip.NetworkToLower(req.Transport()) == "udp" {
		tx, err = r.a.requestUDP(ctx, req) // clienttx.go
	} else {
		tx, err = r.a.ua.TransactionLayer().Request(ctx, req)
	}
	if cid := req.CallID(); err == nil && req.IsInvite() && !hasToTag(req) && cid != nil {
		if l := r.a.dialogs.outLeg(cid.Value()); l != nil {
			l.setInviteTx(tx) // outLeg.dropInvite ends it after the ACK
		}
	}
	return tx, err
}

// routeOverFlow points req at its dialog's flow, if it has one. A closed
// connection fails at once rather than being redialed.
func (a *Adapter) routeOverFlow(req *sip.Request) error {
	e, ok := a.flows.lookup(req)
	if !ok {
		return nil
	}
	f := e.f
	req.SetTransport(f.transport)
	req.SetDestination(f.remote)
	if !f.reliable() {
		a.fromListener(req, "UDP")
		return nil
	}
	req.Laddr = sip.Addr{} // find the connection by the peer's address
	if !a.flowAlive(f) {
		return errFlowClosed
	}
	return nil
}

// flowAlive reports whether a connection-oriented flow is still open.
func (a *Adapter) flowAlive(f flow) bool {
	c, err := a.ua.TransportLayer().GetConnection(f.transport, f.remote)
	if err != nil || c == nil {
		return false
	}
	_, _ = c.TryClose() // GetConnection took a reference
	return true
}

// disconnected is the reason of a dialog that sipgo ended under us: its
// connection closed, or the peer went away otherwise.
func (l *legCore) disconnected() gateway.Reason {
	if l.flow.reliable() && !l.a.flowAlive(l.flow) {
		return ReasonFlowClosed
	}
	return gateway.ReasonDisconnected
}

// flowClosed ends every dialog on a connection that closed and drops its
// registrations.
func (a *Adapter) flowClosed(f flow) {
	legs := a.flows.on(f)
	n := a.reg.dropFlow(f)
	if len(legs) > 0 || n > 0 {
		a.log.Info("sip connection closed", "flow", f.String(), "dialogs", len(legs), "bindings", n)
	}
	for _, l := range legs {
		l.flowGone()
	}
}

// flowListener wraps the accepted connections of a TCP, TLS or WebSocket
// listener so that their closing is noticed.
type flowListener struct {
	net.Listener
	transport string
	onClose   func(flow)
}

func (l *flowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &flowConn{Conn: c, f: flow{transport: l.transport, remote: c.RemoteAddr().String()}, onClose: l.onClose}, nil
}

// flowConn reports its flow closed on the first read error or Close.
type flowConn struct {
	net.Conn
	f       flow
	once    sync.Once
	onClose func(flow)
}

func (c *flowConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil {
		c.closed()
	}
	return n, err
}

func (c *flowConn) Close() error {
	err := c.Conn.Close()
	c.closed()
	return err
}

func (c *flowConn) closed() {
	c.once.Do(func() { go c.onClose(c.f) })
}
