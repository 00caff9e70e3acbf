package xmpp

import (
	"context"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"github.com/sigbridge/sigbridge/xmpp/xmpptest"
	"mellium.im/xmpp/jid"
)

// A browser user calls a full JID: the session-initiate goes straight to
// that resource (a Jingle client without JMI), no propose; media flows
// both ways; the browser's hang-up reaches the client. (The resource is
// the one Prosody assigned: mellium's client cannot ask for one.)
func TestBrowserCallsFullJID(t *testing.T) {
	e := newEnv(t, nil)
	juliet := e.login("juliet")
	other := e.login("juliet") // another resource of the same user: must hear nothing
	ctx := ctxFor(t, 30*time.Second)
	answered := make(chan *xmpptest.Call, 1)
	go func() {
		call, err := juliet.AnswerDirect(ctx)
		if err != nil {
			t.Error(err)
		}
		answered <- call
	}()
	leg, err := newBrowserLeg(t, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := leg.place(ctx, e.gw, "xmpp:"+juliet.JID.String()); err != nil {
		t.Fatalf("full-JID target refused: %v", err)
	}
	call := <-answered
	if call == nil {
		t.FailNow()
	}
	t.Cleanup(call.Close)
	if got := call.Remote.String(); got != "alice@"+e.p.Cfg.Component {
		t.Errorf("session-initiate from %s", got)
	}
	assertMedia(t, ctx, call.Media, leg.peer)
	for _, c := range []*xmpptest.Client{juliet, other} {
		if _, err := c.Expect(shortCtx(t), func(ev xmpptest.Event) bool { return ev.JMI != nil }); err == nil {
			t.Errorf("%s got a JMI message for a full-JID call", c.JID)
		}
	}
	if _, err := other.Expect(shortCtx(t), func(ev xmpptest.Event) bool { return ev.Jingle != nil }); err == nil {
		t.Error("the other resource got a Jingle IQ")
	}
	leg.hangup()
	select {
	case r := <-call.Ended():
		if r == nil || r.Condition != "success" {
			t.Errorf("terminate reason %+v, want success", r)
		}
	case <-ctx.Done():
		t.Fatal("no session-terminate")
	}
	waitNoSessions(t, e.a)
}

// A full JID that declines: the browser gets decline (603); an offline
// resource: gone (480).
func TestFullJIDDeclines(t *testing.T) {
	e := newEnv(t, nil)
	juliet := e.login("juliet")
	ctx := ctxFor(t, 30*time.Second)
	leg, err := newBrowserLeg(t, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := leg.place(ctx, e.gw, "xmpp:"+juliet.JID.String()); err != nil {
		t.Fatal(err)
	}
	ev, err := juliet.ExpectInitiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := juliet.DeclineInitiate(ctx, ev, "decline"); err != nil {
		t.Fatal(err)
	}
	if r := leg.waitHangup(t, 5*time.Second); r.Condition != gateway.CondDecline || r.Code != 603 {
		t.Errorf("browser got %+v, want decline 603", r)
	}
	waitNoSessions(t, e.a)

	// A resource that is not online: its server answers
	// service-unavailable, the caller gets gone (480).
	gone, err := newBrowserLeg(t, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if err := gone.place(ctx, e.gw, "xmpp:juliet@localhost/nowhere"); err != nil {
		t.Fatal(err)
	}
	if r := gone.waitHangup(t, 5*time.Second); r.Condition != gateway.CondGone || r.Code != 480 {
		t.Errorf("offline resource: browser got %+v, want gone 480", r)
	}
	waitNoSessions(t, e.a)
}

// One user, two devices: a JMI client and a Jingle client without JMI
// that sent the gateway directed presence with caps. A call to the bare
// JID proposes (JMI) and sends session-initiate to the other device; the
// first to take it wins, the other is retracted or terminated. A decline
// on the direct device declines the call, as a JMI reject would.
func TestForkJMIAndDirect(t *testing.T) {
	for _, winner := range []string{"direct", "jmi", "none"} {
		t.Run(winner+"-wins", func(t *testing.T) {
			e := newEnv(t, nil)
			ctx := ctxFor(t, 40*time.Second)
			jmiDev := e.loginWith("juliet", xmpptest.LoginOptions{Features: xmpptest.JMIFeatures})
			direct := e.loginWith("juliet", xmpptest.LoginOptions{Features: xmpptest.JingleFeatures})
			// Both devices tell the caller's gateway JID they are there.
			for _, c := range []*xmpptest.Client{jmiDev, direct} {
				if err := c.SendPresence(ctx, e.gwJID("alice")); err != nil {
					t.Fatal(err)
				}
			}
			waitForkTarget(t, e, direct.JID, true)
			waitKnown(t, e, jmiDev.JID)

			leg, err := newBrowserLeg(t, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if err := leg.place(ctx, e.gw, "xmpp:juliet@localhost"); err != nil {
				t.Fatal(err)
			}
			propose, err := jmiDev.Expect(ctx, func(ev xmpptest.Event) bool { return ev.JMI != nil && ev.JMI.Name == "propose" })
			if err != nil {
				t.Fatal(err)
			}
			initiate, err := direct.ExpectInitiate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if initiate.Jingle.SID != propose.JMI.ID {
				t.Errorf("direct sid %s, JMI id %s", initiate.Jingle.SID, propose.JMI.ID)
			}
			if _, err := jmiDev.Expect(shortCtx(t), func(ev xmpptest.Event) bool {
				return ev.Jingle != nil && ev.Jingle.Action == jingle.ActionSessionInitiate
			}); err == nil {
				t.Error("the JMI device got a session-initiate before proceeding")
			}
			if winner == "none" {
				if err := direct.DeclineInitiate(ctx, initiate, "decline"); err != nil {
					t.Fatal(err)
				}
				if r := leg.waitHangup(t, 5*time.Second); r.Condition != gateway.CondDecline || r.Code != 603 {
					t.Errorf("browser got %+v, want decline 603", r)
				}
				if _, err := jmiDev.Expect(ctx, func(ev xmpptest.Event) bool { return ev.JMI != nil && ev.JMI.Name == "retract" }); err != nil {
					t.Error("the JMI device got no retract:", err)
				}
				waitNoSessions(t, e.a)
				return
			}
			var call *xmpptest.Call
			if winner == "direct" {
				call, err = direct.AcceptInitiate(ctx, initiate)
				if err != nil {
					t.Fatal(err)
				}
				retract, err := jmiDev.Expect(ctx, func(ev xmpptest.Event) bool { return ev.JMI != nil && ev.JMI.Name == "retract" })
				if err != nil {
					t.Fatal("the JMI device got no retract:", err)
				}
				if retract.JMI.ID != propose.JMI.ID || retract.JMI.Reason != "cancel" || retract.JMI.ReasonNS != jingle.NSJingle {
					t.Errorf("retract %+v", retract.JMI)
				}
			} else {
				if err := jmiDev.SendJMI(ctx, propose.From, "proceed", propose.JMI.ID, ""); err != nil {
					t.Fatal(err)
				}
				term, err := direct.Expect(ctx, func(ev xmpptest.Event) bool {
					return ev.Jingle != nil && ev.Jingle.Action == jingle.ActionSessionTerminate
				})
				if err != nil {
					t.Fatal("the direct device got no session-terminate:", err)
				}
				if term.Jingle.SID != initiate.Jingle.SID || term.Jingle.Reason == nil || term.Jingle.Reason.Condition != "cancel" {
					t.Errorf("terminate %+v", term.Jingle)
				}
				ev, err := jmiDev.ExpectInitiate(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if call, err = jmiDev.AcceptInitiate(ctx, ev); err != nil {
					t.Fatal(err)
				}
			}
			t.Cleanup(call.Close)
			assertMedia(t, ctx, call.Media, leg.peer)
			// The loser's late answer is refused: the session is not its.
			if winner == "direct" {
				if err := jmiDev.SendJMI(ctx, propose.From, "proceed", propose.JMI.ID, ""); err != nil {
					t.Fatal(err)
				}
			}
			if err := call.Hangup(ctx, "success"); err != nil {
				t.Fatal(err)
			}
			if r := leg.waitHangup(t, 5*time.Second); r.Condition != gateway.CondSuccess {
				t.Errorf("browser got %+v, want success", r)
			}
			waitNoSessions(t, e.a)
		})
	}
}

// A Jingle client without JMI subscribes to a gateway JID: the gateway
// approves and subscribes back, the client approves, its presence (with
// caps) reaches the gateway, and a call to its bare JID reaches it with a
// direct session-initiate. When it goes offline the gateway forgets it.
func TestSubscribedDeviceReachableAtBareJID(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxFor(t, 40*time.Second)
	dev := e.loginWith("juliet", xmpptest.LoginOptions{Features: xmpptest.JingleFeatures, ApproveSubscriptions: true})
	if err := dev.Subscribe(ctx, e.gwJID("alice")); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"subscribed", "subscribe"} {
		if _, err := dev.Expect(ctx, func(ev xmpptest.Event) bool {
			return ev.Name == "presence" && ev.Type == typ && ev.From.Equal(e.gwJID("alice"))
		}); err != nil {
			t.Fatalf("no %s from the gateway JID: %v", typ, err)
		}
	}
	waitForkTarget(t, e, dev.JID, true)
	if dev.DiscoAsked() == 0 {
		t.Error("the gateway learnt the features without disco#info")
	}

	leg, err := newBrowserLeg(t, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := leg.place(ctx, e.gw, "xmpp:juliet@localhost"); err != nil {
		t.Fatal(err)
	}
	call, err := dev.AnswerDirect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(call.Close)
	assertMedia(t, ctx, call.Media, leg.peer)
	if err := call.Hangup(ctx, "success"); err != nil {
		t.Fatal(err)
	}
	leg.waitHangup(t, 5*time.Second)
	waitNoSessions(t, e.a)

	dev.Close()
	waitForkTarget(t, e, dev.JID, false)
}

// waitForkTarget waits until the adapter does (or no longer does) count
// full among the devices a call to its bare JID forks to.
func waitForkTarget(t *testing.T, e *env, full jid.JID, want bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		direct, _ := e.a.devices.forkTargets(full.Bare())
		found := false
		for _, j := range direct {
			found = found || j.Equal(full)
		}
		if found == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fork target %s: %v, want %v\n%s", full, found, want, e.p.LogTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitKnown waits until the adapter knows the features of device full.
func waitKnown(t *testing.T, e *env, full jid.JID) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.a.devices.mu.Lock()
		dev := e.a.devices.lookup(full)
		known := dev != nil && dev.feats != nil
		e.a.devices.mu.Unlock()
		if known {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("features of %s not learnt", full)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// shortCtx bounds a check that something does NOT arrive.
func shortCtx(t *testing.T) context.Context { return ctxFor(t, 500*time.Millisecond) }

// Client mode: a device without JMI that sent the gateway account directed
// presence with caps is reached at its bare JID by a direct
// session-initiate from the account's full JID.
func TestClientModeDirectDevice(t *testing.T) {
	e := newClientEnv(t, "bob")
	ctx := ctxFor(t, 40*time.Second)
	dev := e.loginWith("juliet", xmpptest.LoginOptions{Features: xmpptest.JingleFeatures})
	if err := dev.SendPresence(ctx, jid.MustParse("gateway@localhost")); err != nil {
		t.Fatal(err)
	}
	waitForkTarget(t, e, dev.JID, true)
	leg, err := newBrowserLeg(t, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := leg.place(ctx, e.gw, "xmpp:juliet@localhost"); err != nil {
		t.Fatal(err)
	}
	call, err := dev.AnswerDirect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(call.Close)
	if got := call.Remote.Bare().String(); got != "gateway@localhost" || call.Remote.Resourcepart() == "" {
		t.Errorf("session-initiate from %s, want the account's full JID", call.Remote)
	}
	assertMedia(t, ctx, call.Media, leg.peer)
	leg.hangup()
	<-call.Ended()
	waitNoSessions(t, e.a)
}

// A device whose presence arrives while the call to its bare JID is still
// proposing (the gateway knew nothing: JMI alone) joins the fork once its
// capabilities are known, and can take the call.
func TestForkLateDevice(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxFor(t, 40*time.Second)
	dev := e.loginWith("juliet", xmpptest.LoginOptions{Features: xmpptest.JingleFeatures})
	leg, err := newBrowserLeg(t, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := leg.place(ctx, e.gw, "xmpp:juliet@localhost"); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Expect(ctx, func(ev xmpptest.Event) bool { return ev.JMI != nil && ev.JMI.Name == "propose" }); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Expect(shortCtx(t), func(ev xmpptest.Event) bool { return ev.Jingle != nil }); err == nil {
		t.Fatal("a session-initiate before the gateway knew the device")
	}
	if err := dev.SendPresence(ctx, e.gwJID("alice")); err != nil {
		t.Fatal(err)
	}
	call, err := dev.AnswerDirect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(call.Close)
	assertMedia(t, ctx, call.Media, leg.peer)
	if err := call.Hangup(ctx, "success"); err != nil {
		t.Fatal(err)
	}
	leg.waitHangup(t, 5*time.Second)
	waitNoSessions(t, e.a)
}

// A full JID in the component's XEP-0106 form: the user escaped into the
// local part of a gateway JID, the resource on the gateway JID. The call
// goes straight to that device.
func TestBrowserCallsEscapedFullJID(t *testing.T) {
	e := newEnv(t, nil)
	juliet := e.login("juliet")
	res := juliet.JID.Resourcepart()
	comp := e.p.Cfg.Component
	for i, target := range []string{
		`xmpp:juliet\40localhost@` + comp + "/" + res,
		`xmpp:xmpp\3ajuliet\40localhost@` + comp + "/" + res,
	} {
		ctx := ctxFor(t, 30*time.Second)
		answered := make(chan *xmpptest.Call, 1)
		go func() {
			call, err := juliet.AnswerDirect(ctx)
			if err != nil {
				t.Error(err)
			}
			answered <- call
		}()
		leg, err := newBrowserLeg(t, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if err := leg.place(ctx, e.gw, target); err != nil {
			t.Fatalf("%s refused: %v", target, err)
		}
		call := <-answered
		if call == nil {
			t.FailNow()
		}
		if i == 0 {
			assertMedia(t, ctx, call.Media, leg.peer)
		}
		leg.hangup()
		<-call.Ended()
		waitNoSessions(t, e.a)
	}
	// A gateway JID that names no XMPP user is still the gateway itself.
	leg, err := newBrowserLeg(t, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := leg.place(ctxFor(t, 5*time.Second), e.gw, "xmpp:bob@"+comp); err == nil {
		t.Error("a call to a gateway JID was placed")
	}
}

// unwrap: the XEP-0106 forms of an XMPP user's JID inside the component's
// domain, with or without a resource (escaped in the local part it is
// lower-cased, like the local part).
func TestUnwrapGatewayJID(t *testing.T) {
	a := &Adapter{cfg: Config{Component: ComponentConfig{Domain: "gw.example.org"}}, addr: jid.MustParse("gw.example.org")}
	for in, want := range map[string]string{
		`juliet\40example.org@gw.example.org`:               "juliet@example.org",
		`juliet\40example.org@gw.example.org/Phone`:         "juliet@example.org/Phone",
		`xmpp\3ajuliet\40example.org@gw.example.org`:        "juliet@example.org",
		`xmpp\3ajuliet\40example.org\2fdesk@gw.example.org`: "juliet@example.org/desk",
		`alice@gw.example.org`:                              `alice@gw.example.org`,
		`bob\40gw.example.org@gw.example.org`:               `bob\40gw.example.org@gw.example.org`,
		`juliet@example.org/x`:                              `juliet@example.org/x`,
	} {
		if got := a.unwrap(jid.MustParse(in)).String(); got != want {
			t.Errorf("unwrap(%s) = %s, want %s", in, got, want)
		}
	}
}
