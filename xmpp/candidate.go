package xmpp

import (
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"mellium.im/xmpp/jid"
)

// Trickle ICE both ways: transport-info <-> gateway.Candidate.

// onLocalCandidate sends a candidate of the other leg to the peer, or holds
// it until the peer knows the session (our session-initiate acked).
func (s *session) onLocalCandidate(c gateway.Candidate) {
	st := s.getState()
	if st == stProposing && len(s.branches) > 0 {
		s.forkCandidate(c)
	}
	switch {
	case (s.role == jingle.Initiator && !s.initAcked || s.holdCands) && st != stEnded:
		if len(s.held) < maxPending {
			s.held = append(s.held, c)
		}
	case st == stPending || st == stActive:
		s.sendCandidate(c)
	}
}

// sendCandidate sends one candidate as transport-info, with the ICE
// credentials of the SDP it belongs to. Stale (other ufrag), mDNS and
// unparsable candidates are dropped.
func (s *session) sendCandidate(c gateway.Candidate) { s.sendCandidateTo(s.peer, c) }

// sendCandidateTo is sendCandidate toward a device of a fork (fork.go).
func (s *session) sendCandidateTo(to jid.JID, c gateway.Candidate) {
	cand, err := jingle.CandidateFromSDP(c.Line)
	if err != nil {
		s.drop("bad-candidate", err)
		return
	}
	name, ok := s.mids.ContentForCandidate(c.Mid, c.MLineIndex)
	if !ok {
		s.drop("unknown-mid", nil)
		return
	}
	ufrag, pwd := s.credentials(name)
	if stale(ufrag, cand.Ufrag, c.Ufrag) {
		s.park(c)
		return
	}
	if cand.IsMDNS() {
		s.drop("mdns", nil)
		return
	}
	cand.Ufrag = ""
	j := &jingle.Jingle{Action: jingle.ActionTransportInfo, Contents: []jingle.Content{{
		Creator: s.creatorOf(name), Name: name,
		Transport: &jingle.Transport{Ufrag: ufrag, Pwd: pwd, Candidates: []jingle.Candidate{cand}},
	}}}
	s.sendJingleTo(to, j, func(r iqResult) any { return evIQ{action: jingle.ActionTransportInfo, res: r} })
}

// park keeps a candidate of an ICE generation other than the current one:
// it is stale, or it belongs to a restart whose SDP has not reached us yet
// (a leg may trickle the first candidates of a restart before its offer or
// answer gets here). The oldest are dropped beyond maxFuture.
func (s *session) park(c gateway.Candidate) {
	if s.getState() != stActive {
		s.drop("stale-ufrag", nil)
		return
	}
	if len(s.future) >= maxFuture {
		s.future = s.future[1:]
		s.drop("stale-ufrag", nil)
	}
	s.future = append(s.future, c)
}

// sentChanged replays the parked candidates after lastSent changed: those
// of its generation go out now.
func (s *session) sentChanged() {
	parked := s.future
	s.future = nil
	for _, c := range parked {
		s.onLocalCandidate(c)
	}
}

func stale(current string, ufrags ...string) bool {
	for _, u := range ufrags {
		if u != "" && current != "" && u != current {
			return true
		}
	}
	return false
}

func (s *session) drop(why string, err error) {
	if m := s.a.metrics; m != nil {
		m.CandidatesDropped.WithLabelValues("xmpp-" + why).Inc()
	}
	s.log.Debug("candidate dropped", "why", why, "err", err)
}

// credentials returns the ufrag and pwd of content name in the last SDP we
// sent (media level, else session level).
func (s *session) credentials(name string) (ufrag, pwd string) {
	i, ok := s.mids.IndexForName(name)
	if !ok || s.lastSent == nil || i >= len(s.lastSent.MediaDescriptions) {
		return "", ""
	}
	m := s.lastSent.MediaDescriptions[i]
	ufrag, _ = m.Attribute("ice-ufrag")
	pwd, _ = m.Attribute("ice-pwd")
	if ufrag == "" {
		ufrag, _ = s.lastSent.Attribute("ice-ufrag")
	}
	if pwd == "" {
		pwd, _ = s.lastSent.Attribute("ice-pwd")
	}
	return ufrag, pwd
}

// creatorOf returns the creator a content was first seen with (creator is
// unreliable across clients: reuse the original, protocols.md §2.2).
func (s *session) creatorOf(name string) string {
	for _, sl := range s.mids.Slots() {
		if sl.Name == name && sl.Creator != "" {
			return sl.Creator
		}
	}
	return jingle.CreatorInitiator
}

// onTransportInfo hands the peer's candidates to the bridge. New ICE
// credentials are an ICE restart (reneg.go): the peer's own (an offer,
// Conversations style: no candidates) or its answer to ours (credentials
// with candidates). Candidates of the peer's current generation are also
// kept in peerSDP, so that SDPs built from it later are complete; those of
// a generation the bridge has not heard of yet wait there for the re-offer.
func (s *session) onTransportInfo(j *jingle.Jingle) {
	restartAnswer, restartOffer := false, false
	if s.getState() == stActive && s.peerSDP != nil {
		if old, u, p, cands := s.restartCreds(j); u != "" {
			s.log.Debug("new ICE credentials from the peer", "candidates", cands, "reneg", s.rn.kind.String())
			if !s.onPeerCredentials(old, u, p, cands) {
				return
			}
			restartAnswer = s.rn.kind == rnOutRestart
			restartOffer = !restartAnswer
		}
	}
	if restartOffer {
		// Re-offer first: candidates in the same stanza are folded into
		// it (or, if the offer must wait, kept in peerSDP for it).
		defer s.sync()
	}
	for _, c := range j.Contents {
		if c.Transport == nil {
			continue
		}
		mid, ok := s.mids.MidForName(c.Name)
		idx, _ := s.mids.IndexForName(c.Name)
		if !ok {
			s.drop("unknown-content", nil)
			continue
		}
		cands := c.Transport.Candidates
		if len(cands) > jingle.MaxCandidates {
			s.drop("limit", nil)
			cands = cands[:jingle.MaxCandidates]
		}
		for _, cand := range cands {
			s.peerCandidate(mid, idx, cand.SDPLine(c.Transport.Ufrag), c.Transport.Ufrag, restartAnswer)
		}
	}
	if restartAnswer {
		s.onRestartAnswer()
	}
}

// peerCandidate keeps a candidate of the peer in peerSDP (current
// generation) and posts it to the bridge when the bridge knows its
// generation. Before the session is active (no peerSDP yet) every
// candidate goes to the bridge, which holds them until the SDP went out.
func (s *session) peerCandidate(mid string, idx int, line, ufrag string, inAnswer bool) {
	if s.peerSDP == nil || idx < 0 || idx >= len(s.peerSDP.MediaDescriptions) {
		s.postCall(gateway.Candidate{Mid: mid, MLineIndex: idx, Line: line, Ufrag: ufrag})
		return
	}
	current, _ := creds(s.peerSDP, idx)
	if ufrag == current {
		addCandidate(s.peerSDP.MediaDescriptions[idx], line)
	}
	if inAnswer {
		return // they go out inside the Answer
	}
	posted := s.lastRecv
	if s.rn.kind == rnIn {
		posted = s.rn.offer
	}
	if idx < len(posted.MediaDescriptions) {
		if u, _ := creds(posted, idx); u != ufrag && ufrag == current {
			return // a new generation: it goes out with the re-offer
		}
	}
	s.postCall(gateway.Candidate{Mid: mid, MLineIndex: idx, Line: line, Ufrag: ufrag})
}
