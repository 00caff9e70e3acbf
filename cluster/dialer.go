package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/pion/sdp/v3"

	"github.com/sigbridge/sigbridge/gateway"
)

// maxDialsServed bounds the dial requests a node serves at once; more get
// gateway.ErrOverloaded.
const maxDialsServed = 256

// Locator tells where a target lives: on node (remote true), or here
// (remote false: the local dialer takes it, and reports unknown or offline
// targets as it always does).
type Locator func(ctx context.Context, t gateway.Target) (node string, remote bool, err error)

// Serve makes local the dialer that answers other nodes' dials of targets
// of scheme on this node. RemoteDialer calls it.
func (n *Node) Serve(scheme string, local gateway.Dialer) {
	n.dialMu.Lock()
	defer n.dialMu.Unlock()
	n.dialers[scheme] = local
}

func (n *Node) served(scheme string) gateway.Dialer {
	n.dialMu.RLock()
	defer n.dialMu.RUnlock()
	return n.dialers[scheme]
}

// SetAdmission installs a check run before serving another node's dial:
// an error (gateway.ErrDraining, gateway.ErrOverloaded) refuses it, as
// Gateway.Place refuses local calls. cmd/sigbridge checks its gateway's
// drain and overload signals.
func (n *Node) SetAdmission(admit func() error) { n.admit.Store(&admit) }

// RemoteDialer returns the dialer to install on the router for scheme: a
// target that locate puts on another node becomes a remote leg (Dial);
// the rest go to local. It also Serves local for scheme.
func (n *Node) RemoteDialer(scheme string, local gateway.Dialer, locate Locator) gateway.Dialer {
	n.Serve(scheme, local)
	return gateway.DialerFunc(func(ctx context.Context, req gateway.DialRequest) (gateway.Leg, error) {
		node, remote, err := locate(ctx, req.Target)
		if err != nil {
			return nil, err
		}
		if !remote || node == n.cfg.Node {
			return local.Dial(ctx, req)
		}
		return n.Dial(ctx, node, req)
	})
}

// RegistryLocator locates targets through the registry: key(t) names the
// registry key of t of kind; a key held by another live node is remote,
// anything else local (the local dialer then says not found or offline).
// A key the mirror lacks is read from the bucket (lookupBucket): a user
// whose login has just completed on another node is callable at once,
// before this node's watch has delivered the claim.
func (n *Node) RegistryLocator(kind string, key func(gateway.Target) string) Locator {
	return func(ctx context.Context, t gateway.Target) (string, bool, error) {
		node, ok, err := n.Lookup(ctx, kind, key(t))
		if err == nil && !ok {
			node, ok = n.lookupBucket(ctx, kind, key(t))
		}
		if err != nil || !ok || node == n.cfg.Node {
			return "", false, nil
		}
		return node, true, nil
	}
}

// Dial asks node to create the callee leg of req with its local dialer
// for req.Target's scheme, and returns the leg that carries the call's
// events to it. Errors wrap the gateway sentinel the other node reported
// (gateway.Status), or gateway.ErrOffline when the node is not alive or
// does not answer within Config.DialTimeout.
func (n *Node) Dial(ctx context.Context, node string, req gateway.DialRequest) (gateway.Leg, error) {
	peer, ok := n.live.current(node)
	if !ok || !n.nc.IsConnected() || n.closed.Load() {
		n.metrics.dial("out", "node-gone")
		return nil, fmt.Errorf("%w: %w: %s", gateway.ErrOffline, ErrNodeGone, node)
	}
	if node == n.cfg.Node {
		return nil, fmt.Errorf("%w: remote dial to this node", gateway.ErrForbidden)
	}
	e := n.newEndpoint(req.Call.ID(), roleOwner, peer)
	e.call = req.Call
	n.calls.add(e) // before asking: the peer's first events may beat its reply
	asked := time.Now()
	reply, err := n.requestDial(ctx, node, req, e)
	if err == nil {
		n.metrics.dialTime.Observe(time.Since(asked).Seconds())
	}
	if err == nil && (reply.Err != "" || reply.Text != "" || reply.Kind == "") {
		err = replyError(&reply, node)
	}
	if err != nil {
		n.calls.remove(e)
		n.metrics.dial("out", "error")
		return nil, err
	}
	if reply.Boot != peer.boot && reply.Boot != "" {
		n.calls.setBoot(e, reply.Boot) // restarted since its last heartbeat: watch this boot
		n.peerHeard(holder{node, reply.Boot}, true)
	}
	e.kind, e.caps = reply.Kind, gateway.Caps{Trickle: reply.Trickle, MDNS: reply.MDNS}
	n.metrics.dial("out", "ok")
	e.start()
	return e, nil
}

// requestDial asks node for the leg; e (not started yet) keeps the offer
// sent, so that the bridge's identical first offer need not travel again.
func (n *Node) requestDial(ctx context.Context, node string, req gateway.DialRequest, e *endpoint) (dialReply, error) {
	m := dialMsg{Call: req.Call.ID(), Node: n.cfg.Node, Boot: n.self.boot, From: req.From, Target: req.Target.String()}
	if m.Target == "" {
		m.Target = req.Target.Raw
	}
	if req.Offer != nil {
		m.Offer = gateway.MarshalSDP(req.Offer)
		e.dialSDP = m.Offer
	}
	b := mustJSON(m)
	ctx, cancel := context.WithTimeout(ctx, n.cfg.DialTimeout)
	defer cancel()
	subj := n.subj.dial(node)
	resp, err := n.nc.RequestWithContext(ctx, subj, b)
	n.metrics.sent("dial", len(b))
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: node %s did not answer: %w", gateway.ErrOffline, node, err)
		} else {
			err = fmt.Errorf("%w: dial via node %s: %w", gateway.ErrOffline, node, err)
		}
		n.abandonDial(m.Call, node)
		return dialReply{}, err
	}
	n.metrics.received("dial-reply", len(resp.Data))
	var r dialReply
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		n.abandonDial(m.Call, node)
		return dialReply{}, fmt.Errorf("cluster: dial reply from %s: %w", node, err)
	}
	return r, nil
}

// abandonDial tells node to drop a leg it may have created for a dial
// whose reply never came.
func (n *Node) abandonDial(id, node string) {
	m := callMsg{Call: id, Node: n.cfg.Node, Seq: 1}
	_ = encodeEvent(&m, gateway.Hangup{Reason: gateway.ReasonDisconnected})
	_ = n.nc.Publish(n.subj.call(node), mustJSON(m))
}

// onDial serves another node's dial request, off the subscription's
// goroutine, at most maxDialsServed at once.
func (n *Node) onDial(msg *nats.Msg) {
	n.metrics.received("dial", len(msg.Data))
	select {
	case n.dialSem <- struct{}{}:
	default:
		n.respond(msg, dialReply{Boot: n.self.boot, Err: gateway.ErrOverloaded.Error(), Text: "too many dials in progress"})
		return
	}
	go func() {
		defer func() { <-n.dialSem }()
		n.respond(msg, n.serveDial(msg.Data))
	}()
}

func (n *Node) respond(msg *nats.Msg, r dialReply) {
	b := mustJSON(r)
	if err := msg.Respond(b); err == nil {
		n.metrics.sent("dial-reply", len(b))
	}
}

// serveDial creates the callee leg of a call owned by another node.
func (n *Node) serveDial(data []byte) (r dialReply) {
	r.Boot = n.self.boot
	fail := func(err error) dialReply {
		errorReply(&r, err)
		n.metrics.dial("in", "error")
		return r
	}
	var m dialMsg
	if len(data) > maxCallMsg || json.Unmarshal(data, &m) != nil || !nameRE.MatchString(m.Node) || m.Call == "" || len(m.Call) > 64 {
		return fail(fmt.Errorf("%w: bad dial request", gateway.ErrBadTarget))
	}
	if n.closed.Load() {
		return fail(gateway.ErrDraining)
	}
	if admit := n.admit.Load(); admit != nil {
		if err := (*admit)(); err != nil {
			return fail(err)
		}
	}
	t, err := gateway.ParseTarget(m.Target)
	if err != nil {
		return fail(err)
	}
	d := n.served(t.Scheme)
	if d == nil {
		return fail(fmt.Errorf("%w: node %s serves no %s targets", gateway.ErrForbidden, n.cfg.Node, t.Scheme))
	}
	var offer *sdp.SessionDescription
	if m.Offer != "" {
		if offer, err = gateway.ParseSDPString(m.Offer); err != nil { // encoding/json's string
			return fail(err)
		}
	}
	owner := holder{m.Node, m.Boot}
	n.peerHeard(owner, true)
	e := n.newEndpoint(m.Call, roleRelay, owner)
	e.dialSDP = m.Offer
	e.call = gateway.NewRelayCall(m.Call, m.From, t, n.log, gateway.Relay{Post: e.post, Hangup: e.hangup})
	n.calls.add(e)
	leg, err := d.Dial(n.ctx, gateway.DialRequest{Call: e.call, From: m.From, Target: t, Offer: offer})
	if err != nil {
		n.calls.remove(e)
		e.call.EndRelay()
		return fail(err)
	}
	e.leg = leg
	c := leg.Caps()
	r.Kind, r.Trickle, r.MDNS = leg.Kind(), c.Trickle, c.MDNS
	n.metrics.dial("in", "ok")
	e.start()
	return r
}

// onCallMsg hands a call message to its endpoint. A message for a call
// this node does not know (it ended here, or this node restarted) is
// answered with a hang-up, so the peer ends its side too.
func (n *Node) onCallMsg(msg *nats.Msg) {
	n.metrics.received("call", len(msg.Data))
	var m callMsg
	if len(msg.Data) > maxCallMsg || json.Unmarshal(msg.Data, &m) != nil || !nameRE.MatchString(m.Node) {
		n.log.Warn("cluster: bad call message dropped", "bytes", len(msg.Data))
		return
	}
	if m.Type == typeBye {
		if m.Boot != "" && len(m.Boot) <= 64 {
			n.peerLeft(holder{m.Node, m.Boot})
		}
		return
	}
	if e := n.calls.get(m.Call, m.Node); e != nil {
		e.received(m)
		return
	}
	if m.Type != "hangup" {
		n.abandonDial(m.Call, m.Node)
	}
}
