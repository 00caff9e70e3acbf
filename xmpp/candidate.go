package xmpp

import (
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
)

// Trickle ICE both ways: transport-info <-> gateway.Candidate.

// onLocalCandidate sends a candidate of the other leg to the peer, or holds
// it until the peer knows the session (our session-initiate acked).
func (s *session) onLocalCandidate(c gateway.Candidate) {
	st := s.getState()
	switch {
	case s.role == jingle.Initiator && !s.initAcked && st != stEnded:
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
func (s *session) sendCandidate(c gateway.Candidate) {
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
		s.drop("stale-ufrag", nil)
		return
	}
	if cand.IsMDNS() {
		s.drop("mdns", nil)
		return
	}
	cand.Ufrag = ""
	s.sendJingle(&jingle.Jingle{Action: jingle.ActionTransportInfo, Contents: []jingle.Content{{
		Creator: s.creatorOf(name), Name: name,
		Transport: &jingle.Transport{Ufrag: ufrag, Pwd: pwd, Candidates: []jingle.Candidate{cand}},
	}}})
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
// credentials without candidates (an ICE restart) are not supported and
// only logged.
func (s *session) onTransportInfo(j *jingle.Jingle) {
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
		if len(c.Transport.Candidates) == 0 {
			s.log.Info("transport-info without candidates ignored (ICE restart is not supported)")
		}
		cands := c.Transport.Candidates
		if len(cands) > jingle.MaxCandidates {
			s.drop("limit", nil)
			cands = cands[:jingle.MaxCandidates]
		}
		for _, cand := range cands {
			s.postCall(gateway.Candidate{Mid: mid, MLineIndex: idx, Line: cand.SDPLine(c.Transport.Ufrag),
				Ufrag: c.Transport.Ufrag})
		}
	}
}
