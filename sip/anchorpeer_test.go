package sip

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/sigbridge/sigbridge/internal/pionpeer"
	"github.com/sigbridge/sigbridge/ws/wstest"
)

// audioBrowser is a browser-dialect client (MDN signaling over the real
// WebSocket adapter, trickled candidates) whose PeerConnection carries one
// G.711 audio track instead of a data channel: what a softphone page sends
// a plain-RTP phone. It sends a 20 ms PCMU packet every 20 ms and counts
// the RTP packets it receives.
type audioBrowser struct {
	c     *wstest.Client
	pc    *webrtc.PeerConnection
	track *webrtc.TrackLocalStaticRTP
	t     *testing.T

	mu       sync.Mutex
	target   string
	sdpSent  bool
	outbox   []map[string]any
	pending  []webrtc.ICECandidateInit
	offers   []string // video-offers received
	answers  chan string
	hangups  chan wstest.Message
	received atomic.Int64
	sent     atomic.Int64
	conn     chan struct{}
	connOnce sync.Once
}

func (e *wsEnv) audioBrowser(ctx context.Context, t *testing.T, name string) *audioBrowser {
	t.Helper()
	c, _, err := wstest.Dial(ctx, e.wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Login(ctx, name, nil); err != nil {
		t.Fatal(err)
	}
	api, err := pionpeer.NewTelephonyAPI(nil)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, "audio", name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	b := &audioBrowser{c: c, pc: pc, track: track, t: t, answers: make(chan string, 8),
		hangups: make(chan wstest.Message, 4), conn: make(chan struct{})}
	pc.OnICECandidate(b.onLocalCandidate)
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		if s == webrtc.ICEConnectionStateConnected {
			b.connOnce.Do(func() { close(b.conn) })
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			b.received.Add(1)
		}
	})
	go b.loop(ctx)
	go b.sendAudio(ctx)
	return b
}

func (b *audioBrowser) loop(ctx context.Context) {
	for {
		m, err := b.c.Expect(ctx, func(m wstest.Message) bool {
			switch m.Type() {
			case "video-offer", "video-answer", "new-ice-candidate", "hang-up":
				return true
			}
			return false
		})
		if err != nil {
			return
		}
		if err := b.handle(m); err != nil {
			b.t.Logf("audio browser: %v", err)
		}
	}
}

func (b *audioBrowser) handle(m wstest.Message) error {
	switch m.Type() {
	case "video-offer":
		sdp := m.Obj("sdp").Str("sdp")
		b.mu.Lock()
		b.target = m.Str("name")
		b.offers = append(b.offers, sdp)
		b.mu.Unlock()
		if err := b.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
			return err
		}
		b.flush()
		answer, err := b.pc.CreateAnswer(nil)
		if err != nil {
			return err
		}
		if err := b.pc.SetLocalDescription(answer); err != nil {
			return err
		}
		return b.sendSDP("video-answer", b.pc.LocalDescription().SDP)
	case "video-answer":
		sdp := m.Obj("sdp").Str("sdp")
		if err := b.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
			return err
		}
		b.flush()
		b.answers <- sdp
	case "new-ice-candidate":
		o := m.Obj("candidate")
		if o == nil || o.Str("candidate") == "" {
			return nil
		}
		mid := o.Str("sdpMid")
		init := webrtc.ICECandidateInit{Candidate: o.Str("candidate"), SDPMid: &mid}
		if b.pc.RemoteDescription() == nil {
			b.mu.Lock()
			b.pending = append(b.pending, init)
			b.mu.Unlock()
			return nil
		}
		return b.pc.AddICECandidate(init)
	case "hang-up":
		b.hangups <- m
	}
	return nil
}

func (b *audioBrowser) flush() {
	b.mu.Lock()
	p := b.pending
	b.pending = nil
	b.mu.Unlock()
	for _, c := range p {
		_ = b.pc.AddICECandidate(c)
	}
}

func (b *audioBrowser) onLocalCandidate(c *webrtc.ICECandidate) {
	if c == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	msg := map[string]any{"type": "new-ice-candidate", "name": b.c.Name, "target": b.target, "candidate": c.ToJSON()}
	if !b.sdpSent {
		b.outbox = append(b.outbox, msg)
		return
	}
	_ = b.c.Send(msg)
}

func (b *audioBrowser) sendSDP(typ, sdp string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	kind := "offer"
	if typ == "video-answer" {
		kind = "answer"
	}
	err := b.c.Send(map[string]any{"type": typ, "name": b.c.Name, "target": b.target,
		"sdp": map[string]any{"type": kind, "sdp": sdp}})
	b.sdpSent = true
	for _, m := range b.outbox {
		_ = b.c.Send(m)
	}
	b.outbox = nil
	return err
}

// call sends a video-offer to target.
func (b *audioBrowser) call(target string) error {
	b.mu.Lock()
	b.target = target
	b.mu.Unlock()
	return b.offer("")
}

// offer sends a (re-)offer; dir, when set, replaces a=sendrecv in what is
// sent (hold: "sendonly").
func (b *audioBrowser) offer(dir string) error {
	o, err := b.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := b.pc.SetLocalDescription(o); err != nil {
		return err
	}
	sdp := b.pc.LocalDescription().SDP
	if dir != "" {
		sdp = strings.ReplaceAll(sdp, "a=sendrecv", "a="+dir)
	}
	return b.sendSDP("video-offer", sdp)
}

// reoffer sends a re-offer and waits for its answer.
func (b *audioBrowser) reoffer(ctx context.Context, dir string) (string, error) {
	for len(b.answers) > 0 {
		<-b.answers // the first call's answer
	}
	if err := b.offer(dir); err != nil {
		return "", err
	}
	select {
	case a := <-b.answers:
		return a, nil
	case <-ctx.Done():
		return "", errors.New("no answer to the re-offer")
	}
}

func (b *audioBrowser) hangUp() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.c.Send(map[string]any{"type": "hang-up", "name": b.c.Name, "target": b.target})
}

func (b *audioBrowser) sendDTMF(digits string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.c.Send(map[string]any{"type": "dtmf", "name": b.c.Name, "target": b.target, "digits": digits, "duration": 120})
}

func (b *audioBrowser) offersReceived() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.offers...)
}

func (b *audioBrowser) sendAudio(ctx context.Context) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 0xb10b}, Payload: make([]byte, 160)}
	for i := range p.Payload {
		p.Payload[i] = 0xff
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.SequenceNumber++
		p.Timestamp += 160
		if err := b.track.WriteRTP(&p); err == nil {
			b.sent.Add(1)
		}
	}
}

func (b *audioBrowser) connected(ctx context.Context, t *testing.T) {
	t.Helper()
	select {
	case <-b.conn:
	case <-ctx.Done():
		t.Fatal("browser ICE did not connect")
	}
}

func (b *audioBrowser) hangup(ctx context.Context, t *testing.T) wstest.Message {
	t.Helper()
	select {
	case m := <-b.hangups:
		return m
	case <-ctx.Done():
		t.Fatal("browser got no hang-up")
		return nil
	}
}
