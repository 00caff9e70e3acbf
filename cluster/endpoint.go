package cluster

import (
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
)

// Roles of an endpoint.
const (
	roleOwner = "owner" // the bridge is here; the endpoint is the remote leg
	roleRelay = "relay" // the callee leg is here; the bridge is on the peer
)

// endpoint is one node's half of a call that crosses two nodes. On the
// owner it is the gateway.Leg the bridge sees (remote leg); on the other
// node it stands in for the bridge in front of the real leg (relay). One
// goroutine (run) sends the events queued by the local side, in order, and
// hands over the peer's, in sequence; both queues are bounded.
type endpoint struct {
	n    *Node
	id   string // the owner's call id
	role string
	peer holder
	log  *slog.Logger

	call *gateway.Call // owner: the bridged call; relay: the relay call
	leg  gateway.Leg   // relay: the real leg
	kind string        // owner: the real leg's kind and caps
	caps gateway.Caps

	in   *fifo[callMsg]       // from the peer, filled by the node's dispatcher
	out  *fifo[gateway.Event] // to the peer, filled by Deliver (owner) or Post (relay)
	stop chan struct{}        // closed by end: why says what to do
	once sync.Once
	why  endReason
	gone atomic.Bool // no more events in or out

	// owned by run (set before it starts)
	seqIn, seqOut uint64
	firstIn       bool
	dialSDP       string // the offer of the dial request, until the first offer event
}

// relayFirstEvent bounds how long a relay waits for its owner's first
// event (the offer, which the owner's bridge may hold for half trickle up
// to gateway.Config.GatherMax): longer, the owner gave up on the dial.
const relayFirstEvent = 30 * time.Second

// endReason is why an endpoint was ended from outside its goroutine.
type endReason struct {
	reason              gateway.Reason
	tellLocal, tellPeer bool
	cause               string // metrics: node-lost, overflow, shutdown...
}

func (n *Node) newEndpoint(id, role string, peer holder) *endpoint {
	q := n.cfg.CallQueue
	return &endpoint{n: n, id: id, role: role, peer: peer, in: newBoundedFIFO[callMsg](q), out: newBoundedFIFO[gateway.Event](q),
		stop: make(chan struct{}), log: n.log.With("call", id, "peer", peer.node, "role", role)}
}

func (e *endpoint) key() string { return callKey(e.id, e.peer.node) }

func callKey(id, node string) string { return id + "@" + node }

// Kind implements gateway.Leg (owner): the real leg's dialect.
func (e *endpoint) Kind() string { return e.kind }

// Caps implements gateway.Leg (owner): the real leg's caps, so the owner's
// bridge adapts for it (half trickle, mDNS) as for a local leg.
func (e *endpoint) Caps() gateway.Caps { return e.caps }

// RemoteNode implements gateway.RemoteLeg (owner): the node holding the
// real leg.
func (e *endpoint) RemoteNode() string { return e.peer.node }

// Deliver implements gateway.Leg (owner): the event is queued for the
// peer. A full queue is a failed delivery: the bridge ends the call.
func (e *endpoint) Deliver(ev gateway.Event) error {
	return e.enqueue(ev)
}

// post is the relay call's gateway.Relay.Post: an event from the real leg.
func (e *endpoint) post(ev gateway.Event) error {
	if err := e.enqueue(ev); err != nil {
		return gateway.ErrCallEnded
	}
	return nil
}

func (e *endpoint) enqueue(ev gateway.Event) error {
	if e.gone.Load() {
		return nil
	}
	if e.out.push(ev) {
		return nil
	}
	e.n.metrics.lost("overflow")
	// The owner's bridge ends the call itself on this error; a relay's
	// leg is told by run.
	e.end(endReason{reason: gateway.ReasonDisconnected, tellLocal: e.role == roleRelay, tellPeer: true, cause: "overflow"})
	return errQueueFull
}

// hangup is the relay call's gateway.Relay.Hangup (drain, shutdown).
func (e *endpoint) hangup(r gateway.Reason) {
	e.end(endReason{reason: r, tellLocal: true, tellPeer: true, cause: "hangup"})
}

// end asks run to finish: the first reason wins.
func (e *endpoint) end(r endReason) {
	e.once.Do(func() {
		e.why = r
		close(e.stop)
	})
}

// received queues a message from the peer (the dispatcher; never blocks).
func (e *endpoint) received(m callMsg) {
	if !e.in.push(m) {
		e.n.metrics.lost("overflow")
		e.end(endReason{reason: gateway.ReasonDisconnected, tellLocal: true, tellPeer: true, cause: "overflow"})
	}
}

// start runs the endpoint's goroutine.
func (e *endpoint) start() {
	e.n.metrics.calls.WithLabelValues(e.role).Inc()
	go e.run()
}

func (e *endpoint) run() {
	defer e.finish()
	var callDone <-chan struct{}
	if e.role == roleOwner {
		callDone = e.call.Done()
	}
	first := time.NewTimer(relayFirstEvent) // a relay that never hears from its owner
	defer first.Stop()
	if e.role == roleOwner {
		first.Stop()
	}
	for {
		select {
		case <-e.out.ready():
			for _, ev := range e.out.take() {
				if !e.send(ev) {
					return
				}
			}
		case <-e.in.ready():
			if e.drainIn() {
				return
			}
		case <-e.stop:
			if e.drainIn() { // what the peer sent before the end first
				return
			}
			e.onEnd()
			return
		case <-callDone:
			e.flushOut()
			return
		case <-first.C:
			if !e.firstIn {
				e.log.Info("remote call: no event from the owner; ending it")
				e.endNow(endReason{reason: gateway.ReasonDisconnected, tellLocal: true, tellPeer: true, cause: "timeout"})
				return
			}
		}
	}
}

// drainIn hands over the peer messages already queued; true if one of
// them ended the call.
func (e *endpoint) drainIn() bool {
	for _, m := range e.in.take() {
		if !e.handle(m) {
			return true
		}
	}
	return false
}

// send publishes one local event; false once the call is over here.
func (e *endpoint) send(ev gateway.Event) bool {
	_, final := ev.(gateway.Hangup)
	if !e.publish(ev) {
		e.endNow(endReason{reason: gateway.ReasonDisconnected, tellLocal: !final, cause: "publish"})
		return false
	}
	return !final
}

func (e *endpoint) publish(ev gateway.Event) bool {
	e.seqOut++
	m := callMsg{Call: e.id, Node: e.n.cfg.Node, Seq: e.seqOut}
	if err := encodeEvent(&m, ev); err != nil {
		e.log.Debug("event not relayed", "err", err)
		e.seqOut--
		return true
	}
	if m.Type == "offer" && e.dialSDP != "" {
		if m.SDP == e.dialSDP { // the peer has it from the dial request
			m.SDP, m.Same = "", true
		}
		e.dialSDP = ""
	}
	b, _ := json.Marshal(m)
	if err := e.n.nc.Publish(e.n.subj.call(e.peer.node), b); err != nil {
		e.log.Warn("remote call: publish failed; ending it", "err", err)
		e.n.metrics.lost("publish")
		return false
	}
	e.n.metrics.sent(m.Type, len(b))
	return true
}

// handle hands one peer message to the local side; false once over.
func (e *endpoint) handle(m callMsg) bool {
	e.firstIn = true
	if m.Seq != e.seqIn+1 {
		e.log.Warn("remote call: message lost; ending it", "want", e.seqIn+1, "got", m.Seq)
		e.n.metrics.lost("gap")
		e.endNow(endReason{reason: gateway.ReasonDisconnected, tellLocal: true, tellPeer: true, cause: "gap"})
		return false
	}
	e.seqIn = m.Seq
	if m.Type == "offer" {
		if m.Same {
			m.SDP = e.dialSDP
		}
		e.dialSDP = ""
	}
	ev, err := decodeEvent(&m)
	if err != nil {
		e.log.Warn("remote call: bad event ignored", "type", m.Type, "err", err)
		return true
	}
	_, final := ev.(gateway.Hangup)
	if e.role == roleOwner {
		if err := e.call.Post(e, ev); err != nil {
			if !final {
				e.flushOut() // the call is over: the peer learns how
			}
			return false
		}
		return !final
	}
	if err := e.deliverLocal(ev); err != nil {
		e.log.Info("remote call: leg gone; ending it", "err", err)
		e.endNow(endReason{reason: gateway.ReasonDisconnected, tellPeer: !final, cause: "leg"})
		return false
	}
	return !final
}

// deliverLocal calls the relay's real leg, containing a panic as the
// bridge does.
func (e *endpoint) deliverLocal(ev gateway.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("leg panicked", "panic", r)
			err = errLegPanic
		}
	}()
	return e.leg.Deliver(ev)
}

// endNow ends the endpoint from its own goroutine (the first reason
// given anywhere wins) and carries it out.
func (e *endpoint) endNow(r endReason) {
	e.end(r)
	e.onEnd()
}

// onEnd carries out e.why: tell the peer and the local side.
func (e *endpoint) onEnd() {
	e.gone.Store(true)
	r := e.why
	if r.tellPeer {
		e.publish(gateway.Hangup{Reason: r.reason})
	}
	if !r.tellLocal {
		return
	}
	if e.role == roleOwner {
		_ = e.call.Post(e, gateway.Hangup{Reason: r.reason})
		return
	}
	_ = e.deliverLocal(gateway.Hangup{Reason: r.reason})
}

// flushOut (owner): the bridge ended the call. What it delivered last is
// sent; if that was no hang-up (the call ended because of this leg), the
// peer is told connectivity-error.
func (e *endpoint) flushOut() {
	e.gone.Store(true)
	for _, ev := range e.out.take() {
		if !e.publish(ev) {
			return
		}
		if _, final := ev.(gateway.Hangup); final {
			return
		}
	}
	e.publish(gateway.Hangup{Reason: gateway.ReasonDisconnected})
}

func (e *endpoint) finish() {
	e.gone.Store(true)
	e.n.calls.remove(e)
	if e.role == roleRelay {
		e.call.EndRelay()
	}
	e.n.metrics.calls.WithLabelValues(e.role).Dec()
}
