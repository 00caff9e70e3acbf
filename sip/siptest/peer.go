package siptest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/sigbridge/sigbridge/internal/pionpeer"
)

// Peer is a pion/webrtc PeerConnection on loopback (interface "lo" only,
// loopback candidates included, mDNS off, UDP4) with one sendrecv Opus
// track. Once ICE is connected it sends an RTP packet every 20 ms and counts
// the packets it receives: a call "works" when both peers count packets.
// As offerer it also opens a data channel; on any data channel it sends
// "hello from siptest" and queues what it receives (Messages), like the
// browser-dialect test peers (ws/wstest) do.
type Peer struct {
	PC *webrtc.PeerConnection

	track     *webrtc.TrackLocalStaticRTP
	messages  chan string
	dcOnce    sync.Once
	connected chan struct{}
	connOnce  sync.Once
	received  atomic.Int64
	stop      chan struct{}
	stopOnce  sync.Once
}

// NewPeer creates a loopback peer with its audio track.
func NewPeer() (*Peer, error) {
	pc, err := pionpeer.NewPeerConnection(nil)
	if err != nil {
		return nil, fmt.Errorf("siptest: %w", err)
	}
	p := &Peer{PC: pc, connected: make(chan struct{}), stop: make(chan struct{}), messages: make(chan string, 16)}
	if err := p.addTrack(); err != nil {
		_ = pc.Close()
		return nil, err
	}
	pc.OnICEConnectionStateChange(p.onICEState)
	pc.OnTrack(p.onTrack)
	pc.OnDataChannel(p.setupChannel)
	return p, nil
}

func (p *Peer) setupChannel(dc *webrtc.DataChannel) {
	dc.OnOpen(func() { _ = dc.SendText("hello from siptest") })
	dc.OnMessage(func(msg webrtc.DataChannelMessage) {
		select {
		case p.messages <- string(msg.Data):
		default:
		}
	})
}

// Messages delivers the data channel texts received.
func (p *Peer) Messages() <-chan string { return p.messages }

func (p *Peer) addTrack() error {
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus,
		ClockRate: 48000, Channels: 2}, "audio", "siptest")
	if err != nil {
		return fmt.Errorf("siptest: track: %w", err)
	}
	if _, err := p.PC.AddTransceiverFromTrack(track,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		return fmt.Errorf("siptest: transceiver: %w", err)
	}
	p.track = track
	return nil
}

func (p *Peer) onICEState(s webrtc.ICEConnectionState) {
	if s == webrtc.ICEConnectionStateConnected {
		p.connOnce.Do(func() {
			close(p.connected)
			go p.send()
		})
	}
}

func (p *Peer) onTrack(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	for {
		if _, _, err := tr.ReadRTP(); err != nil {
			return
		}
		p.received.Add(1)
	}
}

// send writes a 20 ms Opus-sized RTP packet until Close.
func (p *Peer) send() {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	payload := make([]byte, 40)
	_, _ = rand.Read(payload)
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111}, Payload: payload}
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
			pkt.SequenceNumber++
			pkt.Timestamp += 960
			_ = p.track.WriteRTP(pkt)
		}
	}
}

// Received is the number of RTP packets received so far.
func (p *Peer) Received() int64 { return p.received.Load() }

// Connected is closed once ICE is connected.
func (p *Peer) Connected() <-chan struct{} { return p.connected }

// WaitMedia waits for ICE connected and n received RTP packets.
func (p *Peer) WaitMedia(ctx context.Context, n int64) error {
	select {
	case <-p.connected:
	case <-ctx.Done():
		return fmt.Errorf("siptest: ICE not connected (state %s): %w", p.PC.ICEConnectionState(), ctx.Err())
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for p.Received() < n {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("siptest: %d of %d packets received: %w", p.Received(), n, ctx.Err())
		}
	}
	return nil
}

// Offer creates an offer and sets it as the local description; with
// complete it waits for gathering to end so the SDP carries all candidates.
func (p *Peer) Offer(ctx context.Context, complete bool) (string, error) {
	var dcErr error
	p.dcOnce.Do(func() {
		var dc *webrtc.DataChannel
		if dc, dcErr = p.PC.CreateDataChannel("siptest", nil); dcErr == nil {
			p.setupChannel(dc)
		}
	})
	if dcErr != nil {
		return "", fmt.Errorf("siptest: data channel: %w", dcErr)
	}
	offer, err := p.PC.CreateOffer(nil)
	if err != nil {
		return "", fmt.Errorf("siptest: offer: %w", err)
	}
	return p.setLocal(ctx, offer, complete)
}

// Answer applies the remote offer and returns the local answer (complete:
// after gathering).
func (p *Peer) Answer(ctx context.Context, offer string, complete bool) (string, error) {
	if err := p.PC.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("siptest: remote offer: %w", err)
	}
	answer, err := p.PC.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("siptest: answer: %w", err)
	}
	return p.setLocal(ctx, answer, complete)
}

// SetAnswer applies the remote answer.
func (p *Peer) SetAnswer(answer string) error {
	return p.PC.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer})
}

func (p *Peer) setLocal(ctx context.Context, sd webrtc.SessionDescription, complete bool) (string, error) {
	var gathered <-chan struct{}
	if complete {
		gathered = webrtc.GatheringCompletePromise(p.PC)
	}
	if err := p.PC.SetLocalDescription(sd); err != nil {
		return "", fmt.Errorf("siptest: local description: %w", err)
	}
	if complete {
		select {
		case <-gathered:
		case <-ctx.Done():
			return "", errors.New("siptest: gathering did not complete")
		}
		return p.PC.LocalDescription().SDP, nil
	}
	return sd.SDP, nil
}

// Close stops sending and closes the peer connection.
func (p *Peer) Close() error {
	p.stopOnce.Do(func() { close(p.stop) })
	return p.PC.Close()
}
