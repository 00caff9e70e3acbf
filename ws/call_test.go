package ws

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/ws/wstest"
)

// pionPair is two pion peers logged in on the gateway, one calling the other.
type pionPair struct {
	caller, callee *wstest.Peer
}

// startCall logs in two MDN-dialect pion peers and has the first call the
// second. It does not wait for the media.
func startCall(t *testing.T, h *harness, from, to string, fromOpts, toOpts wstest.PeerOptions, path string) pionPair {
	t.Helper()
	connect := func(name string, opts wstest.PeerOptions) *wstest.Peer {
		c, _, err := wstest.Dial(ctxT(t), h.url(path), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if _, err := c.Login(ctxT(t), name, nil); err != nil {
			t.Fatal(err)
		}
		p, err := wstest.NewPeer(c, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		p.Start(ctx)
		return p
	}
	pp := pionPair{caller: connect(from, fromOpts), callee: connect(to, toOpts)}
	if err := pp.caller.Call(ctxT(t), to); err != nil {
		t.Fatal(err)
	}
	return pp
}

// waitMedia waits until both peers are ICE connected and each received the
// other's data channel greeting.
func (pp pionPair) waitMedia(t *testing.T) {
	t.Helper()
	for _, p := range []*wstest.Peer{pp.caller, pp.callee} {
		select {
		case <-p.Connected():
		case err := <-p.Errors():
			t.Fatalf("%s: %v", p.Client.Name, err)
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: ICE not connected", p.Client.Name)
		}
	}
	expectText(t, pp.caller, "hello from "+pp.callee.Client.Name)
	expectText(t, pp.callee, "hello from "+pp.caller.Client.Name)
}

// expectText waits for a data channel message starting with prefix.
func expectText(t *testing.T, p *wstest.Peer, prefix string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case got := <-p.Messages():
			if strings.HasPrefix(got, prefix) {
				return
			}
		case err := <-p.Errors():
			t.Fatalf("%s: %v", p.Client.Name, err)
		case <-deadline:
			t.Fatalf("%s: no data channel message %q", p.Client.Name, prefix)
		}
	}
}

// exchange checks that the call still carries data both ways.
func (pp pionPair) exchange(t *testing.T, tag string) {
	t.Helper()
	if err := pp.caller.SendText(tag + " from caller"); err != nil {
		t.Fatal(err)
	}
	if err := pp.callee.SendText(tag + " from callee"); err != nil {
		t.Fatal(err)
	}
	expectText(t, pp.callee, tag+" from caller")
	expectText(t, pp.caller, tag+" from callee")
}

func TestRealCall(t *testing.T) {
	cases := []struct {
		name             string
		path             string
		callerOpts       wstest.PeerOptions
		calleeOpts       wstest.PeerOptions
		wantSDPAsObjects bool
	}{
		{name: "objects on /ws", path: "/ws"},
		{name: "strings on / (MDN URL)", path: "/", callerOpts: wstest.PeerOptions{StringForms: true},
			calleeOpts: wstest.PeerOptions{StringForms: true}},
		{name: "callId and end-of-candidates", path: "/ws",
			callerOpts: wstest.PeerOptions{CallID: "call-1", EndOfCandidates: true},
			calleeOpts: wstest.PeerOptions{EndOfCandidates: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{}, gateway.Config{})
			pp := startCall(t, h, "alice", "bob", tc.callerOpts, tc.calleeOpts, tc.path)
			pp.waitMedia(t)
			pp.exchange(t, "ping")
			if n := h.gw.ActiveCalls(); n != 1 {
				t.Fatalf("%d calls, want 1", n)
			}
		})
	}
}

func TestRealCallRenegotiation(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	pp := startCall(t, h, "alice", "bob", wstest.PeerOptions{}, wstest.PeerOptions{}, "/ws")
	pp.waitMedia(t)
	// The MDN page sends every renegotiation as a new video-offer: it must
	// stay on the same call.
	if err := pp.caller.Renegotiate(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "re-answer applied", func() bool {
		return pp.caller.PC.SignalingState().String() == "stable" && pp.caller.PC.RemoteDescription() != nil &&
			pp.caller.PC.CurrentRemoteDescription() == pp.caller.PC.RemoteDescription()
	})
	if n := h.gw.ActiveCalls(); n != 1 {
		t.Fatalf("%d calls after a re-offer, want 1", n)
	}
	if n := pp.callee.OffersReceived(); n != 2 {
		t.Fatalf("callee got %d video-offers, want 2", n)
	}
	pp.exchange(t, "after re-offer")
}

func TestRealCallHangUp(t *testing.T) {
	h := newHarness(t, Config{}, gateway.Config{})
	pp := startCall(t, h, "alice", "bob", wstest.PeerOptions{}, wstest.PeerOptions{}, "/ws")
	pp.waitMedia(t)
	send(t, pp.callee.Client, map[string]any{"type": "hang-up", "name": "bob", "target": "alice"})
	select {
	case m := <-pp.caller.HangUps():
		if m.Str("name") != "bob" || m.Str("reason") != gateway.CondSuccess || m.Int("code") != 200 {
			t.Fatalf("hang-up %v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("caller got no hang-up")
	}
	waitFor(t, "call removed", func() bool { return h.gw.ActiveCalls() == 0 })
}

// waitFor polls cond for up to 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
