package xmpptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/sigbridge/sigbridge/internal/pionpeer"
)

// Peer is a real media endpoint: a pion PeerConnection with one Opus audio
// track that sends a packet every 20 ms once ICE is connected and counts
// the packets it receives. It gathers host candidates on loopback only, with
// mDNS disabled, and trickles them (Candidates).
type Peer struct {
	PC *webrtc.PeerConnection

	track      *webrtc.TrackLocalStaticSample
	frame      []byte // one 20 ms frame of silence in the track's codec
	connected  chan struct{}
	connOnce   sync.Once
	conns      atomic.Int64 // times ICE reached connected
	received   atomic.Int64
	candidates chan webrtc.ICECandidateInit
	done       chan struct{}
	closeOnce  sync.Once

	mu      sync.Mutex
	remote  bool
	pending []webrtc.ICECandidateInit
}

// NewPeer returns a peer with its audio track added (not yet sending).
func NewPeer() (*Peer, error) {
	return newPeer(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		[]byte{0xf8, 0xff, 0xfe}) // an Opus silence frame
}

// NewG711Peer is NewPeer whose track is G.711 µ-law (PCMU): what a
// plain-RTP phone without Opus can take (calls anchored in rtpengine).
func NewG711Peer() (*Peer, error) {
	return newPeer(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1},
		bytes.Repeat([]byte{0xff}, 160)) // 20 ms of µ-law silence
}

func newPeer(codec webrtc.RTPCodecCapability, frame []byte) (*Peer, error) {
	pc, err := pionpeer.NewPeerConnection(nil)
	if err != nil {
		return nil, fmt.Errorf("xmpptest: %w", err)
	}
	track, err := webrtc.NewTrackLocalStaticSample(codec, "audio", "xmpptest")
	if err != nil {
		return nil, err
	}
	if _, err := pc.AddTrack(track); err != nil {
		return nil, err
	}
	p := &Peer{PC: pc, track: track, frame: frame, connected: make(chan struct{}), done: make(chan struct{}),
		candidates: make(chan webrtc.ICECandidateInit, 64)}
	pc.OnICEConnectionStateChange(p.onState)
	pc.OnICECandidate(p.onCandidate)
	pc.OnTrack(p.onTrack)
	go p.send()
	return p, nil
}

func (p *Peer) onState(s webrtc.ICEConnectionState) {
	if s == webrtc.ICEConnectionStateConnected {
		p.conns.Add(1)
		p.connOnce.Do(func() { close(p.connected) })
	}
}

// Connections is the number of times ICE reached connected (an ICE restart
// goes through checking to connected again).
func (p *Peer) Connections() int64 { return p.conns.Load() }

// WaitConnections waits until ICE reached connected n times in all.
func (p *Peer) WaitConnections(ctx context.Context, n int64) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for p.Connections() < n {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("xmpptest: ICE connected %d of %d times: %w", p.Connections(), n, ctx.Err())
		}
	}
	return nil
}

// WaitMore waits until n more packets than from arrived.
func (p *Peer) WaitMore(ctx context.Context, from, n int64) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for p.Received() < from+n {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("xmpptest: %d of %d more packets: %w", p.Received()-from, n, ctx.Err())
		}
	}
	return nil
}

func (p *Peer) onCandidate(c *webrtc.ICECandidate) {
	if c == nil {
		return // gathering complete: Jingle has no end-of-candidates
	}
	select {
	case p.candidates <- c.ToJSON():
	case <-p.done:
	}
}

func (p *Peer) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	go func() {
		for {
			if _, _, err := t.ReadRTP(); err != nil {
				return
			}
			p.received.Add(1)
		}
	}()
}

// send writes one 20 ms frame (silence) every 20 ms while connected.
func (p *Peer) send() {
	select {
	case <-p.connected:
	case <-p.done:
		return
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			_ = p.track.WriteSample(media.Sample{Data: p.frame, Duration: 20 * time.Millisecond})
		case <-p.done:
			return
		}
	}
}

// Candidates delivers the local candidates as they are gathered.
func (p *Peer) Candidates() <-chan webrtc.ICECandidateInit { return p.candidates }

// Connected is closed when ICE reaches connected.
func (p *Peer) Connected() <-chan struct{} { return p.connected }

// Received is the number of RTP packets received so far.
func (p *Peer) Received() int64 { return p.received.Load() }

// Offer creates an offer, sets it as local description and returns it.
func (p *Peer) Offer() (string, error) {
	o, err := p.PC.CreateOffer(nil)
	if err == nil {
		err = p.PC.SetLocalDescription(o)
	}
	return o.SDP, err
}

// Answer applies a remote offer and returns the local answer.
func (p *Peer) Answer(offer string) (string, error) {
	if err := p.setRemote(webrtc.SDPTypeOffer, offer); err != nil {
		return "", err
	}
	a, err := p.PC.CreateAnswer(nil)
	if err == nil {
		err = p.PC.SetLocalDescription(a)
	}
	return a.SDP, err
}

// SetAnswer applies the remote answer.
func (p *Peer) SetAnswer(answer string) error { return p.setRemote(webrtc.SDPTypeAnswer, answer) }

func (p *Peer) setRemote(typ webrtc.SDPType, s string) error {
	if err := p.PC.SetRemoteDescription(webrtc.SessionDescription{Type: typ, SDP: s}); err != nil {
		return fmt.Errorf("xmpptest: set remote %s: %w", typ, err)
	}
	p.mu.Lock()
	p.remote = true
	pending := p.pending
	p.pending = nil
	p.mu.Unlock()
	for _, c := range pending {
		if err := p.PC.AddICECandidate(c); err != nil {
			return err
		}
	}
	return nil
}

// AddCandidate adds a remote candidate ("candidate:..."), holding it until
// the remote description is known.
func (p *Peer) AddCandidate(line, mid string, index uint16) error {
	c := webrtc.ICECandidateInit{Candidate: line, SDPMid: &mid, SDPMLineIndex: &index}
	p.mu.Lock()
	if !p.remote {
		p.pending = append(p.pending, c)
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	return p.PC.AddICECandidate(c)
}

// WaitMedia waits until ICE is connected and at least n packets arrived.
func (p *Peer) WaitMedia(ctx context.Context, n int64) error {
	select {
	case <-p.connected:
	case <-ctx.Done():
		return fmt.Errorf("xmpptest: ICE not connected: %w", ctx.Err())
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for p.Received() < n {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("xmpptest: %d of %d packets received: %w", p.Received(), n, ctx.Err())
		}
	}
	return nil
}

// Close stops sending and closes the PeerConnection.
func (p *Peer) Close() error {
	err := errors.New("already closed")
	p.closeOnce.Do(func() {
		close(p.done)
		err = p.PC.Close()
	})
	return err
}
