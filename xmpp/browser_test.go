package xmpp

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/xmpptest"
)

// browserDir stands in for the browser adapter: a gateway.Dialer for user
// names whose legs drive a pion Peer the way a browser page would (trickle,
// mDNS capable). ws/wstest is not used here: its Peer offers a data channel
// only, and a call to an XMPP user needs audio or video to propose.
type browserDir struct {
	t      *testing.T
	mu     sync.Mutex
	online map[string]legBehavior
	legs   chan *browserLeg
}

// legBehavior is how a browser user answers: after ringing for ring (no
// ringing if 0), or by hanging up with reject.
type legBehavior struct {
	ring   time.Duration
	reject gateway.Reason
}

func newBrowserDir(t *testing.T) *browserDir {
	return &browserDir{t: t, legs: make(chan *browserLeg, 16), online: map[string]legBehavior{
		"alice": {}, "bob": {},
		"carl": {ring: 300 * time.Millisecond},
		"dave": {ring: 300 * time.Millisecond, reject: gateway.Reason{Condition: gateway.CondBusy, Code: 486}},
	}}
}

// Dial implements gateway.Dialer: the callee leg of a browser user.
func (d *browserDir) Dial(_ context.Context, req gateway.DialRequest) (gateway.Leg, error) {
	d.mu.Lock()
	b, ok := d.online[req.Target.User]
	d.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", gateway.ErrNotFound, req.Target.User)
	}
	l, err := newBrowserLeg(d.t, req.Target.User)
	if err != nil {
		return nil, err
	}
	l.call, l.behavior = req.Call, b
	l.startPump()
	d.legs <- l
	return l, nil
}

// next returns the next callee leg created.
func (d *browserDir) next(ctx context.Context) (*browserLeg, error) {
	select {
	case l := <-d.legs:
		return l, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("no browser leg dialed: %w", ctx.Err())
	}
}

// browserLeg is a gateway.Leg with a pion Peer: it answers offers, applies
// answers and candidates, and trickles its own candidates.
type browserLeg struct {
	name     string
	behavior legBehavior
	peer     *xmpptest.Peer
	call     *gateway.Call
	inbox    chan gateway.Event
	hangups  chan gateway.Reason
	ringing  chan struct{}
	ringOne  sync.Once
	errs     chan error

	answered  atomic.Bool                               // the first exchange is done
	reoffers  chan *sdp.SessionDescription              // re-offers from the other side (answered by the peer)
	reanswers chan *sdp.SessionDescription              // answers to our re-offers
	failures  chan gateway.Failure                      // refusals of our re-offers
	applyNext atomic.Pointer[webrtc.SessionDescription] // our re-offer was applied locally: apply its answer
	holdNext  atomic.Pointer[chan struct{}]             // answer the next re-offer once this channel is closed
}

func newBrowserLeg(t *testing.T, name string) (*browserLeg, error) {
	p, err := xmpptest.NewPeer()
	if err != nil {
		return nil, err
	}
	l := &browserLeg{name: name, peer: p, inbox: make(chan gateway.Event, 256), hangups: make(chan gateway.Reason, 1),
		ringing: make(chan struct{}), errs: make(chan error, 16), reoffers: make(chan *sdp.SessionDescription, 8),
		reanswers: make(chan *sdp.SessionDescription, 8), failures: make(chan gateway.Failure, 8)}
	t.Cleanup(func() { p.Close() })
	go l.run()
	return l, nil
}

func (l *browserLeg) Kind() string       { return "test-browser" }
func (l *browserLeg) Caps() gateway.Caps { return gateway.Caps{Trickle: true, MDNS: true} }

func (l *browserLeg) Deliver(ev gateway.Event) error {
	select {
	case l.inbox <- ev:
		return nil
	default:
		return fmt.Errorf("test browser %s: inbox full", l.name)
	}
}

func (l *browserLeg) run() {
	for ev := range l.inbox {
		if err := l.handle(ev); err != nil {
			select {
			case l.errs <- err:
			default:
			}
		}
	}
}

func (l *browserLeg) handle(ev gateway.Event) error {
	switch e := ev.(type) {
	case gateway.Offer:
		if l.answered.Load() {
			return l.answerReoffer(e.SDP)
		}
		if l.behavior.ring > 0 {
			_ = l.call.Post(l, gateway.Ringing{Code: 180})
			time.Sleep(l.behavior.ring)
		}
		if !l.behavior.reject.IsZero() {
			return l.call.Post(l, gateway.Hangup{Reason: l.behavior.reject})
		}
		answer, err := l.peer.Answer(gateway.MarshalSDP(e.SDP))
		if err != nil {
			return err
		}
		sd, err := gateway.ParseSDP(answer)
		if err != nil {
			return err
		}
		l.answered.Store(true)
		return l.call.Post(l, gateway.Answer{SDP: sd})
	case gateway.Answer:
		if l.answered.Load() {
			l.reanswers <- e.SDP
			if l.applyNext.Swap(nil) != nil {
				return l.peer.SetAnswer(gateway.MarshalSDP(e.SDP))
			}
			return nil
		}
		l.answered.Store(true)
		return l.peer.SetAnswer(gateway.MarshalSDP(e.SDP))
	case gateway.Failure:
		l.applyNext.Store(nil)
		l.failures <- e
	case gateway.Candidate:
		return l.peer.AddCandidate(e.Line, e.Mid, uint16(e.MLineIndex))
	case gateway.Ringing:
		l.ringOne.Do(func() { close(l.ringing) })
	case gateway.Hangup:
		select {
		case l.hangups <- e.Reason:
		default:
		}
		l.peer.Close()
	}
	return nil
}

// answerReoffer answers a re-offer from the other side with the peer (a
// real renegotiation: hold, ICE restart).
func (l *browserLeg) answerReoffer(offer *sdp.SessionDescription) error {
	l.reoffers <- offer
	if release := l.holdNext.Swap(nil); release != nil {
		<-*release
	}
	answer, err := l.peer.Answer(gateway.MarshalSDP(offer))
	if err != nil {
		return err
	}
	sd, err := gateway.ParseSDP(answer)
	if err != nil {
		return err
	}
	return l.call.Post(l, gateway.Answer{SDP: sd})
}

// reoffer sends a re-offer made by the peer (CreateOffer with opts), after
// mutate changed it (may be nil), and returns the answer or the failure.
// With apply, the offer is set as local description and the answer applied
// (a real renegotiation); without, the peer is left as it was (munged
// offers: hold, unsupported changes).
func (l *browserLeg) reoffer(t *testing.T, ctx context.Context, opts *webrtc.OfferOptions, apply bool,
	mutate func(*sdp.SessionDescription)) (*sdp.SessionDescription, *gateway.Failure) {
	t.Helper()
	o, err := l.peer.PC.CreateOffer(opts)
	if err != nil {
		t.Fatalf("re-offer: %v", err)
	}
	if apply {
		if err := l.peer.PC.SetLocalDescription(o); err != nil {
			t.Fatalf("re-offer: %v", err)
		}
		l.applyNext.Store(&o)
	}
	sd, err := gateway.ParseSDP(o.SDP)
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(sd)
	}
	if err := l.call.Post(l, gateway.Offer{SDP: sd}); err != nil {
		t.Fatalf("re-offer: %v", err)
	}
	select {
	case a := <-l.reanswers:
		return a, nil
	case f := <-l.failures:
		return nil, &f
	case err := <-l.errs:
		t.Fatalf("browser leg: %v", err)
	case <-ctx.Done():
		t.Fatal("no answer and no failure to the re-offer")
	}
	return nil, nil
}

// nextReoffer waits for a re-offer from the other side.
func (l *browserLeg) nextReoffer(t *testing.T, ctx context.Context) *sdp.SessionDescription {
	t.Helper()
	select {
	case o := <-l.reoffers:
		return o
	case err := <-l.errs:
		t.Fatalf("browser leg: %v", err)
	case <-ctx.Done():
		t.Fatal("no re-offer reached the browser")
	}
	return nil
}

// startPump trickles the peer's candidates into the call.
func (l *browserLeg) startPump() {
	go func() {
		for c := range l.peer.Candidates() {
			idx := 0
			if c.SDPMLineIndex != nil {
				idx = int(*c.SDPMLineIndex)
			}
			mid := ""
			if c.SDPMid != nil {
				mid = *c.SDPMid
			}
			if err := l.call.Post(l, gateway.Candidate{Mid: mid, MLineIndex: idx, Line: c.Candidate}); err != nil {
				return
			}
		}
	}()
}

// place makes the leg call target through gw.
func (l *browserLeg) place(ctx context.Context, gw *gateway.Gateway, target string) error {
	offer, err := l.peer.Offer()
	if err != nil {
		return err
	}
	sd, err := gateway.ParseSDP(offer)
	if err != nil {
		return err
	}
	call, err := gw.Place(ctx, gateway.PlaceRequest{Caller: l, From: l.name, Target: target, Offer: sd})
	if err != nil {
		return err
	}
	l.call = call
	l.startPump()
	return nil
}

// hangup hangs the call up from the browser side.
func (l *browserLeg) hangup() { _ = l.call.Post(l, gateway.Hangup{}) }

// waitHangup waits for the bridge to end the leg.
func (l *browserLeg) waitHangup(t *testing.T, d time.Duration) gateway.Reason {
	t.Helper()
	select {
	case r := <-l.hangups:
		return r
	case <-time.After(d):
		t.Fatalf("browser leg %s got no hangup", l.name)
	}
	return gateway.Reason{}
}
