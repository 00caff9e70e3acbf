package xmpp

import (
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"github.com/sigbridge/sigbridge/xmpp/xmpptest"
)

// A browser user calls a JID: JMI propose from the caller's gateway JID,
// proceed, session-initiate to the device, session-accept; media flows both
// ways; the XMPP side hangs up.
func TestBrowserCallsJID(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxFor(t, 30*time.Second)
	call, leg := callJuliet(t, ctx, e, e.login("juliet"))
	if got := call.Remote.Bare().String(); got != "alice@"+e.p.Cfg.Component {
		t.Errorf("callee sees the caller as %s", got)
	}
	assertMedia(t, ctx, call.Media, leg.peer)
	if err := call.Hangup(ctx, "success"); err != nil {
		t.Fatal(err)
	}
	if r := leg.waitHangup(t, 5*time.Second); r.Condition != gateway.CondSuccess {
		t.Errorf("browser got %+v, want success", r)
	}
	waitNoSessions(t, e.a)
}

// JMI reject maps to busy (486) or decline (603); the synthesized ringing
// reaches the caller first.
func TestBrowserCallsJIDRejected(t *testing.T) {
	for _, tt := range []struct {
		reason string
		cond   string
		code   int
	}{{"busy", gateway.CondBusy, 486}, {"", gateway.CondDecline, 603}} {
		t.Run("reason="+tt.reason, func(t *testing.T) {
			e := newEnv(t, nil)
			juliet := e.login("juliet")
			ctx := ctxFor(t, 30*time.Second)
			leg, err := newBrowserLeg(t, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if err := leg.place(ctx, e.gw, "xmpp:juliet@localhost"); err != nil {
				t.Fatal(err)
			}
			select {
			case <-leg.ringing:
			case <-time.After(5 * time.Second):
				t.Error("no ringing before the reject")
			}
			jmi, err := juliet.Reject(ctx, tt.reason)
			if err != nil {
				t.Fatal(err)
			}
			if len(jmi.Media) != 1 || jmi.Media[0] != "audio" {
				t.Errorf("proposed media %v, want [audio]", jmi.Media)
			}
			r := leg.waitHangup(t, 5*time.Second)
			if r.Condition != tt.cond || r.Code != tt.code {
				t.Errorf("hangup %+v, want %s %d", r, tt.cond, tt.code)
			}
			waitNoSessions(t, e.a)
		})
	}
}

// The caller gives up before anyone proceeds: the callee gets a retract.
func TestBrowserCancelsProposal(t *testing.T) {
	e := newEnv(t, nil)
	juliet := e.login("juliet")
	ctx := ctxFor(t, 30*time.Second)
	leg, err := newBrowserLeg(t, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := leg.place(ctx, e.gw, "xmpp:juliet@localhost"); err != nil {
		t.Fatal(err)
	}
	propose, err := juliet.Expect(ctx, func(ev xmpptest.Event) bool { return ev.JMI != nil && ev.JMI.Name == "propose" })
	if err != nil {
		t.Fatal(err)
	}
	leg.hangup()
	retract, err := juliet.Expect(ctx, func(ev xmpptest.Event) bool { return ev.JMI != nil && ev.JMI.Name == "retract" })
	if err != nil {
		t.Fatal(err)
	}
	if retract.JMI.ID != propose.JMI.ID || retract.JMI.Reason != "cancel" || retract.JMI.ReasonNS != jingle.NSJingle {
		t.Errorf("retract %+v for propose %s", retract.JMI, propose.JMI.ID)
	}
	waitNoSessions(t, e.a)
}

// A JID that cannot receive the proposal: the bounce ends the call (gone).
func TestBrowserCallsUnknownJID(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxFor(t, 30*time.Second)
	leg, err := newBrowserLeg(t, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := leg.place(ctx, e.gw, "xmpp:nobody@localhost"); err != nil {
		t.Fatal(err)
	}
	if r := leg.waitHangup(t, 10*time.Second); r.Condition != gateway.CondGone {
		t.Errorf("hangup %+v, want gone", r)
	}
}
