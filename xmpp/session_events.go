package xmpp

import (
	"context"
	"encoding/xml"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// The session's event handlers and what they send. All run on the
// session's goroutine.

// onBridge handles an event the bridge delivered to our leg.
func (s *session) onBridge(ev gateway.Event) {
	switch e := ev.(type) {
	case gateway.Offer:
		s.onOffer(e.SDP)
	case gateway.Answer:
		s.onAnswer(e.SDP)
	case gateway.Candidate:
		s.onLocalCandidate(e)
	case gateway.Ringing:
		s.onCalleeRinging()
	case gateway.Hangup:
		s.end(e.Reason, false)
	case gateway.EndOfCandidates:
		// XEP-0176 has no end-of-candidates; Jingle peers do not need it.
	case gateway.Failure:
		s.onBridgeFailure(e)
	case gateway.DTMF:
		s.log.Debug("DTMF not carried over Jingle signaling; dropped", "digits", len(e.Digits))
	}
}

// onJingle handles an acknowledged Jingle action from the peer.
func (s *session) onJingle(j *jingle.Jingle) {
	switch j.Action {
	case jingle.ActionSessionInitiate:
		s.onInitiate(j)
	case jingle.ActionSessionAccept:
		s.onAccept(j)
	case jingle.ActionTransportInfo:
		s.onTransportInfo(j)
	case jingle.ActionSessionInfo:
		s.onSessionInfo(j)
	case jingle.ActionSessionTerminate:
		s.onTerminate(j)
	case jingle.ActionContentAdd:
		// The peer adding streams is not supported (yet): reject them.
		s.sendJingle(&jingle.Jingle{Action: jingle.ActionContentReject, Contents: stubs(j.Contents)})
	case jingle.ActionContentAccept:
		s.onContentAccept(j)
	case jingle.ActionContentReject:
		s.onContentReject()
	case jingle.ActionContentModify:
		s.onPeerContentModify(j)
	case jingle.ActionTransportReplace:
		s.sendJingle(&jingle.Jingle{Action: jingle.ActionTransportReject, Contents: j.Contents})
	default:
		s.log.Info("Jingle action ignored", "action", string(j.Action))
	}
}

func (s *session) onSessionInfo(j *jingle.Jingle) {
	switch {
	case j.Info == nil:
	case j.Info.Kind() == jingle.InfoRinging && s.role == jingle.Initiator:
		s.calleeRinging()
	default:
		s.onPeerInfo(j.Info.Kind())
	}
}

// stubs returns contents reduced to creator and name (for content-reject).
func stubs(cs []jingle.Content) []jingle.Content {
	out := make([]jingle.Content, 0, len(cs))
	for _, c := range cs {
		out = append(out, jingle.Content{Creator: c.Creator, Name: c.Name})
	}
	return out
}

// calleeRinging tells the bridge (once) that the XMPP callee is alerted.
func (s *session) calleeRinging() {
	if st := s.getState(); s.rang || s.call == nil || (st != stProposing && st != stPending) {
		return
	}
	s.rang = true
	s.postCall(gateway.Ringing{Code: 180})
}

func (s *session) onCalleeRinging() {
	if s.role == jingle.Responder && s.getState() == stPending {
		s.sendJingle(&jingle.Jingle{Action: jingle.ActionSessionInfo, Info: jingle.NewInfo(jingle.InfoRinging)})
	}
}

func (s *session) onTerminate(j *jingle.Jingle) {
	r := reasonFromJingle(j.Reason)
	s.log.Info("peer ended the session", "reason", r.Condition)
	s.hangupCall(r)
	s.setState(stEnded)
}

// end ends the session from our side with r: retract a proposal or
// terminate the session, and (unless the bridge told us) end the call.
func (s *session) end(r gateway.Reason, tellCall bool) {
	switch s.getState() {
	case stEnded:
		return
	case stProposing:
		if s.jmi {
			s.sendJMI(jmiRetract, s.peer.Bare(), retractReason(r))
		}
		s.cancelBranches(nil, retractReason(r).Reason)
	case stPending, stActive:
		s.sendTerminate(r)
	}
	if tellCall {
		s.hangupCall(r)
	}
	s.setState(stEnded)
}

// hangupCall tells the bridge the call is over on our side.
func (s *session) hangupCall(r gateway.Reason) {
	if s.call != nil {
		s.postCall(gateway.Hangup{Reason: r})
	}
}

// postCall posts to the call without blocking the session for long: the
// bridge's queue is large and Post blocks only while it is full.
func (s *session) postCall(ev gateway.Event) {
	if s.call == nil {
		return
	}
	if err := s.call.Post(s.leg, ev); err != nil {
		s.log.Debug("event not posted; call over", "event", ev.EventName(), "err", err)
	}
}

// sendTerminate sends session-terminate (and JMI finish) with r.
func (s *session) sendTerminate(r gateway.Reason) {
	s.sendJingle(&jingle.Jingle{Action: jingle.ActionSessionTerminate, Reason: jingleReason(r)})
	if s.jmi {
		s.sendJMI(jmiFinish, s.peer, jmiElem{Reason: jingleReason(r)})
	}
}

// sendJingle sends a Jingle IQ to the peer; its result comes back as evIQ.
func (s *session) sendJingle(j *jingle.Jingle) {
	action := j.Action
	s.sendJingleThen(j, func(r iqResult) any { return evIQ{action: action, res: r} })
}

// sendJingleThen sends a Jingle IQ to the peer; its result comes back as
// the event ev returns.
func (s *session) sendJingleThen(j *jingle.Jingle, ev func(iqResult) any) {
	s.sendJingleWithin(j, s.a.cfg.IQTimeout, ev)
}

// sendJingleWithin is sendJingleThen with its own timeout. It returns the
// IQ's id ("" if nothing was sent).
func (s *session) sendJingleWithin(j *jingle.Jingle, timeout time.Duration, ev func(iqResult) any) string {
	return s.sendJingleToWithin(s.peer, j, timeout, ev)
}

// sendJingleTo sends a Jingle IQ of this session to to, a device other
// than the peer (a branch of a fork); its result comes back as the event
// ev returns (nil: none).
func (s *session) sendJingleTo(to jid.JID, j *jingle.Jingle, ev func(iqResult) any) {
	s.sendJingleToWithin(to, j, s.a.cfg.IQTimeout, ev)
}

func (s *session) sendJingleToWithin(to jid.JID, j *jingle.Jingle, timeout time.Duration, ev func(iqResult) any) string {
	j.SID = s.sid()
	payload, err := tokens(j)
	if err != nil {
		s.log.Error("cannot encode Jingle", "action", string(j.Action), "err", err)
		s.post(ev(iqResult{cond: "internal-server-error"}))
		return ""
	}
	iq := stanza.IQ{XMLName: xml.Name{Local: "iq"}, From: s.local, To: to}
	return s.st.sendIQ(iq, payload, string(j.Action), timeout, func(r iqResult) {
		if e := ev(r); e != nil {
			s.post(e)
		}
	})
}

// sendJMI sends one JMI element about this session to to.
func (s *session) sendJMI(name string, to jid.JID, el jmiElem) {
	el.ID = s.sid()
	nick, msgID := "", ""
	if name == jmiPropose {
		nick, msgID = s.nick, s.sid() // a bounce carries the sid back
	}
	msg, err := jmiMessage(s.local, to, el, name, nick, msgID)
	if err == nil {
		err = s.st.send(context.Background(), msg, "jmi-"+name)
	}
	if err != nil {
		s.log.Info("JMI not sent", "jmi", name, "err", err)
	}
}

// onIQResult handles the outcome of one of our Jingle IQs.
func (s *session) onIQResult(action jingle.Action, r iqResult) {
	if r.ok {
		if action == jingle.ActionSessionInitiate {
			s.onInitiateAcked()
		}
		return
	}
	if s.getState() == stEnded {
		return
	}
	s.log.Info("Jingle IQ failed", "action", string(action), "cond", r.cond, "app", r.app)
	switch action {
	case jingle.ActionSessionInitiate, jingle.ActionSessionAccept:
		rs := reasonFromIQError(r)
		if r.cond == condStreamLost {
			rs = gateway.ReasonDisconnected
		}
		s.end(rs, true)
	}
}

func (s *session) onTimer(kind string) {
	switch kind {
	case timerPropose:
		s.log.Info("proposal timed out", "state", s.getState().String())
		s.end(gateway.Reason{Condition: gateway.CondTimeout, Code: 480, Text: "no answer to the proposal"}, true)
	case timerRinging:
		s.calleeRinging()
	}
}

// Timer kinds.
const (
	timerPropose = "propose"
	timerRinging = "ringing"
)

// nextOrigin returns our o= line for the next SDP we build.
func (s *session) nextOrigin() sdp.Origin {
	o := s.origin
	s.origin.SessionVersion++
	return o
}

// onMessageError handles a bounced JMI message (a propose to a JID that
// does not exist or cannot receive it).
func (s *session) onMessageError(cond string) {
	if s.getState() != stProposing {
		return
	}
	if len(s.branches) > 0 {
		s.log.Info("proposal bounced; the direct branches go on", "cond", cond)
		s.jmi, s.jmiMaybe = false, false
		return
	}
	r := reasonFromIQError(iqResult{cond: cond})
	s.log.Info("proposal bounced", "cond", cond)
	s.hangupCall(r)
	s.setState(stEnded)
}
