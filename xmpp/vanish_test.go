package xmpp

import (
	"context"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"github.com/sigbridge/sigbridge/xmpp/xmpptest"
	"mellium.im/xmpp/stanza"
)

// A Jingle client whose TCP connection drops mid-call (no closing stream
// tag, no session-terminate) is noticed through Prosody: by the session
// ping (Prosody answers for the vanished resource) or by the unavailable
// presence Prosody sends to whom the client sent directed presence. The
// other leg is hung up with connectivity-error and the session table
// empties.

// shortPings pings every 300 ms, each ping bounded by 1 s.
func shortPings(c *Config, _ *xmpptest.Prosody) {
	c.SessionPingInterval, c.SessionPingTimeout = 300*time.Millisecond, time.Second
}

func noPings(c *Config, _ *xmpptest.Prosody) { c.SessionPingInterval = -1 }

func isSessionPing(j *jingle.Jingle) bool {
	return j.Action == jingle.ActionSessionInfo && j.Info == nil
}

// awaitPings waits until the client answered n session pings of the call.
func awaitPings(t *testing.T, ctx context.Context, call *xmpptest.Call, n int) {
	t.Helper()
	for range n {
		if _, err := call.WaitJingle(ctx, isSessionPing); err != nil {
			t.Fatalf("no session ping reached the client: %v", err)
		}
	}
}

// vanish drops the client's connection and stops its media.
func vanish(c *xmpptest.Client, call *xmpptest.Call) {
	c.Kill()
	call.Close()
}

func TestJingleCallerVanishes(t *testing.T) {
	e := newEnv(t, shortPings)
	romeo := e.login("romeo")
	ctx := ctxFor(t, 30*time.Second)
	call, leg := placeFromJingle(t, ctx, e, romeo, "alice", false)
	assertMedia(t, ctx, call.Media, leg.peer)
	awaitPings(t, ctx, call, 2) // answered pings keep the call
	assertCallUp(t, e.a, leg)

	vanish(romeo, call)
	if r := leg.waitHangup(t, 15*time.Second); r.Condition != gateway.CondConnectivityError {
		t.Errorf("browser leg got %+v, want connectivity-error", r)
	}
	waitNoSessions(t, e.a)
}

func TestJingleCalleeVanishes(t *testing.T) {
	e := newEnv(t, shortPings)
	juliet := e.login("juliet")
	ctx := ctxFor(t, 30*time.Second)
	call, leg := callJuliet(t, ctx, e, juliet)
	assertMedia(t, ctx, call.Media, leg.peer)
	awaitPings(t, ctx, call, 2)
	assertCallUp(t, e.a, leg)

	vanish(juliet, call)
	if r := leg.waitHangup(t, 15*time.Second); r.Condition != gateway.CondConnectivityError {
		t.Errorf("browser leg got %+v, want connectivity-error", r)
	}
	waitNoSessions(t, e.a)
}

// With pings off, the unavailable presence that Prosody sends on the
// client's behalf to the gateway JID it sent directed presence to ends the
// call.
func TestVanishedPeerWentOffline(t *testing.T) {
	e := newEnv(t, noPings)
	romeo := e.login("romeo")
	ctx := ctxFor(t, 30*time.Second)
	if err := romeo.Send(ctx, stanza.Presence{To: e.gwJID("alice")}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	call, leg := placeFromJingle(t, ctx, e, romeo, "alice", false)
	assertMedia(t, ctx, call.Media, leg.peer)

	vanish(romeo, call)
	if r := leg.waitHangup(t, 15*time.Second); r.Condition != gateway.CondConnectivityError {
		t.Errorf("browser leg got %+v, want connectivity-error", r)
	}
	waitNoSessions(t, e.a)
}
