package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/internal/natstest"
	"github.com/sigbridge/sigbridge/sip"
	"github.com/sigbridge/sigbridge/sip/siptest"
)

const bindingRealm = "sigbridge.test"

// sipSite is one node with a gateway whose sip: dialer is the cluster's
// (ShareSIPBindings) around a real SIP adapter.
type sipSite struct {
	gw *gateway.Gateway
	a  *sip.Adapter
}

func newSIPSite(t *testing.T, n *Node) *sipSite {
	t.Helper()
	gw := gateway.New(gateway.DefaultConfig(), gateway.NewRouter(), testLogger(t), nil)
	a, err := sip.New(sip.Config{Listen: "127.0.0.1:0", Realm: bindingRealm,
		InboundUsers: []sip.InboundUser{{Username: "bob", Password: "bobpass"}}}, gw, testLogger(t), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = a.Close() })
	gw.Router().Handle(gateway.SchemeSIP, n.ForkDialer(gateway.SchemeSIP, a, n.ShareSIPBindings(ctx, a)))
	return &sipSite{gw: gw, a: a}
}

// TestSIPBindingOnAnotherNode: bob registers over TCP at node a; node b
// learns it from the registry (key bob@a) and a browser-side call on node
// b to sip:bob@<realm> rings bob's UA over its connection to node a, and
// is cancelled there when the caller hangs up. Once bob's connection
// closes, the key goes and node b finds no binding (480).
func TestSIPBindingOnAnotherNode(t *testing.T) {
	srv := natstest.Start(t)
	ns := startNodes(t, srv, "a", "b")
	a, b := newSIPSite(t, ns[0]), newSIPSite(t, ns[1])

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ua, err := siptest.DialStream(ctx, "TCP", a.a.AddrOf("tcp"), sip.DefaultWSPath, "bob")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ua.Close() })
	if res, err := ua.Register(ctx, bindingRealm, "bobpass", 300); err != nil || res.StatusCode != 200 {
		t.Fatalf("REGISTER: %v %v", res, err)
	}
	waitFor(t, 10*time.Second, "node b sees bob@a", func() bool { return ns[1].List(KindSIPBinding)["bob@a"] == "a" })

	offer, err := gateway.ParseSDP(readSDP(t, "chrome156_offer_audio_only.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	caller := newRecLeg("caller")
	call, err := b.gw.Place(ctx, gateway.PlaceRequest{Caller: caller, From: "alice", Target: "sip:bob@" + bindingRealm, Offer: offer})
	if err != nil {
		t.Fatalf("place on node b: %v", err)
	}
	caller.setCall(call)
	caller.post(t, gateway.EndOfCandidates{Mid: "0"})
	inv, err := ua.WaitRequest("INVITE", 10*time.Second)
	if err != nil {
		t.Fatalf("bob's UA (registered at node a) got no INVITE: %v", err)
	}
	if got := inv.Source(); got == "" {
		t.Error("INVITE without source")
	}
	if r := next[gateway.Ringing](t, caller); r.Code != 180 {
		t.Errorf("ringing %d", r.Code)
	}
	caller.post(t, gateway.Hangup{})
	if _, err := ua.WaitRequest("CANCEL", 10*time.Second); err != nil {
		t.Errorf("no CANCEL at bob's UA: %v", err)
	}

	_ = ua.Close()
	waitFor(t, 10*time.Second, "bob@a gone", func() bool { _, ok := ns[1].List(KindSIPBinding)["bob@a"]; return !ok })
	caller2 := newRecLeg("caller")
	_, err = b.gw.Place(ctx, gateway.PlaceRequest{Caller: caller2, From: "alice", Target: "sip:bob@" + bindingRealm, Offer: offer})
	if !errors.Is(err, gateway.ErrOffline) {
		t.Errorf("call with no binding anywhere: %v, want offline", err)
	}
}
