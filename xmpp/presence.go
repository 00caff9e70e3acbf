package xmpp

import (
	"encoding/xml"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// onPresence handles a presence to one of our JIDs. An unavailable presence
// from a full JID ends the pending or active sessions with that peer (it
// went offline: its client closed the stream or its server noticed the
// connection drop). Subscription requests and probes to gateway JIDs are
// answered with an available presence carrying caps, so clients show call
// buttons. Other presences are ignored. It returns the reply to write (or
// nil) and the work to start after it (or nil).
func (a *Adapter) onPresence(in *inStanza) (xml.TokenReader, func()) {
	from, err1 := jid.Parse(in.From)
	to, err2 := jid.Parse(in.To)
	if err1 != nil || err2 != nil || !a.ours(to) {
		return nil, nil
	}
	if in.Type == string(stanza.UnavailablePresence) {
		return nil, a.onUnavailable(from)
	}
	if !a.cfg.ComponentMode() || to.Localpart() == "" {
		return nil, nil
	}
	switch in.Type {
	case string(stanza.SubscribePresence):
		return xmlstream.MultiReader(
			stanza.Presence{From: to, To: from.Bare(), Type: stanza.SubscribedPresence}.Wrap(nil),
			a.available(to, from)), nil
	case string(stanza.ProbePresence):
		return a.available(to, from), nil
	}
	return nil, nil
}

// onUnavailable returns the hand-over of "peer offline" to every session
// whose peer is the full JID from. The bare JID or another resource going
// offline does not end a session with a device.
func (a *Adapter) onUnavailable(from jid.JID) func() {
	if from.Resourcepart() == "" {
		return nil
	}
	gone := a.sessionsWith(from)
	if len(gone) == 0 {
		return nil
	}
	return func() {
		for _, s := range gone {
			s.post(evPeerOffline{})
		}
	}
}

// sessionsWith returns the sessions whose peer device is the full JID peer.
func (a *Adapter) sessionsWith(peer jid.JID) []*session {
	bare := peer.Bare().String()
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*session
	for k, s := range a.sessions {
		if k.peer != bare {
			continue
		}
		if full := s.peerFull.Load(); full != nil && full.Equal(peer) {
			out = append(out, s)
		}
	}
	return out
}
