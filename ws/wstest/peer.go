package wstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pion/webrtc/v4"
	"github.com/sigbridge/sigbridge/internal/pionpeer"
)

// PeerOptions choose the dialect forms a Peer uses.
type PeerOptions struct {
	// StringForms sends sdp and candidate as plain strings (the MDN prose
	// forms, candidate with sibling sdpMid/sdpMLineIndex) instead of the
	// RTCSessionDescription / RTCIceCandidate objects the MDN code sends.
	StringForms bool
	// CallID, when set, goes on every call message (extension).
	CallID string
	// EndOfCandidates sends candidate:null when gathering completes
	// (extension; the MDN page never does).
	EndOfCandidates bool
	// ICEServers are the STUN/TURN servers of the PeerConnection, e.g.
	// those the gateway sent in iceServers (see ICEServers).
	ICEServers []webrtc.ICEServer
	// RelayOnly sets ICETransportPolicyRelay: only relay candidates are
	// gathered and paired, so media flows through the TURN server.
	RelayOnly bool
}

// Peer is one MDN-sample page: a pion PeerConnection with a data channel,
// signaled through a Client. It answers every video-offer (also re-offers),
// applies answers and candidates, and sends its own candidates to the
// current target. One Peer has one call at a time, like the sample.
type Peer struct {
	Client *Client
	PC     *webrtc.PeerConnection
	opts   PeerOptions

	mu      sync.Mutex
	target  string
	sdpSent bool
	outbox  []map[string]any // candidates waiting for our SDP to go out
	pending []webrtc.ICECandidateInit
	channel *webrtc.DataChannel

	offers    atomic.Int32 // video-offers received
	connected chan struct{}
	connOnce  sync.Once
	messages  chan string
	hangups   chan Message
	errs      chan error
}

// NewPeer creates the PeerConnection (host candidates on loopback only, no
// mDNS; the ICE servers and policy of opts) for a logged-in client.
func NewPeer(c *Client, opts PeerOptions) (*Peer, error) {
	cfg := webrtc.Configuration{ICEServers: opts.ICEServers}
	if opts.RelayOnly {
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := pionpeer.NewAPI(nil).NewPeerConnection(cfg)
	if err != nil {
		return nil, fmt.Errorf("wstest: peer connection: %w", err)
	}
	p := &Peer{Client: c, PC: pc, opts: opts, connected: make(chan struct{}),
		messages: make(chan string, 64), hangups: make(chan Message, 8), errs: make(chan error, 16)}
	pc.OnICECandidate(p.onLocalCandidate)
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		if s == webrtc.ICEConnectionStateConnected {
			p.connOnce.Do(func() { close(p.connected) })
		}
	})
	pc.OnDataChannel(p.setupChannel)
	return p, nil
}

// Connected is closed when ICE reaches connected.
func (p *Peer) Connected() <-chan struct{} { return p.connected }

// Messages delivers the data channel text received from the other side.
func (p *Peer) Messages() <-chan string { return p.messages }

// HangUps delivers the hang-up messages received.
func (p *Peer) HangUps() <-chan Message { return p.hangups }

// Errors delivers signaling errors (bad SDP, refused candidates, …).
func (p *Peer) Errors() <-chan error { return p.errs }

// Close closes the PeerConnection (not the client).
func (p *Peer) Close() error { return p.PC.Close() }

// Start handles the client's call messages on a goroutine until ctx ends
// or the connection closes.
func (p *Peer) Start(ctx context.Context) {
	go func() {
		for {
			m, err := p.Client.Expect(ctx, isCallMessage)
			if err != nil {
				return
			}
			if err := p.handle(m); err != nil {
				p.report(err)
			}
		}
	}()
}

func isCallMessage(m Message) bool {
	switch m.Type() {
	case "video-offer", "video-answer", "new-ice-candidate", "hang-up":
		return true
	}
	return false
}

func (p *Peer) report(err error) {
	select {
	case p.errs <- err:
	default:
	}
}

func (p *Peer) handle(m Message) error {
	switch m.Type() {
	case "video-offer":
		return p.onOffer(m)
	case "video-answer":
		return p.onAnswer(m)
	case "new-ice-candidate":
		return p.onRemoteCandidate(m)
	case "hang-up":
		select {
		case p.hangups <- m:
		default:
		}
	}
	return nil
}

// Call creates the data channel and an offer and sends video-offer to target.
func (p *Peer) Call(_ context.Context, target string) error {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
	dc, err := p.PC.CreateDataChannel("chat", nil)
	if err != nil {
		return fmt.Errorf("wstest: data channel: %w", err)
	}
	p.setupChannel(dc)
	return p.offer()
}

// Renegotiate sends a new video-offer on the current call.
func (p *Peer) Renegotiate(_ context.Context) error { return p.offer() }

func (p *Peer) offer() error {
	offer, err := p.PC.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("wstest: create offer: %w", err)
	}
	if err := p.PC.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("wstest: set local offer: %w", err)
	}
	return p.sendSDP("video-offer")
}

// OffersReceived counts the video-offers received (first and re-offers).
func (p *Peer) OffersReceived() int { return int(p.offers.Load()) }

func (p *Peer) onOffer(m Message) error {
	p.offers.Add(1)
	desc, err := description(m, webrtc.SDPTypeOffer)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.target = m.Str("name") // the MDN page answers to msg.name
	p.mu.Unlock()
	if err := p.PC.SetRemoteDescription(desc); err != nil {
		return fmt.Errorf("wstest: set remote offer: %w", err)
	}
	if err := p.flushRemoteCandidates(); err != nil {
		return err
	}
	answer, err := p.PC.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("wstest: create answer: %w", err)
	}
	if err := p.PC.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("wstest: set local answer: %w", err)
	}
	return p.sendSDP("video-answer")
}

func (p *Peer) onAnswer(m Message) error {
	desc, err := description(m, webrtc.SDPTypeAnswer)
	if err != nil {
		return err
	}
	if err := p.PC.SetRemoteDescription(desc); err != nil {
		return fmt.Errorf("wstest: set remote answer: %w", err)
	}
	return p.flushRemoteCandidates()
}

// description reads msg.sdp in either form.
func description(m Message, typ webrtc.SDPType) (webrtc.SessionDescription, error) {
	if s, ok := m["sdp"].(string); ok {
		return webrtc.SessionDescription{Type: typ, SDP: s}, nil
	}
	o := m.Obj("sdp")
	if o == nil || o.Str("type") != typ.String() {
		return webrtc.SessionDescription{}, fmt.Errorf("wstest: %s without a %s sdp", m.Type(), typ)
	}
	return webrtc.SessionDescription{Type: typ, SDP: o.Str("sdp")}, nil
}

// sendSDP sends our local description, then the candidates held for it.
func (p *Peer) sendSDP(typ string) error {
	ld := p.PC.LocalDescription()
	var sdp any = map[string]any{"type": ld.Type.String(), "sdp": ld.SDP}
	if p.opts.StringForms {
		sdp = ld.SDP
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.Client.Send(p.callMessage(typ, map[string]any{"sdp": sdp})); err != nil {
		return err
	}
	p.sdpSent = true
	for _, c := range p.outbox {
		if err := p.Client.Send(c); err != nil {
			return err
		}
	}
	p.outbox = nil
	return nil
}

// callMessage builds a call message to the current target (p.mu held).
func (p *Peer) callMessage(typ string, fields map[string]any) map[string]any {
	m := map[string]any{"type": typ, "name": p.Client.Name, "target": p.target}
	if p.opts.CallID != "" {
		m["callId"] = p.opts.CallID
	}
	for k, v := range fields {
		m[k] = v
	}
	return m
}

func (p *Peer) onLocalCandidate(c *webrtc.ICECandidate) {
	var fields map[string]any
	switch {
	case c == nil && !p.opts.EndOfCandidates:
		return
	case c == nil:
		fields = map[string]any{"candidate": nil}
	case p.opts.StringForms:
		init := c.ToJSON()
		fields = map[string]any{"candidate": init.Candidate, "sdpMid": init.SDPMid, "sdpMLineIndex": init.SDPMLineIndex}
	default:
		fields = map[string]any{"candidate": c.ToJSON()}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	msg := p.callMessage("new-ice-candidate", fields)
	if !p.sdpSent {
		p.outbox = append(p.outbox, msg)
		return
	}
	if err := p.Client.Send(msg); err != nil {
		p.report(err)
	}
}

func (p *Peer) onRemoteCandidate(m Message) error {
	init, end, err := candidateInit(m)
	if err != nil || end {
		return err
	}
	if p.PC.RemoteDescription() == nil {
		p.mu.Lock()
		p.pending = append(p.pending, init)
		p.mu.Unlock()
		return nil
	}
	if err := p.PC.AddICECandidate(init); err != nil {
		return fmt.Errorf("wstest: add candidate: %w", err)
	}
	return nil
}

// candidateInit reads msg.candidate in either form; end is true for the
// end-of-candidates forms.
func candidateInit(m Message) (webrtc.ICECandidateInit, bool, error) {
	var init webrtc.ICECandidateInit
	switch v := m["candidate"].(type) {
	case nil:
		return init, true, nil
	case string:
		init.Candidate = v
		if mid, ok := m["sdpMid"].(string); ok {
			init.SDPMid = &mid
		}
		if f, ok := m["sdpMLineIndex"].(float64); ok {
			idx := uint16(f)
			init.SDPMLineIndex = &idx
		}
	case map[string]any:
		b, _ := json.Marshal(v)
		if err := json.Unmarshal(b, &init); err != nil {
			return init, false, fmt.Errorf("wstest: candidate: %w", err)
		}
	default:
		return init, false, errors.New("wstest: candidate of unexpected type")
	}
	return init, init.Candidate == "", nil
}

func (p *Peer) flushRemoteCandidates() error {
	p.mu.Lock()
	pending := p.pending
	p.pending = nil
	p.mu.Unlock()
	for _, c := range pending {
		if err := p.PC.AddICECandidate(c); err != nil {
			return fmt.Errorf("wstest: add candidate: %w", err)
		}
	}
	return nil
}

func (p *Peer) setupChannel(dc *webrtc.DataChannel) {
	dc.OnOpen(func() {
		if err := dc.SendText("hello from " + p.Client.Name); err != nil {
			p.report(err)
		}
	})
	dc.OnMessage(func(msg webrtc.DataChannelMessage) {
		select {
		case p.messages <- string(msg.Data):
		default:
		}
	})
	p.mu.Lock()
	p.channel = dc
	p.mu.Unlock()
}

// SendText sends text on the data channel.
func (p *Peer) SendText(text string) error {
	p.mu.Lock()
	dc := p.channel
	p.mu.Unlock()
	if dc == nil {
		return errors.New("wstest: no data channel yet")
	}
	return dc.SendText(text)
}

// ICEServers converts the iceServers list of an id or ice-servers message
// into the pion configuration form.
func ICEServers(m Message) []webrtc.ICEServer {
	list, _ := m["iceServers"].([]any)
	var out []webrtc.ICEServer
	for _, e := range list {
		s, _ := e.(map[string]any)
		var srv webrtc.ICEServer
		urls, _ := s["urls"].([]any)
		for _, u := range urls {
			if str, ok := u.(string); ok {
				srv.URLs = append(srv.URLs, str)
			}
		}
		srv.Username, _ = s["username"].(string)
		if c, ok := s["credential"].(string); ok {
			srv.Credential = c
		}
		out = append(out, srv)
	}
	return out
}

// SelectedPair returns the candidate pair ICE selected (nil before one is).
func (p *Peer) SelectedPair() (*webrtc.ICECandidatePair, error) {
	sctp := p.PC.SCTP()
	if sctp == nil {
		return nil, errors.New("wstest: no SCTP transport")
	}
	pair, err := sctp.Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil {
		return nil, fmt.Errorf("wstest: selected pair: %w", err)
	}
	return pair, nil
}
