package xmpp

import (
	"encoding/xml"
	"sync/atomic"

	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// onJingle checks a Jingle IQ set against the session table and the
// session's state, acknowledges it (or answers with the XEP-0166 error) and
// returns the hand-over to the session's goroutine.
func (a *Adapter) onJingle(st *stream, req stanza.IQ, j *jingle.Jingle) (xml.TokenReader, func()) {
	switch {
	case !validSID(j.SID):
		return a.refuse(req, errBadRequest.withText("bad sid")), nil
	case !j.Action.Known():
		return a.refuse(req, errUnsupported.withText("unknown action")), nil
	}
	s := a.lookup(keyOf(j.SID, req.From))
	if j.Action == jingle.ActionSessionInitiate {
		return a.onInitiateIQ(st, req, j, s)
	}
	if s == nil || !s.fromPeer(req.From, req.To) {
		return a.refuse(req, errUnknownSession), nil
	}
	if !s.accepts(j.Action) {
		return a.refuse(req, errOutOfOrder), nil
	}
	if s.tieBreak(j) {
		return a.refuse(req, errTieBreak), nil
	}
	if j.UnknownInfo != "" {
		// XEP-0166 §7.2.11: a session-info payload we do not understand.
		return a.refuse(req, errUnsupported.withText("unknown session-info payload")), nil
	}
	return resultReply(req, nil), func() { s.post(evJingle{j: j, from: req.From}) }
}

// onInitiateIQ accepts a session-initiate that follows our JMI proceed, or
// one without JMI for a new sid.
func (a *Adapter) onInitiateIQ(st *stream, req stanza.IQ, j *jingle.Jingle, s *session) (xml.TokenReader, func()) {
	switch {
	case s == nil:
		target, err := a.targetFor(req.To, nil)
		ns := a.newIncoming(st, j.SID, req.To, req.From, target, err)
		if err := ns.start(); err != nil {
			return a.refuse(req, errTooBusy), nil
		}
		return resultReply(req, nil), func() { ns.post(evJingle{j: j, from: req.From}) }
	case s.role == jingle.Responder && s.getState() == stProposed && s.fromPeer(req.From, req.To):
		return resultReply(req, nil), func() { s.post(evJingle{j: j, from: req.From}) }
	case s.role == jingle.Initiator:
		return a.refuse(req, errTieBreak), nil // crossing initiates: ours stands
	}
	return a.refuse(req, errOutOfOrder), nil
}

// fromPeer reports whether a stanza from -> to belongs to this session:
// sent by the peer (its full JID once known, one of the devices of a fork
// while it forks) to our address. It may be called from any goroutine.
func (s *session) fromPeer(from, to jid.JID) bool {
	if !to.Bare().Equal(s.local.Bare()) || !from.Bare().Equal(s.peerBare) {
		return false
	}
	if full := s.peerFull.Load(); full != nil {
		return from.Equal(*full)
	}
	return s.forkTo.Load() == nil || s.inFork(from)
}

// accepts reports whether the peer may send action in the session's
// current state (read from the atomic snapshot).
func (s *session) accepts(action jingle.Action) bool {
	st := s.getState()
	if st == stProposing && s.role == jingle.Initiator && s.forkTo.Load() != nil {
		// A device of the fork (fromPeer checked it) before one won.
		switch action {
		case jingle.ActionSessionAccept, jingle.ActionTransportInfo, jingle.ActionSessionInfo,
			jingle.ActionSessionTerminate:
			return true
		}
		return false
	}
	switch action {
	case jingle.ActionSessionAccept:
		return s.role == jingle.Initiator && st == stPending
	case jingle.ActionSessionTerminate:
		return st == stPending || st == stActive || st == stProposed
	}
	return st == stPending || st == stActive
}

// onMessage handles JMI messages (and bounces of ours).
func (a *Adapter) onMessage(st *stream, in *inStanza) func() {
	from, err1 := jid.Parse(in.From)
	to, err2 := jid.Parse(in.To)
	if err1 != nil || err2 != nil || !a.ours(to) {
		return nil
	}
	if in.Type == "error" {
		return a.onBounce(in, from)
	}
	el := in.jmi()
	if el == nil || !validSID(el.ID) || in.Delay != nil {
		return nil // not JMI, or replayed from offline storage / MAM
	}
	if el.name == jmiPropose {
		return a.onPropose(st, from, to, el)
	}
	s := a.lookup(keyOf(el.ID, from))
	if s == nil || !to.Bare().Equal(s.local.Bare()) {
		return nil
	}
	return func() { s.post(evJMI{from: from, el: el}) }
}

// onBounce handles an error reply to our propose (its stanza id is the sid).
func (a *Adapter) onBounce(in *inStanza, from jid.JID) func() {
	s := a.lookup(keyOf(in.ID, from))
	if s == nil {
		return nil
	}
	cond, _ := in.Error.condition()
	return func() { s.post(evMsgError{cond: cond}) }
}

// peerState is the part of a session the stanza handler reads.
type peerState struct {
	peerBare  jid.JID                   // immutable
	peerFull  atomic.Pointer[jid.JID]   // set once a device is known
	outOffer  atomic.Int32              // renegKind of a bridge re-offer waiting for the peer
	peerUfrag atomic.Pointer[string]    // the peer's current ICE ufrag
	forkTo    atomic.Pointer[[]jid.JID] // the devices of a fork (fork.go)
}

// tieBreak reports whether a change from the peer crosses one of ours that
// wins: within a session the initiator wins (protocols.md §2.2). The
// crossing change is a restart offer (a transport-info with new
// credentials and no candidates) while our restart waits, or a content-add
// while ours waits. It may be called from any goroutine.
func (s *session) tieBreak(j *jingle.Jingle) bool {
	if s.role != jingle.Initiator {
		return false
	}
	switch renegKind(s.outOffer.Load()) {
	case rnOutRestart:
		return j.Action == jingle.ActionTransportInfo && isRestartOffer(j, s.peerUfrag.Load())
	case rnOutContentAdd:
		return j.Action == jingle.ActionContentAdd
	}
	return false
}

// isRestartOffer: transports without candidates, one with a ufrag other
// than current.
func isRestartOffer(j *jingle.Jingle, current *string) bool {
	fresh := false
	for _, c := range j.Contents {
		if c.Transport == nil {
			continue
		}
		if len(c.Transport.Candidates) > 0 {
			return false
		}
		if c.Transport.Ufrag != "" && (current == nil || c.Transport.Ufrag != *current) {
			fresh = true
		}
	}
	return fresh
}
