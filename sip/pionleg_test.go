package sip

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/sip/siptest"
)

// pionLeg is a browser-dialect leg backed by a real pion peer: it trickles
// its candidates one by one and ends with EndOfCandidates (like Firefox),
// never putting them in its SDP, so calls to SIP exercise the bridge's half
// trickle. (ws/wstest will offer the same over the real WebSocket dialect.)
type pionLeg struct {
	t      *testing.T
	peer   *siptest.Peer
	events chan gateway.Event

	mu    sync.Mutex
	call  *gateway.Call
	held  []gateway.Event // candidates gathered before the call existed
	ended chan struct{}
	once  sync.Once
}

func newPionLeg(t *testing.T) *pionLeg {
	t.Helper()
	peer, err := siptest.NewPeer()
	if err != nil {
		t.Fatal(err)
	}
	l := &pionLeg{t: t, peer: peer, events: make(chan gateway.Event, 64), ended: make(chan struct{})}
	peer.PC.OnICECandidate(l.onCandidate)
	t.Cleanup(func() { _ = peer.Close() })
	return l
}

func (l *pionLeg) Kind() string       { return "test-browser" }
func (l *pionLeg) Caps() gateway.Caps { return gateway.Caps{Trickle: true, MDNS: true} }
func (l *pionLeg) Deliver(ev gateway.Event) error {
	select {
	case l.events <- ev:
	default:
	}
	return nil
}

func (l *pionLeg) onCandidate(c *webrtc.ICECandidate) {
	var ev gateway.Event = gateway.EndOfCandidates{}
	if c != nil {
		init := c.ToJSON()
		ev = gateway.Candidate{Mid: *init.SDPMid, MLineIndex: int(*init.SDPMLineIndex), Line: init.Candidate}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.call == nil {
		l.held = append(l.held, ev)
		return
	}
	_ = l.call.Post(l, ev)
}

// attach sets the call and posts the candidates gathered so far.
func (l *pionLeg) attach(call *gateway.Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.call = call
	for _, ev := range l.held {
		_ = call.Post(l, ev)
	}
	l.held = nil
}

// serve applies what the bridge delivers: the answer (as caller) or the
// offer (as callee, answering with a candidate-less SDP, then trickling).
func (l *pionLeg) serve(ctx context.Context) {
	for {
		select {
		case ev := <-l.events:
			if !l.apply(ctx, ev) {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

func (l *pionLeg) apply(ctx context.Context, ev gateway.Event) bool {
	switch e := ev.(type) {
	case gateway.Answer:
		if err := l.peer.SetAnswer(gateway.MarshalSDP(e.SDP)); err != nil {
			l.t.Errorf("pion leg: answer: %v", err)
		}
	case gateway.Offer:
		l.answer(ctx, e)
	case gateway.Hangup:
		l.once.Do(func() { close(l.ended) })
		return false
	}
	return true
}

func (l *pionLeg) answer(ctx context.Context, e gateway.Offer) {
	ans, err := l.peer.Answer(ctx, gateway.MarshalSDP(e.SDP), false)
	if err != nil {
		l.t.Errorf("pion leg: answer: %v", err)
		return
	}
	sd, err := gateway.ParseSDP(ans)
	if err != nil {
		l.t.Errorf("pion leg: own answer: %v", err)
		return
	}
	l.mu.Lock()
	call := l.call
	l.mu.Unlock()
	_ = call.Post(l, gateway.Answer{SDP: sd})
}

// waitMedia waits until this peer is ICE-connected and has received packets.
func waitMedia(t *testing.T, name string, p *siptest.Peer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.WaitMedia(ctx, 25); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}
