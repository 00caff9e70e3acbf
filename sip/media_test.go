package sip

import (
	"context"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/sip/siptest"
)

func newEndpoint(t *testing.T, user string) *siptest.Endpoint {
	t.Helper()
	ep, err := siptest.NewEndpoint(user, testLogger(t).With("peer", "siptest"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ep.Close() })
	return ep
}

// TestMediaBrowserToSIP: a trickling pion peer on the browser side calls a
// WebRTC-capable SIP endpoint; the bridge folds the trickled candidates into
// a complete offer (half trickle), the endpoint answers with a complete SDP,
// and both peers reach ICE connected and exchange RTP.
func TestMediaBrowserToSIP(t *testing.T) {
	env := newEnv(t, Config{Routes: []Route{loopbackRoute()}})
	ep := newEndpoint(t, "pbx")
	caller := newPionLeg(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offer, err := caller.peer.Offer(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	call, err := env.gw.Place(ctx, gateway.PlaceRequest{Caller: caller, From: "alice", Target: ep.URI(),
		Offer: mustSDP(t, offer)})
	if err != nil {
		t.Fatal(err)
	}
	caller.attach(call)
	go caller.serve(ctx)
	var sipCall *siptest.Call
	select {
	case sipCall = <-ep.Incoming:
	case <-ctx.Done():
		t.Fatal("the SIP endpoint got no call")
	}
	waitMedia(t, "browser peer", caller.peer)
	waitMedia(t, "SIP endpoint", sipCall.Peer)
	_ = call.Post(caller, gateway.Hangup{})
	select {
	case <-sipCall.Ended:
	case <-time.After(10 * time.Second):
		t.Fatal("SIP endpoint got no BYE")
	}
}

// TestMediaSIPToBrowser: the SIP endpoint calls a browser-dialect pion peer
// that answers with a candidate-less SDP and trickles; the gateway sends the
// SIP caller a complete 200, and media flows both ways.
func TestMediaSIPToBrowser(t *testing.T) {
	env := newEnv(t, Config{TrustedSources: []string{"127.0.0.1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	callee := make(chan *pionLeg, 1)
	env.users.handle("pion", func(req gateway.DialRequest) gateway.Leg {
		l := newPionLeg(t)
		l.attach(req.Call)
		go l.serve(ctx)
		callee <- l
		return l
	})
	ep := newEndpoint(t, "phone")
	sipCall, err := ep.Dial(ctx, "sip:pion@"+env.a.Addr())
	if err != nil {
		t.Fatal(err)
	}
	leg := <-callee
	waitMedia(t, "SIP endpoint", sipCall.Peer)
	waitMedia(t, "browser peer", leg.peer)
	if err := sipCall.Hangup(ctx); err != nil {
		t.Fatalf("BYE: %v", err)
	}
	select {
	case <-leg.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("browser leg got no hang-up")
	}
}
