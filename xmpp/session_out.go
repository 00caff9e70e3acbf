package xmpp

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"mellium.im/xmpp/jid"
)

// Outgoing calls: a browser or SIP caller calls "xmpp:user@example.org".
// Dial creates the leg; when the bridge delivers the offer we propose to
// the bare JID, the first device that proceeds gets the session-initiate,
// its session-accept becomes the answer (protocols.md §3.2, "SIP/browser
// calls an XMPP user").

// Dial implements gateway.Dialer for xmpp: targets.
func (a *Adapter) Dial(_ context.Context, req gateway.DialRequest) (gateway.Leg, error) {
	st := a.stream()
	if st == nil {
		return nil, fmt.Errorf("%w: XMPP server not connected", gateway.ErrOffline)
	}
	to, err := TargetJID(req.Target)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", gateway.ErrBadTarget, err)
	}
	to = a.unwrap(to)
	if a.ours(to) {
		return nil, fmt.Errorf("%w: %s is the gateway itself", gateway.ErrForbidden, to.String())
	}
	if req.Offer != nil {
		if err := checkOffer(req.Offer); err != nil {
			return nil, err
		}
	}
	s := a.newSession(st, newID(), jingle.Initiator, a.localFor(st, req.From), to)
	s.call, s.jmi, s.nick = req.Call, true, req.From
	s.state.Store(int32(stIdle))
	if err := s.start(); err != nil {
		return nil, err
	}
	return s.leg, nil
}

// unwrap turns a gateway JID that names an XMPP user in XEP-0106 form
// back into that user's JID (component mode): "juliet\40example.org@gw"
// or "xmpp\3ajuliet\40example.org@gw" is juliet@example.org, and a
// resource, on the gateway JID ("…@gw/phone") or escaped in the local part
// ("juliet\40example.org\2fphone@gw"), names her device. Anything else,
// and a JID that unwraps into the gateway again, is returned unchanged
// (and refused by Dial).
func (a *Adapter) unwrap(to jid.JID) jid.JID {
	if !a.cfg.ComponentMode() || !a.ours(to) || to.Localpart() == "" {
		return to
	}
	u := UnescapeLocal(to.Localpart())
	if len(u) > 5 && strings.EqualFold(u[:5], "xmpp:") {
		u = u[5:]
	}
	inner, err := jid.Parse(u)
	if err != nil || inner.Localpart() == "" || a.ours(inner) {
		return to
	}
	if inner.Resourcepart() == "" && to.Resourcepart() != "" {
		if full, err := inner.WithResource(to.Resourcepart()); err == nil {
			inner = full
		}
	}
	return inner
}

// localFor is our JID toward the callee: the caller's gateway JID in
// component mode (so the callee can call back), the account otherwise.
func (a *Adapter) localFor(st *stream, from string) jid.JID {
	if !a.cfg.ComponentMode() {
		return st.local
	}
	j, err := GatewayJID(from, a.addr.Domainpart())
	if err != nil {
		return a.addr
	}
	return j
}

// checkOffer refuses offers no Jingle RTP client can take: no audio or
// video, or no DTLS fingerprint (Conversations requires one).
func checkOffer(sd *sdp.SessionDescription) error {
	if len(proposeMedia(sd)) == 0 {
		return fmt.Errorf("%w: no audio or video to propose", gateway.ErrBadSDP)
	}
	if _, ok := sd.Attribute("fingerprint"); ok {
		return nil
	}
	for _, m := range sd.MediaDescriptions {
		if _, ok := m.Attribute("fingerprint"); ok {
			return nil
		}
	}
	return fmt.Errorf("%w: no DTLS fingerprint", gateway.ErrBadSDP)
}

// onOffer starts the JMI proposal with the caller's offer; a re-offer to
// an active session is renegotiated (reneg.go). Any other offer is refused
// (491) so that the bridge never waits for an answer that cannot come.
func (s *session) onOffer(sd *sdp.SessionDescription) {
	switch {
	case s.getState() == stActive:
		s.onReOffer(sd)
		return
	case s.role != jingle.Initiator || s.getState() != stIdle:
		s.log.Info("offer refused", "state", s.getState().String())
		s.postCall(failure491("the XMPP session is not ready for an offer"))
		return
	}
	j, err := jingle.SDPToJingle(sd, jingle.Initiator, jingle.SDPToJingleOptions{Mids: s.mids, DropMDNS: true})
	if err != nil {
		s.log.Info("offer not convertible", "err", err)
		s.hangupCall(gateway.Reason{Condition: gateway.CondIncompatibleParameters, Code: 488})
		s.setState(stEnded)
		return
	}
	s.offer, s.lastSent = j, sd
	s.setState(stProposing)
	s.arm(s.a.cfg.ProposeTimeout, timerPropose)
	if s.peer.Resourcepart() != "" {
		// A full JID: straight to that device, no JMI.
		s.jmi, s.jmiMaybe = false, false
		s.startFork([]jid.JID{s.peer})
	} else {
		direct, maybe := s.a.devices.forkTargets(s.peer)
		s.jmiMaybe = maybe
		s.sendJMI(jmiPropose, s.peer.Bare(), jmiElem{Descriptions: proposeMedia(sd)})
		if len(direct) > 0 {
			s.log.Info("forking to devices without JMI", "devices", len(direct))
			s.startFork(direct)
		}
	}
	time.AfterFunc(ringingFallback, func() { s.post(evTimer{gen: -1, kind: timerRinging}) })
}

// onJMI handles JMI about our proposal (or the caller's, when incoming).
func (s *session) onJMI(from jid.JID, el *jmiIn) {
	st := s.getState()
	switch {
	case el.name == jmiProceed && s.role == jingle.Initiator && st == stProposing && s.jmi:
		s.onProceed(from)
	case el.name == jmiReject && st == stProposing && s.jmi:
		s.log.Info("proposal rejected", "by", from.String(), "reason", el.reason())
		s.cancelBranches(nil, jingle.NewReason(jingle.ReasonCancel, "declined elsewhere"))
		s.hangupCall(reasonFromReject(el.reason()))
		s.setState(stEnded)
	case el.name == jmiRinging && s.role == jingle.Initiator && st == stProposing && s.jmi:
		s.calleeRinging()
	case el.name == jmiRetract && s.role == jingle.Responder && st == stProposed:
		s.log.Info("caller retracted the proposal")
		s.setState(stEnded)
	}
}

// onProceed sends session-initiate to the device that proceeded.
func (s *session) onProceed(from jid.JID) {
	s.stopTimer()
	s.cancelBranches(nil, answeredElsewhere())
	s.peer = from
	s.peerFull.Store(&from)
	s.log = s.log.With("device", from.Resourcepart())
	j := *s.offer
	j.Action, j.Initiator = jingle.ActionSessionInitiate, s.local.String()
	s.setState(stPending)
	s.sendJingle(&j)
}

// onInitiateAcked flushes the candidates held until the peer knew the
// session, and starts the session pings.
func (s *session) onInitiateAcked() {
	s.initAcked = true
	held := s.held
	s.held = nil
	for _, c := range held {
		s.sendCandidate(c)
	}
	s.startPings()
}

// onAccept turns the callee's session-accept into the answer.
func (s *session) onAccept(j *jingle.Jingle) {
	sd, err := jingle.JingleToSDP(j, jingle.Responder, jingle.JingleToSDPOptions{Origin: s.nextOrigin(), Mids: s.mids})
	if err != nil {
		s.log.Info("session-accept not convertible", "err", err)
		s.end(gateway.Reason{Condition: gateway.CondIncompatibleParameters, Code: 488}, true)
		return
	}
	s.stopTimer()
	s.setState(stActive)
	s.setPeerSDP(sd)
	s.activate()
	s.postCall(gateway.Answer{SDP: sd})
	s.sync() // the peer may have asked for hold before its answer went out
}
