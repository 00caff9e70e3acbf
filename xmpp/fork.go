package xmpp

import (
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"mellium.im/xmpp/jid"
)

// Forking an outgoing call. A call to a bare JID sends the JMI propose as
// always and, at the same time, a session-initiate (same sid) to every
// available device of the user that the gateway knows takes Jingle RTP
// without JMI (devices.go): clients without XEP-0353 never answer a
// propose. A call to a full JID is a fork with one branch and no JMI.
// The first device to take the call wins: a JMI proceed (then our
// session-initiate), or a session-accept on a direct branch. The others
// get session-terminate (direct) and retract (JMI), both with cancel
// ("answered elsewhere"). A device that declines (session-terminate with
// decline or busy) declines the call, as a JMI reject does; a branch that
// fails otherwise (an error answer, another reason, the device going
// offline) is dropped, and the call ends with its reason only when no
// other branch is left and no device may still answer the propose.

// deviceGoneConds are the error answers to a session-initiate saying the
// device is not online (its server answers for it): it is forgotten.
var deviceGoneConds = map[string]bool{"service-unavailable": true, "recipient-unavailable": true, "item-not-found": true}

// branch is one direct session-initiate of a forking call. Owned by the
// session's goroutine.
type branch struct {
	to    jid.JID
	acked bool                // the device acknowledged our session-initiate
	held  []gateway.Candidate // our candidates until it did
	early []*jingle.Jingle    // its transport-infos until it wins
}

// answeredElsewhere ends the branches that lost.
func answeredElsewhere() *jingle.Reason {
	return jingle.NewReason(jingle.ReasonCancel, "answered elsewhere")
}

// evBranchIQ is the answer to a branch's session-initiate.
type evBranchIQ struct {
	to  jid.JID
	res iqResult
}

// forking reports whether the session waits for a device to take the call.
func (s *session) forking() bool {
	return s.role == jingle.Initiator && s.getState() == stProposing
}

// startFork sends the offer as session-initiate to each device. The set
// of devices is published first (the stanza handler checks senders
// against it).
func (s *session) startFork(targets []jid.JID) {
	list := append([]jid.JID(nil), targets...)
	s.forkTo.Store(&list)
	for _, to := range targets {
		s.branches = append(s.branches, &branch{to: to})
	}
	for _, to := range targets {
		j := *s.offer
		j.Action, j.Initiator = jingle.ActionSessionInitiate, s.local.String()
		s.sendJingleTo(to, &j, func(r iqResult) any { return evBranchIQ{to: to, res: r} })
	}
}

// evDeviceKnown tells a session that a device of its callee became known
// as one that takes a direct session-initiate.
type evDeviceKnown struct{ dev jid.JID }

// deviceKnown hands a newly known direct device to the calls forking to
// its user (a device whose presence or capabilities came in after the
// call started). It may be called from any goroutine; it never blocks.
func (a *Adapter) deviceKnown(dev jid.JID) {
	bare := dev.Bare().String()
	a.mu.Lock()
	var to []*session
	for k, s := range a.sessions {
		if k.peer == bare && s.role == jingle.Initiator && s.getState() == stProposing {
			to = append(to, s)
		}
	}
	a.mu.Unlock()
	for _, s := range to {
		s.post(evDeviceKnown{dev: dev})
	}
}

// onDeviceKnown adds a branch for a device that became known while the
// call to its bare JID is still looking for a device. It gets the
// candidates gathered so far once it acknowledges the initiate.
func (s *session) onDeviceKnown(dev jid.JID) {
	if !s.forking() || s.peer.Resourcepart() != "" || s.branch(dev) != nil || len(s.branches) >= maxUserResources {
		return
	}
	list := []jid.JID{dev}
	if cur := s.forkTo.Load(); cur != nil {
		list = append(append([]jid.JID(nil), *cur...), dev)
	}
	s.forkTo.Store(&list)
	b := &branch{to: dev, held: append([]gateway.Candidate(nil), s.held...)}
	s.branches = append(s.branches, b)
	s.log.Info("device became known; adding it to the fork", "device", dev.Resourcepart())
	j := *s.offer
	j.Action, j.Initiator = jingle.ActionSessionInitiate, s.local.String()
	s.sendJingleTo(dev, &j, func(r iqResult) any { return evBranchIQ{to: dev, res: r} })
}

// inFork reports whether from is a device of the fork. It may be called
// from any goroutine.
func (s *session) inFork(from jid.JID) bool {
	if list := s.forkTo.Load(); list != nil {
		for _, j := range *list {
			if j.Equal(from) {
				return true
			}
		}
	}
	return false
}

func (s *session) branch(from jid.JID) *branch {
	for _, b := range s.branches {
		if b.to.Equal(from) {
			return b
		}
	}
	return nil
}

// onBranchIQ handles the answer to a branch's session-initiate.
func (s *session) onBranchIQ(to jid.JID, r iqResult) {
	b := s.branch(to)
	if b == nil || !s.forking() {
		return
	}
	if !r.ok {
		s.log.Info("direct session-initiate failed", "device", to.Resourcepart(), "cond", r.cond)
		if deviceGoneConds[r.cond] {
			s.a.devices.unavailable(to) // it went away unnoticed (before a takeover, say)
		}
		s.dropBranch(b, reasonFromIQError(r), false)
		return
	}
	b.acked = true
	held := b.held
	b.held = nil
	for _, c := range held {
		s.sendCandidateTo(b.to, c)
	}
}

// onBranchJingle handles a Jingle action from a device of the fork.
func (s *session) onBranchJingle(from jid.JID, j *jingle.Jingle) {
	b := s.branch(from)
	if b == nil {
		return
	}
	switch j.Action {
	case jingle.ActionSessionAccept:
		s.win(b, j)
	case jingle.ActionTransportInfo:
		if len(b.early) < maxEarly {
			b.early = append(b.early, j)
		}
	case jingle.ActionSessionInfo:
		if j.Info != nil && j.Info.Kind() == jingle.InfoRinging {
			s.calleeRinging()
		}
	case jingle.ActionSessionTerminate:
		cond := ""
		if j.Reason != nil {
			cond = j.Reason.Condition
		}
		s.log.Info("device ended its branch", "device", from.Resourcepart(), "reason", cond)
		refused := cond == jingle.ReasonDecline || cond == jingle.ReasonBusy
		r := reasonFromJingle(j.Reason)
		if refused {
			r = reasonFromReject(cond)
		}
		s.dropBranch(b, r, refused)
	}
}

// forkCandidate sends one of our candidates to every branch that has
// acknowledged its session-initiate, and keeps it for the others.
func (s *session) forkCandidate(c gateway.Candidate) {
	for _, b := range s.branches {
		switch {
		case b.acked:
			s.sendCandidateTo(b.to, c)
		case len(b.held) < maxPending:
			b.held = append(b.held, c)
		}
	}
}

// win makes b's device the callee: the other branches and the JMI
// proposal are cancelled, our candidates it has not seen go out, its
// answer and early candidates go to the bridge.
func (s *session) win(b *branch, accept *jingle.Jingle) {
	s.stopTimer()
	s.cancelBranches(b, answeredElsewhere())
	if s.jmi {
		s.sendJMI(jmiRetract, s.peerBare, jmiElem{Reason: answeredElsewhere()})
		s.jmi = false
	}
	s.branches = nil
	s.peer = b.to
	s.peerFull.Store(&b.to)
	s.log = s.log.With("device", b.to.Resourcepart())
	s.log.Info("device answered the direct session-initiate")
	s.setState(stPending)
	s.held, s.initAcked = nil, true
	for _, c := range b.held {
		s.sendCandidate(c)
	}
	s.startPings()
	s.onAccept(accept)
	if s.getState() != stActive {
		return
	}
	for _, ti := range b.early {
		s.onTransportInfo(ti)
	}
}

// cancelBranches terminates every branch but keep, fire and forget.
func (s *session) cancelBranches(keep *branch, r *jingle.Reason) {
	for _, b := range s.branches {
		if b == keep {
			continue
		}
		j := &jingle.Jingle{Action: jingle.ActionSessionTerminate, Reason: r}
		s.sendJingleTo(b.to, j, func(iqResult) any { return nil })
	}
	if keep == nil {
		s.branches = nil
	}
}

// dropBranch forgets a branch that ended. A device that refused (decline,
// busy) refuses the call; otherwise the call ends only when nothing else
// may still answer.
func (s *session) dropBranch(b *branch, r gateway.Reason, refused bool) {
	rest := s.branches[:0]
	list := []jid.JID{}
	for _, o := range s.branches {
		if o != b {
			rest = append(rest, o)
			list = append(list, o.to)
		}
	}
	s.branches = rest
	s.forkTo.Store(&list)
	switch {
	case refused:
		s.end(r, true)
	case len(s.branches) == 0 && !s.jmiMaybe:
		if r.Condition == "" {
			r = gateway.Reason{Condition: gateway.CondGone, Code: 480}
		}
		s.end(r, true)
	}
}
