package xmpp

import (
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
)

// Prosody restarts during a call: the call is ended on its browser leg with
// connectivity-error, the component reconnects with backoff, and a new call
// works.
func TestProsodyRestart(t *testing.T) {
	e := newEnv(t, nil)
	romeo := e.login("romeo")
	ctx := ctxFor(t, 60*time.Second)
	call, leg := placeFromJingle(t, ctx, e, romeo, "alice", false)
	assertMedia(t, ctx, call.Media, leg.peer)

	e.p.Restart(t)
	if r := leg.waitHangup(t, 10*time.Second); r.Condition != gateway.CondConnectivityError {
		t.Errorf("browser leg got %+v, want connectivity-error", r)
	}
	waitNoSessions(t, e.a)
	e.waitConnected()

	romeo2 := e.login("romeo")
	call2, leg2 := placeFromJingle(t, ctx, e, romeo2, "bob", false)
	assertMedia(t, ctx, call2.Media, leg2.peer)
	if err := call2.Hangup(ctx, "success"); err != nil {
		t.Fatal(err)
	}
	leg2.waitHangup(t, 5*time.Second)
}
