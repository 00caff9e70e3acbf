package ws

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/sdp/v3"
	"github.com/sigbridge/sigbridge/gateway"
)

// handle parses one text frame and acts on it. Every refusal becomes an
// `error` message; the connection stays up.
func (c *conn) handle(data []byte) (last bool) {
	m := getMessage()
	defer putMessage(m)
	m.recent = &c.recent
	err := m.parse(data)
	c.s.metrics.Message("ws", "in", metricType(m.Type, err))
	if err == nil {
		err = c.dispatch(m)
	}
	if err != nil {
		c.sendError(err, m.Type, m.CallID)
	}
	return lastOfBurst(m.Type)
}

// lastOfBurst reports whether a client message of type typ usually ends
// what the client sends at once (its offer or answer and candidates end
// with end-of-candidates; a hang-up ends a call; a login waits for the
// list): the reader then does not ask the kernel whether the next
// message is there already (inputPending) and hands reading on at once,
// unless its read buffer holds more (readbuf.go).
func lastOfBurst(typ string) bool {
	switch typ {
	case typeEndOfCandidates, typeHangUp, typeDecline, typeBusy, typeUsername:
		return true
	}
	return false
}

// metricType bounds the type label: known types, else "invalid".
func metricType(typ string, err error) string {
	if _, ok := schemaFor[typ]; ok && !errors.Is(err, ErrUnknownType) {
		return typ
	}
	return "invalid"
}

func (c *conn) dispatch(m *clientMessage) error {
	switch m.Type {
	case typeUsername:
		return c.onUsername(m)
	case typeMessage:
		return c.onChat(m)
	}
	if m.CallID != "" {
		c.ext.Store(true)
	}
	name := c.Name()
	if name == "" {
		return errorf(ErrUnauthenticated, "send username first")
	}
	if m.Type == typeVideoOffer {
		return c.onOffer(m, name)
	}
	return c.onCallMessage(m)
}

// onUsername logs the client in. With a token the name is fixed and a
// different wish is answered with rejectusername; without one the client
// gets its wish, or an altered name if it is taken or invalid (MDN).
func (c *conn) onUsername(m *clientMessage) error {
	if m.HasFeatures {
		c.ext.Store(true)
	}
	got, err := c.login(m.Name)
	if err != nil {
		if errors.Is(err, ErrRenameRate) { // the page keeps the name it has
			c.enqueue(encode(rejectUsernameMsg{Type: typeRejectUsername, ID: c.id, Name: c.Name()}), typeRejectUsername)
		}
		return err
	}
	if got != m.Name {
		c.enqueue(encode(rejectUsernameMsg{Type: typeRejectUsername, ID: c.id, Name: got}), typeRejectUsername)
	}
	c.s.dir.loggedIn(c, slices.Contains(m.Features, featureUserEvents))
	c.sendICEServers()
	c.armTURNRefresh()
	return nil
}

// login claims the wanted name. A rename (a different name once logged
// in) needs no call in progress and a token of the rename budget: every
// rename is news to every connection.
func (c *conn) login(want string) (string, error) {
	if c.identity != "" {
		return c.identity, nil
	}
	if cur := c.Name(); cur != "" && cur != want {
		if c.calls.count() > 0 {
			return "", ErrBusyRenaming
		}
		if c.renames != nil && !c.renames.allow(time.Now()) {
			return "", ErrRenameRate
		}
	}
	return c.s.dir.claim(c, want)
}

// sendICEServers refreshes the ICE servers of extension clients after
// login, with TURN credentials minted for the logged-in name.
func (c *conn) sendICEServers() {
	name := c.Name()
	servers := c.s.iceServersFor(name)
	if c.ext.Load() && len(servers) > 0 {
		c.enqueue(encode(iceServersMsg{Type: typeICEServers, ICEServers: servers, TTL: c.s.iceTTL(name)}), typeICEServers)
	}
}

// onChat broadcasts a chat line under the sender's name, HTML stripped.
func (c *conn) onChat(m *clientMessage) error {
	name := c.Name()
	if name == "" {
		return errorf(ErrUnauthenticated, "send username first")
	}
	c.s.dir.broadcast(encode(chatMsg{Type: typeMessage, Name: name, Text: stripHTML(m.Text), ID: c.id, Date: nowMillis()}))
	return nil
}

// onOffer starts a call, or re-offers on the call it belongs to.
func (c *conn) onOffer(m *clientMessage, name string) error {
	// ParseSDP, not ParseSDPString: m.SDP is a view of a pooled buffer
	// (setSDPText) that releaseSDP gives back for the next message.
	sd, err := gateway.ParseSDP(m.SDP)
	if err != nil {
		return err
	}
	m.releaseSDP()
	l, err := c.findLeg(m)
	switch {
	case err == nil:
		l.localMids = mids(sd)
		return c.post(l, gateway.Offer{SDP: sd})
	case errors.Is(err, ErrNoSuchCall):
		return c.place(m, name, sd)
	}
	return err
}

func (c *conn) findLeg(m *clientMessage) (*leg, error) {
	key := ""
	if m.Target != "" {
		key = canonicalTarget(m.Target)
	}
	return c.calls.find(m.CallID, key)
}

// place asks the gateway for a new call. A refused call gets an `error`
// and a `hang-up`, so that an unmodified MDN client closes its call UI.
func (c *conn) place(m *clientMessage, name string, sd *sdp.SessionDescription) error {
	if m.Target == "" {
		return errorf(ErrMalformed, "a new call needs a target")
	}
	l := &leg{c: c, callID: m.CallID, peer: m.Target, peerKey: canonicalTarget(m.Target), self: name, localMids: mids(sd)}
	if err := c.calls.add(l, false); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.ctx, placeTimeout)
	defer cancel()
	call, err := c.s.gw.Place(ctx, gateway.PlaceRequest{Caller: l, From: name, Target: m.Target, Offer: sd,
		Inline: true}) // the reader delivers the offer itself (leg.post)
	if err != nil {
		c.calls.remove(l)
		c.refuseCall(l, err)
		c.noteRefused(l.callID)
		return nil
	}
	l.call.Store(call)
	if c.debugging() {
		c.log.Debug("call placed", "call", call.ID(), "to", call.Target().String())
	}
	return nil
}

func (c *conn) refuseCall(l *leg, err error) {
	c.sendError(err, typeVideoOffer, l.callID)
	code, reason := status(err)
	c.enqueue(encodeHangupMsg(hangupMsg{Type: typeHangUp, Name: l.peer, Target: l.self, CallID: l.callID,
		Reason: reason, Code: code, Text: publicText(err)}), typeHangUp)
}

// onCallMessage handles the messages of a call in progress.
func (c *conn) onCallMessage(m *clientMessage) error {
	var l *leg
	var err error
	if m.Target == "" && m.CallID == "" && isHangup(m.Type) {
		l, err = c.calls.only() // the connection's only call
	} else {
		l, err = c.findLeg(m)
	}
	if errors.Is(err, ErrNoSuchCall) && c.wasRefused(m.CallID) {
		c.log.Debug("message for a refused call dropped", "type", m.Type, "callId", m.CallID)
		return nil
	}
	if err != nil {
		return err
	}
	ev, err := l.event(m)
	if err != nil {
		return err
	}
	if _, final := ev.(gateway.Hangup); final {
		l.ended.Store(true)
		c.calls.remove(l)
	}
	return c.post(l, ev)
}

func isHangup(typ string) bool { return typ == typeHangUp || typ == typeDecline || typ == typeBusy }

// post hands ev to the call. A call that ended meanwhile is not an error:
// the client gets (or got) its hang-up.
func (c *conn) post(l *leg, ev gateway.Event) error {
	err := l.post(ev)
	if errors.Is(err, gateway.ErrCallEnded) {
		c.log.Debug("event for an ended call dropped", "event", ev.EventName())
		return nil
	}
	return err
}

// event turns a call message into the gateway event it stands for.
func (l *leg) event(m *clientMessage) (gateway.Event, error) {
	switch m.Type {
	case typeVideoAnswer:
		sd, err := gateway.ParseSDP(m.SDP) // a pooled buffer's view: copied (onOffer)
		if err != nil {
			return nil, err
		}
		m.releaseSDP()
		l.localMids = mids(sd)
		return gateway.Answer{SDP: sd}, nil
	case typeNewICECandidate:
		return l.candidateEvent(m.Candidate), nil
	case typeEndOfCandidates:
		return gateway.EndOfCandidates{Mid: l.endMid(m.Candidate)}, nil
	case typeRinging:
		return gateway.Ringing{Code: max(m.Code, 180)}, nil
	case typeDTMF:
		return dtmfEvent(m), nil
	}
	return gateway.Hangup{Reason: hangupReason(m)}, nil
}

// candidateEvent maps the forms of new-ice-candidate (§1.1, §1.3): null and
// "" are the end of candidates (all m-lines / one), anything else is a
// candidate; a bare string without sdpMid/sdpMLineIndex is for m-line 0.
func (l *leg) candidateEvent(ci candidateInit) gateway.Event {
	if ci.Null {
		return gateway.EndOfCandidates{}
	}
	if ci.Line == "" {
		return gateway.EndOfCandidates{Mid: l.endMid(ci)}
	}
	mid, index := l.locate(ci)
	return gateway.Candidate{Mid: mid, MLineIndex: index, Line: ci.Line, Ufrag: ci.Ufrag}
}

// locate fills sdpMid and sdpMLineIndex from each other using the SDP the
// browser sent last.
func (l *leg) locate(ci candidateInit) (string, int) {
	switch {
	case ci.Mid != nil && ci.MLine != nil:
		return *ci.Mid, *ci.MLine
	case ci.Mid != nil:
		return *ci.Mid, max(midIndex(l.localMids, *ci.Mid), 0)
	}
	index := 0
	if ci.MLine != nil {
		index = *ci.MLine
	}
	if index < len(l.localMids) {
		return l.localMids[index], index
	}
	return "", index
}

// endMid names the m-line an end-of-candidates is for ("" = all of them).
func (l *leg) endMid(ci candidateInit) string {
	if ci.Mid != nil || ci.MLine != nil {
		mid, _ := l.locate(ci)
		return mid
	}
	return ""
}

// hangupReason builds the reason of hang-up, decline and busy. A plain
// hang-up (no reason, no code) leaves the choice to the bridge.
func hangupReason(m *clientMessage) gateway.Reason {
	text := safeText(m.Text, maxHangupText)
	switch m.Type {
	case typeDecline:
		return gateway.Reason{Condition: gateway.CondDecline, Code: 603, Text: text}
	case typeBusy:
		return gateway.Reason{Condition: gateway.CondBusy, Code: 486, Text: text}
	}
	r := gateway.Reason{Condition: m.Reason, Code: m.Code, Text: text}
	if r.Condition == "" && r.Code != 0 {
		r.Condition = gateway.ReasonFromSIP(r.Code).Condition
	}
	return r
}

// canonicalTarget is the form of an address used to match calls: "tel:+1…"
// and "+1…" are the same peer.
func canonicalTarget(s string) string { return gateway.CanonicalTarget(s) }

// greet sends the id greeting (with iceServers) and, for an authenticated
// connection, logs it in under its identity. An identity that is already
// connected is refused (409) and the connection closed.
func (c *conn) greet() {
	c.enqueue(encode(idMsg{Type: typeID, ID: c.id, ICEServers: c.s.iceServersFor(c.identity)}), typeID)
	if c.identity == "" {
		return
	}
	if err := c.s.dir.claimFixed(c, c.identity); err != nil {
		c.sendError(err, "", "")
		code, text := websocket.ClosePolicyViolation, "identity already connected"
		if errors.Is(err, ErrDirectoryDown) {
			code, text = websocket.CloseTryAgainLater, "user directory unavailable"
		}
		c.closeWith(closeInfo{code: code, text: text, flush: true, reason: gateway.ReasonDisconnected})
		return
	}
	c.s.dir.loggedIn(c, false)
	c.armTURNRefresh()
}
