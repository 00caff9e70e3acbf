package xmpp

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
)

// TestComponentHandover is what a cluster does on a leadership change
// (cluster.Lead): the component connection is held by whichever node's
// adapter runs. Ending Run drops the stream (the call on it ends with
// connectivity-error on its browser leg; Dial reports the target
// offline); another adapter for the same domain, on another node, then
// connects, serves a call, and hands the domain back the same way. While
// one adapter holds the domain, Prosody refuses a second connection, and
// the first keeps serving.
func TestComponentHandover(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxFor(t, 90*time.Second)
	romeo := e.login("romeo")
	call, leg := placeFromJingle(t, ctx, e, romeo, "alice", false)
	assertMedia(t, ctx, call.Media, leg.peer)

	// A second node's adapter while the first holds the domain: refused.
	other := secondNode(t, e)
	b := other.a
	bctx, bstop := context.WithCancel(context.Background())
	bran := make(chan struct{})
	go func() { defer close(bran); _ = b.Run(bctx) }()
	t.Cleanup(func() { bstop(); <-bran })
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
	if err := b.WaitConnected(wctx); err == nil {
		t.Error("a second component connection for the domain was accepted while the first was up")
	}
	wcancel()
	if !e.a.Connected() {
		t.Fatal("the first adapter lost its stream to the second")
	}

	// The first node gives the domain up.
	e.shutdown()
	if r := leg.waitHangup(t, 10*time.Second); r.Condition != gateway.CondConnectivityError {
		t.Errorf("browser leg got %+v, want connectivity-error", r)
	}
	waitNoSessions(t, e.a)
	target, err := gateway.ParseTarget("xmpp:" + e.p.JID("romeo"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Dial(ctx, gateway.DialRequest{From: "alice", Target: target}); !errors.Is(err, gateway.ErrOffline) {
		t.Errorf("Dial without the stream: %v, want offline", err)
	}
	other.waitConnected() // b connects within its reconnect back-off

	romeo2 := e.login("romeo")
	call2, leg2 := placeFromJingle(t, ctx, other, romeo2, "bob", false)
	assertMedia(t, ctx, call2.Media, leg2.peer)
	if err := call2.Hangup(ctx, "success"); err != nil {
		t.Fatal(err)
	}
	leg2.waitHangup(t, 5*time.Second)

	// And back: b stops, a runs again.
	bstop()
	<-bran
	e.start()
	romeo3 := e.login("romeo")
	call3, leg3 := placeFromJingle(t, ctx, e, romeo3, "alice", false)
	assertMedia(t, ctx, call3.Media, leg3.peer)
	if err := call3.Hangup(ctx, "success"); err != nil {
		t.Fatal(err)
	}
	leg3.waitHangup(t, 5*time.Second)
}
