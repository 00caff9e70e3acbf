package xmpp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"mellium.im/xmpp/jid"
)

// placeTimeout bounds gateway.Place (routing and the callee adapter's Dial).
const placeTimeout = 10 * time.Second

// Incoming calls: an XMPP user calls a gateway JID. With JMI the user
// proposes, we proceed at once, the user sends session-initiate; without
// JMI the session-initiate comes first. Either way the offer goes to
// gateway.Place with our leg as the caller (protocols.md §3.2, "An XMPP
// user calls out").

// onPropose answers a JMI propose: proceed when the target routes, reject
// otherwise (policy, unknown target, draining). A target that does not map
// is rejected at once; the router and egress checks run on the new
// session's goroutine (onProposed), since an egress check may resolve
// names.
func (a *Adapter) onPropose(st *stream, from, to jid.JID, el *jmiIn) func() {
	if a.lookup(keyOf(el.ID, from)) != nil {
		return nil // a repeated propose
	}
	target, err := a.targetFor(to, el.jmiElem)
	if err != nil {
		a.log.Info("proposal rejected", "from", from.String(), "to", to.String(), "err", err)
		return func() { a.rejectAsync(st, to, from, el.ID, err) }
	}
	s := a.newIncoming(st, el.ID, to, from, target, nil)
	s.jmi = true
	if err := s.start(); err != nil {
		return func() { a.rejectAsync(st, to, from, el.ID, err) }
	}
	return func() { s.post(evProposed{}) }
}

// evProposed tells a new incoming session to send proceed.
type evProposed struct{}

// egressChecker is implemented by dialers with an egress policy of their
// own, applied on Dial (sip.Adapter.CheckEgress): precheck asks it too, so
// that a proposal the callee adapter would refuse is rejected up front.
type egressChecker interface {
	CheckEgress(from string, t gateway.Target) error
}

// precheck refuses early what gateway.Place would refuse for sure: a
// draining gateway, the router's policy, no route, the callee adapter's
// egress policy.
func (a *Adapter) precheck(from jid.JID, target string) error {
	if a.gw.Draining() {
		return gateway.ErrDraining
	}
	caller := CallerAddress(from)
	t, d, err := a.gw.Router().Resolve(caller, target)
	if err != nil {
		return err
	}
	if c, ok := d.(egressChecker); ok {
		return c.CheckEgress(caller, t)
	}
	return nil
}

// targetFor returns the router target of a call to a gateway JID: the
// unescaped local part (component mode), or the sigbridge <target/> of the
// propose, else Client.DefaultTarget (client mode).
func (a *Adapter) targetFor(to jid.JID, el *jmiElem) (string, error) {
	if a.cfg.ComponentMode() {
		t, err := TargetForLocal(to.Localpart())
		if err != nil && !errors.Is(err, gateway.ErrForbidden) {
			err = fmt.Errorf("%w: %w", gateway.ErrBadTarget, err)
		}
		return t, err
	}
	if el != nil && el.Target != "" {
		return el.Target, nil
	}
	if a.cfg.Client.DefaultTarget != "" {
		return a.cfg.Client.DefaultTarget, nil
	}
	return "", fmt.Errorf("%w: the call names no target", gateway.ErrBadTarget)
}

// rejectReason is the reason of a JMI reject for a call the gateway
// refuses: decline for policy, otherwise the condition of the failure.
func rejectReason(err error) *jingle.Reason {
	cond := jingle.ReasonDecline
	if !errors.Is(err, gateway.ErrForbidden) {
		_, cond = gateway.Status(err)
	}
	return jingle.NewReason(cond, "")
}

// rejectAsync sends a JMI reject from the reading goroutine's side (queued).
func (a *Adapter) rejectAsync(st *stream, local, peer jid.JID, id string, err error) {
	msg, merr := jmiMessage(local, peer, jmiElem{ID: id, Reason: rejectReason(err)}, jmiReject, "", "")
	if merr != nil {
		return
	}
	select {
	case st.async <- queued{msg, "jmi-" + jmiReject}:
	default:
	}
}

// newIncoming creates the session of an XMPP caller (we are the responder).
// targetErr, if set, makes the session terminate at once after the ack.
func (a *Adapter) newIncoming(st *stream, sid string, local, peer jid.JID, target string, targetErr error) *session {
	if !a.cfg.ComponentMode() {
		local = st.local // answer from our full JID, not the bare one called
	}
	s := a.newSession(st, sid, jingle.Responder, local, peer)
	s.peerFull.Store(&peer)
	s.target, s.targetErr = target, targetErr
	s.state.Store(int32(stProposed))
	return s
}

// onProposed checks the target (precheck) and sends reject, or proceed to
// the caller's device and waits for its session-initiate.
func (s *session) onProposed() {
	if err := s.a.precheck(s.peer, s.target); err != nil {
		s.log.Info("proposal rejected", "target", s.target, "err", err)
		s.sendJMI(jmiReject, s.peer, jmiElem{Reason: rejectReason(err)})
		s.setState(stEnded)
		return
	}
	s.sendJMI(jmiProceed, s.peer, jmiElem{})
	s.arm(s.a.cfg.ProposeTimeout, timerPropose)
}

// onInitiate bridges the caller's session-initiate into gateway.Place and
// starts the session pings.
func (s *session) onInitiate(j *jingle.Jingle) {
	s.stopTimer()
	s.setState(stPending)
	if s.targetErr != nil {
		s.end(reasonFromError(s.targetErr), false)
		return
	}
	sd, err := jingle.JingleToSDP(j, jingle.Initiator, jingle.JingleToSDPOptions{Origin: s.nextOrigin(), Mids: s.mids})
	if err != nil {
		s.log.Info("session-initiate not convertible", "err", err)
		s.end(gateway.Reason{Condition: gateway.CondIncompatibleParameters, Code: 488}, false)
		return
	}
	s.setPeerSDP(sd)
	s.place(sd)
	s.startPings()
}

func (s *session) place(sd *sdp.SessionDescription) {
	ctx, cancel := context.WithTimeout(context.Background(), placeTimeout)
	defer cancel()
	call, err := s.a.gw.Place(ctx, gateway.PlaceRequest{Caller: s.leg, From: CallerAddress(s.peer),
		Target: s.target, Offer: sd})
	if err != nil {
		s.log.Info("call refused", "target", s.target, "err", err)
		s.end(reasonFromError(err), false)
		return
	}
	s.call = call
	s.log = s.log.With("call", call.ID())
	s.log.Info("call placed", "target", s.target)
}

// onAnswer sends the callee's answer as session-accept, or absorbs the
// other leg's answer to a re-offer of ours.
func (s *session) onAnswer(sd *sdp.SessionDescription) {
	if s.getState() == stActive && s.rn.kind == rnIn {
		s.onReAnswer(sd)
		return
	}
	if s.role != jingle.Responder || s.getState() != stPending {
		s.log.Info("answer ignored", "state", s.getState().String())
		return
	}
	j, err := jingle.SDPToJingle(sd, jingle.Responder, jingle.SDPToJingleOptions{Mids: s.mids, DropMDNS: true})
	if err != nil {
		s.log.Info("answer not convertible", "err", err)
		s.end(gateway.Reason{Condition: gateway.CondIncompatibleParameters, Code: 488}, true)
		return
	}
	j.Action, j.Responder = jingle.ActionSessionAccept, s.local.String()
	s.lastSent = sd
	s.sendJingle(j)
	s.setState(stActive)
	s.activate()
	s.sync() // the peer may have asked for hold before the answer
}
