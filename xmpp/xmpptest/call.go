package xmpptest

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"sync"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Call is one Jingle session of a Client with a pion Peer behind it. It
// trickles the peer's candidates as transport-info, applies the remote
// ones, and records the session-terminate.
type Call struct {
	Client *Client
	SID    string
	Remote jid.JID // the other party
	Role   jingle.Role
	Media  *Peer
	// Ringing is closed when a session-info <ringing/> arrives.
	Ringing chan struct{}

	mids      *jingle.MidTable
	done      chan struct{}
	reason    *jingle.Reason // set before done is closed
	accepted  chan struct{}
	acceptErr error
	once      sync.Once
	ringMu    sync.Once
	cancel    context.CancelFunc

	// sigMu orders our own signaling: trickled candidates wait while an
	// ICE restart offer is being sent (Conversations sends candidates of
	// a new generation only after the restart IQ was acknowledged).
	sigMu sync.Mutex
	// rmu guards the renegotiation state below and the received log.
	rmu         sync.Mutex
	remoteSetup string // the remote's DTLS role once established
	restarting  bool   // our restart offer waits for the remote's credentials
	manualICE   bool   // remote restart offers are recorded, not answered
	received    []*jingle.Jingle
	recvChanged chan struct{}
}

// CallOptions tune Client.Call.
type CallOptions struct {
	NoJMI bool     // send session-initiate directly, without propose
	Media []string // JMI media, default audio
	// Target names the call target in the propose (sigbridge's
	// <target xmlns='urn:xmpp:sigbridge:0'/>, used in client mode).
	Target string
	// G711 makes the caller's audio track PCMU instead of Opus (a call to
	// a plain-RTP phone through rtpengine; codecs pass through).
	G711 bool
}

// ErrRejected is returned by Call when the callee rejected the proposal.
var ErrRejected = errors.New("xmpptest: proposal rejected")

// Call calls to (a bare JID) the XEP-0353 way: propose, wait for proceed,
// session-initiate with the peer's offer to the device that proceeded, then
// wait for session-accept. It returns once the answer is applied.
func (c *Client) Call(ctx context.Context, to jid.JID, opt CallOptions) (*Call, error) {
	newPeer := NewPeer
	if opt.G711 {
		newPeer = NewG711Peer
	}
	call, err := c.newCallWith(randomID(), to, jingle.Initiator, newPeer)
	if err != nil {
		return nil, err
	}
	if !opt.NoJMI {
		if call.Remote, err = c.propose(ctx, to, call.SID, opt); err != nil {
			call.Media.Close()
			return nil, err
		}
	}
	if err := call.initiate(ctx); err != nil {
		call.Media.Close()
		return nil, err
	}
	return call, call.awaitAccept(ctx)
}

func (c *Client) newCall(sid string, remote jid.JID, role jingle.Role) (*Call, error) {
	return c.newCallWith(sid, remote, role, NewPeer)
}

func (c *Client) newCallWith(sid string, remote jid.JID, role jingle.Role, newPeer func() (*Peer, error)) (*Call, error) {
	p, err := newPeer()
	if err != nil {
		return nil, err
	}
	return &Call{Client: c, SID: sid, Remote: remote, Role: role, Media: p, mids: jingle.NewMidTable(),
		done: make(chan struct{}), Ringing: make(chan struct{}), accepted: make(chan struct{}),
		recvChanged: make(chan struct{})}, nil
}

// propose sends a JMI propose and waits for proceed (or reject).
func (c *Client) propose(ctx context.Context, to jid.JID, sid string, opt CallOptions) (jid.JID, error) {
	media := opt.Media
	if len(media) == 0 {
		media = []string{"audio"}
	}
	if err := c.sendJMI(ctx, to.Bare(), "propose", sid, "", opt.Target, media...); err != nil {
		return jid.JID{}, err
	}
	ev, err := c.Expect(ctx, func(e Event) bool {
		return e.JMI != nil && e.JMI.ID == sid && (e.JMI.Name == "proceed" || e.JMI.Name == "reject")
	})
	if err != nil {
		return jid.JID{}, fmt.Errorf("xmpptest: waiting for proceed: %w", err)
	}
	if ev.JMI.Name == "reject" {
		return jid.JID{}, fmt.Errorf("%w: %s", ErrRejected, ev.JMI.Reason)
	}
	return ev.From, nil
}

// SendJMI sends one JMI element (type chat, store hint). reason is the
// Jingle condition of a reject/retract/finish; media lists descriptions of
// a propose.
func (c *Client) SendJMI(ctx context.Context, to jid.JID, name, id, reason string, media ...string) error {
	return c.sendJMI(ctx, to, name, id, reason, "", media...)
}

func (c *Client) sendJMI(ctx context.Context, to jid.JID, name, id, reason, target string, media ...string) error {
	el := struct {
		XMLName xml.Name
		ID      string `xml:"id,attr"`
		Descs   []struct {
			XMLName xml.Name `xml:"urn:xmpp:jingle:apps:rtp:1 description"`
			Media   string   `xml:"media,attr"`
		}
		Reason *jingle.Reason `xml:"urn:xmpp:jingle:1 reason,omitempty"`
		Target string         `xml:"urn:xmpp:sigbridge:0 target,omitempty"`
	}{XMLName: xml.Name{Space: jingle.NSJingleMessage, Local: name}, ID: id, Target: target}
	for _, m := range media {
		el.Descs = append(el.Descs, struct {
			XMLName xml.Name `xml:"urn:xmpp:jingle:apps:rtp:1 description"`
			Media   string   `xml:"media,attr"`
		}{Media: m})
	}
	if reason != "" {
		el.Reason = jingle.NewReason(reason, "")
	}
	b, err := xml.Marshal(el)
	if err != nil {
		return err
	}
	msg := stanza.Message{ID: randomID(), To: to, Type: stanza.ChatMessage}
	return c.w.Send(ctx, msg.Wrap(xmlstream.MultiReader(xml.NewDecoder(bytes.NewReader(b)),
		xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: "urn:xmpp:hints", Local: "store"}}))))
}

// initiate sends session-initiate with the peer's offer.
func (call *Call) initiate(ctx context.Context) error {
	offer, err := call.Media.Offer()
	if err != nil {
		return err
	}
	j, err := call.toJingle(offer, jingle.Initiator)
	if err != nil {
		return err
	}
	j.Action, j.SID, j.Initiator = jingle.ActionSessionInitiate, call.SID, call.Client.JID.String()
	if err := call.Client.SendJingle(ctx, call.Remote, j); err != nil {
		return fmt.Errorf("xmpptest: session-initiate: %w", err)
	}
	call.start()
	return nil
}

func (call *Call) toJingle(s string, author jingle.Role) (*jingle.Jingle, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(s); err != nil {
		return nil, err
	}
	return jingle.SDPToJingle(&sd, author, jingle.SDPToJingleOptions{Mids: call.mids})
}

func (call *Call) toSDP(j *jingle.Jingle, author jingle.Role) (string, error) {
	sd, err := jingle.JingleToSDP(j, author, jingle.JingleToSDPOptions{Mids: call.mids})
	if err != nil {
		return "", err
	}
	b, err := sd.Marshal()
	return string(b), err
}

// awaitAccept waits until the receive loop applied session-accept, or the
// session ended first.
func (call *Call) awaitAccept(ctx context.Context) error {
	select {
	case <-call.accepted:
		return call.acceptErr
	case <-call.done:
		if call.reason != nil {
			return fmt.Errorf("%w: %s", ErrTerminated, call.reason.Condition)
		}
		return ErrTerminated
	case <-ctx.Done():
		return fmt.Errorf("xmpptest: waiting for session-accept: %w", ctx.Err())
	}
}

// ErrTerminated is returned by Call when the session ended unanswered.
var ErrTerminated = errors.New("xmpptest: session terminated")

func (call *Call) onAccept(j *jingle.Jingle) {
	answer, err := call.toSDP(j, jingle.Responder)
	if err == nil {
		err = call.Media.SetAnswer(answer)
	}
	if err == nil {
		call.setRemoteSetup(answer, "")
	}
	call.acceptErr = err
	close(call.accepted)
}

// setRemoteSetup records the remote's DTLS role from its SDP, or, when it
// offered actpass, from our answer.
func (call *Call) setRemoteSetup(remote, localAnswer string) {
	role := sdpSetup(remote)
	if role == "" || role == "actpass" {
		role = "passive"
		if sdpSetup(localAnswer) == "passive" {
			role = "active"
		}
	}
	call.rmu.Lock()
	call.remoteSetup = role
	call.rmu.Unlock()
}

func sdpSetup(s string) string {
	var sd sdp.SessionDescription
	if sd.UnmarshalString(s) != nil {
		return ""
	}
	if v, ok := sd.Attribute("setup"); ok {
		return v
	}
	for _, m := range sd.MediaDescriptions {
		if v, ok := m.Attribute("setup"); ok {
			return v
		}
	}
	return ""
}

func (call *Call) match(actions ...jingle.Action) func(Event) bool {
	return func(e Event) bool {
		if e.Jingle == nil || e.Jingle.SID != call.SID || e.Type != "set" {
			return false
		}
		for _, a := range actions {
			if e.Jingle.Action == a {
				return true
			}
		}
		return false
	}
}

// Answer waits for an incoming call (JMI propose, then session-initiate),
// proceeds and answers it with a new Peer.
func (c *Client) Answer(ctx context.Context) (*Call, error) {
	ev, err := c.Expect(ctx, func(e Event) bool { return e.JMI != nil && e.JMI.Name == "propose" })
	if err != nil {
		return nil, fmt.Errorf("xmpptest: waiting for propose: %w", err)
	}
	if err := c.SendJMI(ctx, ev.From, "proceed", ev.JMI.ID, ""); err != nil {
		return nil, err
	}
	call, err := c.newCall(ev.JMI.ID, ev.From, jingle.Responder)
	if err != nil {
		return nil, err
	}
	if err := call.accept(ctx); err != nil {
		call.Media.Close()
		return nil, err
	}
	return call, nil
}

// Reject waits for a JMI propose and rejects it with reason.
func (c *Client) Reject(ctx context.Context, reason string) (JMI, error) {
	ev, err := c.Expect(ctx, func(e Event) bool { return e.JMI != nil && e.JMI.Name == "propose" })
	if err != nil {
		return JMI{}, err
	}
	return *ev.JMI, c.SendJMI(ctx, ev.From, "reject", ev.JMI.ID, reason)
}

func (call *Call) accept(ctx context.Context) error {
	ev, err := call.Client.Expect(ctx, call.match(jingle.ActionSessionInitiate))
	if err != nil {
		return fmt.Errorf("xmpptest: waiting for session-initiate: %w", err)
	}
	return call.acceptEvent(ctx, ev)
}

// acceptEvent answers the session-initiate ev.
func (call *Call) acceptEvent(ctx context.Context, ev Event) error {
	call.Remote = ev.From
	offer, err := call.toSDP(ev.Jingle, jingle.Initiator)
	if err != nil {
		return err
	}
	answer, err := call.Media.Answer(offer)
	if err != nil {
		return err
	}
	j, err := call.toJingle(answer, jingle.Responder)
	if err != nil {
		return err
	}
	j.Action, j.SID, j.Responder = jingle.ActionSessionAccept, call.SID, call.Client.JID.String()
	if err := call.Client.SendJingle(ctx, call.Remote, j); err != nil {
		return fmt.Errorf("xmpptest: session-accept: %w", err)
	}
	call.setRemoteSetup(offer, answer)
	call.start()
	return nil
}

// start runs the trickle loops until the session ends.
func (call *Call) start() {
	ctx, cancel := context.WithCancel(context.Background())
	call.cancel = cancel
	go call.sendCandidates(ctx)
	go call.receive(ctx)
}

func (call *Call) sendCandidates(ctx context.Context) {
	for {
		select {
		case c := <-call.Media.Candidates():
			call.sigMu.Lock()
			_ = call.sendCandidate(ctx, c)
			call.sigMu.Unlock()
		case <-ctx.Done():
			return
		}
	}
}

func (call *Call) sendCandidate(ctx context.Context, c webrtc.ICECandidateInit) error {
	cand, err := jingle.CandidateFromSDP(c.Candidate)
	if err != nil {
		return err
	}
	mid, idx := "", -1
	if c.SDPMid != nil {
		mid = *c.SDPMid
	}
	if c.SDPMLineIndex != nil {
		idx = int(*c.SDPMLineIndex)
	}
	name, ok := call.mids.ContentForCandidate(mid, idx)
	if !ok {
		return fmt.Errorf("xmpptest: no content for mid %q", mid)
	}
	ufrag, pwd := call.localCredentials()
	if cand.Ufrag != "" && cand.Ufrag != ufrag {
		return fmt.Errorf("xmpptest: candidate of ICE generation %s, local description has %s", cand.Ufrag, ufrag)
	}
	cand.Ufrag = ""
	j := &jingle.Jingle{Action: jingle.ActionTransportInfo, SID: call.SID, Contents: []jingle.Content{{
		Creator: jingle.CreatorInitiator, Name: name,
		Transport: &jingle.Transport{Ufrag: ufrag, Pwd: pwd, Candidates: []jingle.Candidate{cand}},
	}}}
	return call.Client.SendJingle(ctx, call.Remote, j)
}

func (call *Call) localCredentials() (string, string) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(call.Media.PC.LocalDescription().SDP); err != nil || len(sd.MediaDescriptions) == 0 {
		return "", ""
	}
	u, _ := sd.MediaDescriptions[0].Attribute("ice-ufrag")
	p, _ := sd.MediaDescriptions[0].Attribute("ice-pwd")
	return u, p
}

func (call *Call) receive(ctx context.Context) {
	for {
		ev, err := call.Client.Expect(ctx, call.match(jingle.ActionTransportInfo, jingle.ActionSessionTerminate,
			jingle.ActionSessionInfo, jingle.ActionSessionAccept, jingle.ActionContentModify,
			jingle.ActionContentAdd, jingle.ActionContentAccept, jingle.ActionContentReject,
			jingle.ActionContentRemove, jingle.ActionDescriptionInfo))
		if err != nil {
			call.finish(nil)
			return
		}
		if ev.Jingle.Action != jingle.ActionSessionAccept && ev.Jingle.Action != jingle.ActionSessionTerminate {
			call.record(ev.Jingle)
		}
		switch ev.Jingle.Action {
		case jingle.ActionSessionAccept:
			if call.Role == jingle.Initiator {
				call.onAccept(ev.Jingle)
			}
		case jingle.ActionTransportInfo:
			call.addRemote(ev.Jingle)
		case jingle.ActionSessionInfo:
			if ev.Jingle.Info != nil && ev.Jingle.Info.Kind() == jingle.InfoRinging {
				call.ringMu.Do(func() { close(call.Ringing) })
			}
		case jingle.ActionSessionTerminate:
			r := ev.Jingle.Reason
			if r == nil {
				r = &jingle.Reason{}
			}
			call.finish(r)
			return
		}
	}
}

func (call *Call) addRemote(j *jingle.Jingle) {
	call.checkRestart(j)
	for _, c := range j.Contents {
		if c.Transport == nil {
			continue
		}
		mid, _ := call.mids.MidForName(c.Name)
		idx, _ := call.mids.IndexForName(c.Name)
		for _, cand := range c.Transport.Candidates {
			_ = call.Media.AddCandidate(cand.SDPLine(c.Transport.Ufrag), mid, uint16(idx))
		}
	}
}

func (call *Call) finish(r *jingle.Reason) {
	call.once.Do(func() {
		call.reason = r
		close(call.done)
		if call.cancel != nil {
			call.cancel()
		}
		call.Media.Close()
	})
}

// Ended delivers the session-terminate reason (nil if the call ended
// otherwise) once the call is over.
func (call *Call) Ended() <-chan *jingle.Reason {
	ch := make(chan *jingle.Reason, 1)
	go func() {
		<-call.done
		ch <- call.reason
	}()
	return ch
}

// Hangup sends session-terminate with reason (a Jingle condition) and
// closes the media.
func (call *Call) Hangup(ctx context.Context, reason string) error {
	j := &jingle.Jingle{Action: jingle.ActionSessionTerminate, SID: call.SID, Reason: jingle.NewReason(reason, "")}
	err := call.Client.SendJingle(ctx, call.Remote, j)
	call.finish(nil)
	return err
}

// Close stops the call's loops and media without signaling.
func (call *Call) Close() { call.finish(nil) }
