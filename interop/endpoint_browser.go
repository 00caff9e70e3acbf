package interop

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/pion/webrtc/v4"
)

// browserAgent is a browser-dialect party: our own wire client (with the
// callId, ringing and end-of-candidates extensions) driving a pion media
// end the way a browser page does. It trickles its candidates.
type browserAgent struct {
	c     *wsClient
	end   *pionEnd
	log   *slog.Logger
	party string
	ev    *EventLog

	mu      sync.Mutex // guards the fields below
	peer    string     // the other party's address (target of our messages)
	callID  string
	sdpSent bool
	outbox  []wsMessage // our candidates waiting for our SDP to go out
	closed  bool

	// Owned by the loop goroutine.
	pending  []webrtc.ICECandidateInit // remote candidates before the remote SDP
	answered bool
	loopDone chan struct{}
}

// newBrowserAgent connects to the gateway's WebSocket, logs in as name
// and prepares the media end.
func newBrowserAgent(ctx context.Context, o agentOptions) (*browserAgent, error) {
	end, err := newPionEnd(o.label, o.media, o.role == roleCaller, o.party.WithholdCandidates, o.log)
	if err != nil {
		return nil, err
	}
	c, err := dialWS(ctx, o.dep.WS, o.role.String(), o.tr)
	if err != nil {
		_ = end.close()
		return nil, err
	}
	if err := c.login(ctx, o.name); err != nil {
		_ = c.close()
		_ = end.close()
		return nil, err
	}
	a := &browserAgent{c: c, end: end, log: o.log, party: o.role.String(), ev: NewEventLog(), loopDone: make(chan struct{})}
	end.pc.OnICECandidate(a.onLocalCandidate)
	go a.loop()
	return a, nil
}

// Address implements Agent: the logged-in name.
func (a *browserAgent) Address() string { return a.c.name }

// Events implements Agent.
func (a *browserAgent) Events() *EventLog { return a.ev }

// Media implements Agent.
func (a *browserAgent) Media() MediaEnd { return a.end }

// Call implements Agent.
func (a *browserAgent) Call(ctx context.Context, target string) error {
	a.mu.Lock()
	a.peer, a.callID = target, newToken()
	a.mu.Unlock()
	if err := a.end.offer(""); err != nil {
		return err
	}
	return a.sendSDP(ctx, "video-offer", "offer")
}

// Ring implements Agent.
func (a *browserAgent) Ring(ctx context.Context) error {
	return a.c.send(ctx, a.callMessage("ringing", wsMessage{"code": 180}))
}

// Answer implements Agent.
func (a *browserAgent) Answer(ctx context.Context) error {
	if err := a.end.answerRemote(); err != nil {
		return err
	}
	return a.sendSDP(ctx, "video-answer", "answer")
}

// Reject implements Agent with the busy and decline extensions.
func (a *browserAgent) Reject(ctx context.Context, why Outcome) error {
	typ := "decline"
	if why == Busy {
		typ = "busy"
	}
	return a.c.send(ctx, a.callMessage(typ, nil))
}

// HangUp implements Agent.
func (a *browserAgent) HangUp(ctx context.Context) error {
	return a.c.send(ctx, a.callMessage("hang-up", nil))
}

// Reoffer implements Agent.
func (a *browserAgent) Reoffer(ctx context.Context, dir string) error {
	if err := a.end.offer(dir); err != nil {
		return err
	}
	return a.sendSDP(ctx, "video-offer", "offer")
}

// Vanish implements Agent: the TCP connection drops, no close frame, no
// hang-up; the media end stops.
func (a *browserAgent) Vanish() error {
	err := a.c.kill()
	return errors.Join(err, a.end.close())
}

// Close implements Agent.
func (a *browserAgent) Close() error {
	a.mu.Lock()
	already := a.closed
	a.closed = true
	a.mu.Unlock()
	if already {
		return nil
	}
	err := errors.Join(a.c.close(), a.end.close())
	<-a.loopDone
	return err
}

// callMessage builds a call message to the peer.
func (a *browserAgent) callMessage(typ string, fields wsMessage) wsMessage {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := wsMessage{"type": typ, "name": a.c.name, "target": a.peer}
	if a.callID != "" {
		m["callId"] = a.callID
	}
	for k, v := range fields {
		m[k] = v
	}
	return m
}

// sendSDP sends the local description, then the candidates held for it.
func (a *browserAgent) sendSDP(ctx context.Context, typ, sdpType string) error {
	msg := a.callMessage(typ, wsMessage{"sdp": wsMessage{"type": sdpType, "sdp": a.end.localSDP()}})
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.c.send(ctx, msg); err != nil {
		return err
	}
	a.sdpSent = true
	for _, m := range a.outbox {
		if err := a.c.send(ctx, m); err != nil {
			return err
		}
	}
	a.outbox = nil
	return nil
}

// onLocalCandidate trickles a candidate (after our SDP went out), unless
// the media end withholds them.
func (a *browserAgent) onLocalCandidate(c *webrtc.ICECandidate) {
	if c == nil || a.end.withhold {
		return
	}
	msg := a.callMessage("new-ice-candidate", wsMessage{"candidate": c.ToJSON()})
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.sdpSent {
		a.outbox = append(a.outbox, msg)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	if err := a.c.send(ctx, msg); err != nil {
		a.log.Debug("trickle", "err", err)
	}
}

// loop handles the gateway's messages in order until the connection closes.
func (a *browserAgent) loop() {
	defer close(a.loopDone)
	for m := range a.c.in {
		if err := a.handle(m); err != nil {
			a.ev.Add(Event{Kind: EvError, Reason: "harness", Detail: err.Error()})
		}
	}
	a.ev.Close(fmt.Errorf("interop: %s: %w", a.party, errWSClosed))
}

func (a *browserAgent) handle(m wsMessage) error {
	switch m.str("type") {
	case "video-offer":
		return a.onOffer(m)
	case "video-answer":
		return a.onAnswer(m)
	case "new-ice-candidate":
		return a.onRemoteCandidate(m)
	case "ringing":
		a.ev.Add(Event{Kind: EvRinging, Code: m.num("code")})
	case "hang-up":
		a.ev.Add(Event{Kind: EvEnded, Reason: m.str("reason"), Code: m.num("code"), Detail: m.str("text")})
	case "error":
		a.ev.Add(Event{Kind: EvError, Reason: m.str("reason"), Code: m.num("code"), Detail: m.str("text")})
	case "dtmf":
		a.ev.Add(Event{Kind: EvDTMF, Detail: m.str("digits")})
	}
	return nil
}

// SendDTMF implements dtmfSignaler: one dtmf message, 100 ms per digit.
func (a *browserAgent) SendDTMF(ctx context.Context, digits string) error {
	return a.c.send(ctx, a.callMessage("dtmf", wsMessage{"digits": digits, "duration": 100}))
}

func (a *browserAgent) onOffer(m wsMessage) error {
	sdp, err := messageSDP(m, "offer")
	if err != nil {
		return err
	}
	a.mu.Lock()
	first := a.peer == ""
	if first {
		a.peer, a.callID = m.str("name"), m.str("callId")
	}
	a.mu.Unlock()
	if first {
		if err := a.end.setRemote(webrtc.SDPTypeOffer, sdp); err != nil {
			return err
		}
		a.ev.Add(Event{Kind: EvIncoming, Detail: m.str("name")})
		return a.flushRemoteCandidates()
	}
	if err := a.end.answer(sdp); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	if err := a.sendSDP(ctx, "video-answer", "answer"); err != nil {
		return err
	}
	a.ev.Add(Event{Kind: EvReoffer, Detail: directions(sdp)})
	return nil
}

func (a *browserAgent) onAnswer(m wsMessage) error {
	sdp, err := messageSDP(m, "answer")
	if err != nil {
		return err
	}
	if err := a.end.setRemote(webrtc.SDPTypeAnswer, sdp); err != nil {
		return err
	}
	if !a.answered {
		a.answered = true
		a.ev.Add(Event{Kind: EvAnswered})
		return a.flushRemoteCandidates()
	}
	a.ev.Add(Event{Kind: EvReanswered, Detail: directions(sdp)})
	return nil
}

// messageSDP reads msg.sdp in the object or the string form.
func messageSDP(m wsMessage, want string) (string, error) {
	if s, ok := m["sdp"].(string); ok {
		return s, nil
	}
	o := m.obj("sdp")
	if o == nil || o.str("type") != want {
		return "", fmt.Errorf("interop: %s without a %s sdp", m.str("type"), want)
	}
	return o.str("sdp"), nil
}

func (a *browserAgent) onRemoteCandidate(m wsMessage) error {
	init, ok := candidateInit(m)
	if !ok {
		return nil
	}
	if a.end.pc.RemoteDescription() == nil {
		a.pending = append(a.pending, init)
		return nil
	}
	return a.end.addCandidate(init)
}

// candidateInit reads msg.candidate (object or string form); ok is false
// for the end-of-candidates forms.
func candidateInit(m wsMessage) (webrtc.ICECandidateInit, bool) {
	var init webrtc.ICECandidateInit
	switch v := m["candidate"].(type) {
	case string:
		init.Candidate = v
		if mid, ok := m["sdpMid"].(string); ok {
			init.SDPMid = &mid
		}
	case map[string]any:
		o := wsMessage(v)
		init.Candidate = o.str("candidate")
		if mid, ok := o["sdpMid"].(string); ok {
			init.SDPMid = &mid
		}
		if f, ok := o["sdpMLineIndex"].(float64); ok {
			idx := uint16(f)
			init.SDPMLineIndex = &idx
		}
		if u := o.str("usernameFragment"); u != "" {
			init.UsernameFragment = &u
		}
	}
	init.Candidate = strings.TrimPrefix(init.Candidate, "a=")
	return init, init.Candidate != ""
}

func (a *browserAgent) flushRemoteCandidates() error {
	pending := a.pending
	a.pending = nil
	for _, c := range pending {
		if err := a.end.addCandidate(c); err != nil {
			return err
		}
	}
	return nil
}

// newToken returns a random callId.
func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
