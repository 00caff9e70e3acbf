package xmpp

import (
	"encoding/xml"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// onPresence handles a presence to one of our JIDs.
//
// An available presence from a user's device is kept (devices.go) with its
// XEP-0115 caps; unknown caps are asked with disco#info, so that a call to
// the user's bare JID can reach devices without JMI (fork.go). An
// unavailable presence from a full JID forgets the device and ends the
// pending or active sessions with it (it went offline: its client closed
// the stream or its server noticed the connection drop).
//
// In component mode, a subscription request to a gateway JID is approved
// (subscribed, then an available presence carrying caps, so clients show
// call buttons) and returned (our own subscribe), so that the user's
// presence comes to the gateway from then on; probes get an available
// presence; unsubscribed forgets the user. It returns the reply to write
// (or nil) and the work to start after it (or nil).
func (a *Adapter) onPresence(st *stream, in *inStanza) (xml.TokenReader, func()) {
	from, err1 := jid.Parse(in.From)
	to, err2 := jid.Parse(in.To)
	if err1 != nil || err2 != nil || !a.ours(to) || a.ours(from) {
		return nil, nil
	}
	switch in.Type {
	case "":
		return a.onAvailable(st, from, to, in.Caps), nil
	case string(stanza.UnavailablePresence):
		a.devices.unavailable(from)
		return nil, a.onUnavailable(from)
	case string(stanza.UnsubscribedPresence):
		a.devices.forget(from.Bare())
		return nil, nil
	case string(stanza.SubscribedPresence):
		if a.cfg.ComponentMode() && to.Localpart() != "" {
			a.devices.subscribed(from.Bare(), to.Bare())
		}
		return nil, nil
	}
	if !a.cfg.ComponentMode() || to.Localpart() == "" {
		return nil, nil
	}
	switch in.Type {
	case string(stanza.SubscribePresence):
		return xmlstream.MultiReader(
			stanza.Presence{From: to, To: from.Bare(), Type: stanza.SubscribedPresence}.Wrap(nil),
			a.available(to, from),
			stanza.Presence{From: to, To: from.Bare(), Type: stanza.SubscribePresence}.Wrap(nil)), nil
	case string(stanza.ProbePresence):
		return a.available(to, from), nil
	}
	return nil, nil
}

// onAvailable keeps an available device and returns the disco#info query
// to send when its capabilities are not known yet (or nil).
func (a *Adapter) onAvailable(st *stream, from, to jid.JID, c *capsIn) xml.TokenReader {
	node, ask, direct := a.devices.available(from, c)
	if direct {
		a.deviceKnown(from)
	}
	if !ask {
		return nil
	}
	ver := ""
	if node != "" {
		ver = c.Ver
	}
	q, err := tokens(discoQuery{XMLName: xml.Name{Space: nsDiscoInfo, Local: "query"}, Node: node})
	if err != nil {
		a.devices.answered(from, ver, nil)
		return nil
	}
	if !a.cfg.ComponentMode() {
		to = st.local // a client sends from its full JID
	}
	iq := stanza.IQ{XMLName: xml.Name{Local: "iq"}, ID: newID(), Type: stanza.GetIQ, From: to, To: from}
	st.iqs.add(iq.ID, from, a.cfg.IQTimeout, func(r iqResult) {
		var answer *discoQuery
		if r.ok {
			answer = r.disco
		}
		for _, d := range a.devices.answered(from, ver, answer) {
			a.deviceKnown(d)
		}
	})
	a.metrics.Message(dialect, "out", "disco-info")
	return iq.Wrap(q)
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
			s.post(evPeerOffline{from: from})
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
		if full := s.peerFull.Load(); (full != nil && full.Equal(peer)) || (full == nil && s.inFork(peer)) {
			out = append(out, s)
		}
	}
	return out
}
