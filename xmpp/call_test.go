package xmpp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"github.com/sigbridge/sigbridge/xmpp/xmpptest"
)

// A Jingle client calls a browser user through the component (JMI, then
// Jingle), media flows both ways, and the hang-up reaches the other side.
func TestJingleClientCallsBrowser(t *testing.T) {
	for _, noJMI := range []bool{false, true} {
		name := map[bool]string{false: "jmi", true: "no-jmi"}[noJMI]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			romeo := e.login("romeo")
			ctx := ctxFor(t, 30*time.Second)
			call, leg := placeFromJingle(t, ctx, e, romeo, "alice", noJMI)
			if got := leg.call.From(); got != "xmpp:romeo@localhost" {
				t.Errorf("caller address = %q", got)
			}
			assertMedia(t, ctx, call.Media, leg.peer)
			if err := call.Hangup(ctx, "success"); err != nil {
				t.Fatal(err)
			}
			if r := leg.waitHangup(t, 5*time.Second); r.Condition != gateway.CondSuccess {
				t.Errorf("browser got hangup %+v, want success", r)
			}
			waitNoSessions(t, e.a)
		})
	}
}

// The browser hangs up: the Jingle client gets session-terminate success.
func TestBrowserHangsUpOnJingleClient(t *testing.T) {
	e := newEnv(t, nil)
	romeo := e.login("romeo")
	ctx := ctxFor(t, 30*time.Second)
	call, leg := placeFromJingle(t, ctx, e, romeo, "alice", false)
	assertMedia(t, ctx, call.Media, leg.peer)

	// Another user cannot touch romeo's session.
	juliet := e.login("juliet")
	ti := &jingle.Jingle{Action: jingle.ActionTransportInfo, SID: call.SID, Contents: []jingle.Content{{
		Creator: "initiator", Name: "0", Transport: &jingle.Transport{Ufrag: "u", Pwd: "p"}}}}
	var iqErr *xmpptest.IQError
	if err := juliet.SendJingle(ctx, e.gwJID("alice"), ti); !errors.As(err, &iqErr) || iqErr.App != "unknown-session" {
		t.Errorf("transport-info from another JID: %v, want unknown-session", err)
	}
	// The initiator cannot accept its own session.
	acc := &jingle.Jingle{Action: jingle.ActionSessionAccept, SID: call.SID}
	if err := romeo.SendJingle(ctx, e.gwJID("alice"), acc); !errors.As(err, &iqErr) || iqErr.App != "out-of-order" {
		t.Errorf("session-accept from the initiator: %v, want out-of-order", err)
	}
	leg.hangup()
	select {
	case r := <-call.Ended():
		if r == nil || r.Condition != "success" {
			t.Errorf("terminate reason = %+v, want success", r)
		}
	case <-ctx.Done():
		t.Fatal("no session-terminate")
	}
	// JMI finish follows, its reason condition in urn:xmpp:jingle:1.
	fin, err := romeo.Expect(ctx, func(ev xmpptest.Event) bool { return ev.JMI != nil && ev.JMI.Name == "finish" })
	if err != nil {
		t.Fatal("no JMI finish:", err)
	}
	if fin.JMI.ID != call.SID || fin.JMI.Reason != "success" || fin.JMI.ReasonNS != jingle.NSJingle {
		t.Errorf("finish %+v", fin.JMI)
	}
	waitNoSessions(t, e.a)
}

// placeFromJingle has c call a browser user and returns both ends.
func placeFromJingle(t *testing.T, ctx context.Context, e *env, c *xmpptest.Client, user string, noJMI bool) (*xmpptest.Call, *browserLeg) {
	t.Helper()
	type result struct {
		call *xmpptest.Call
		err  error
	}
	done := make(chan result, 1)
	go func() {
		call, err := c.Call(ctx, e.gwJID(user), xmpptest.CallOptions{NoJMI: noJMI})
		done <- result{call, err}
	}()
	leg, err := e.browsers.next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("call: %v\n%s", r.err, e.p.LogTail())
	}
	t.Cleanup(r.call.Close)
	return r.call, leg
}

// assertMedia waits until both peers are ICE-connected and received RTP.
func assertMedia(t *testing.T, ctx context.Context, a, b *xmpptest.Peer) {
	t.Helper()
	for i, p := range []*xmpptest.Peer{a, b} {
		if err := p.WaitMedia(ctx, 10); err != nil {
			t.Fatalf("peer %d: %v", i, err)
		}
	}
}

func waitNoSessions(t *testing.T, a *Adapter) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for a.Sessions() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions left", a.Sessions())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Ringing from the browser becomes session-info <ringing/>; a busy browser
// becomes session-terminate busy; a caller that hangs up while ringing
// cancels the browser leg.
func TestCallerSeesRingingAndReasons(t *testing.T) {
	e := newEnv(t, nil)
	romeo := e.login("romeo")
	ctx := ctxFor(t, 30*time.Second)

	call, leg := placeFromJingle(t, ctx, e, romeo, "carl", false)
	select {
	case <-call.Ringing:
	default:
		t.Error("no session-info ringing before the answer")
	}
	assertMedia(t, ctx, call.Media, leg.peer)
	_ = call.Hangup(ctx, "success")
	leg.waitHangup(t, 5*time.Second)

	_, err := romeo.Call(ctx, e.gwJID("dave"), xmpptest.CallOptions{})
	if !errors.Is(err, xmpptest.ErrTerminated) || !strings.Contains(err.Error(), "busy") {
		t.Errorf("call to a busy browser: %v, want terminated busy", err)
	}

	_, err = romeo.Call(ctx, e.gwJID("nobody"), xmpptest.CallOptions{})
	if !errors.Is(err, xmpptest.ErrTerminated) || !strings.Contains(err.Error(), "gone") {
		t.Errorf("call to an unknown browser user: %v, want terminated gone", err)
	}
	waitNoSessions(t, e.a)
}

// A proposal to a target the router refuses is rejected (decline); after a
// session ended, its sid is unknown.
func TestProposalRejectedByPolicy(t *testing.T) {
	e := newEnv(t, nil)
	romeo := e.login("romeo")
	ctx := ctxFor(t, 30*time.Second)
	_, err := romeo.Call(ctx, e.gwJID(`bob\40pbx.example.org`), xmpptest.CallOptions{})
	if !errors.Is(err, xmpptest.ErrRejected) || !strings.Contains(err.Error(), "decline") {
		t.Errorf("call to an unrouted SIP target: %v, want rejected decline", err)
	}

	call, leg := placeFromJingle(t, ctx, e, romeo, "alice", false)
	leg.hangup()
	<-call.Ended()
	waitNoSessions(t, e.a)
	ti := &jingle.Jingle{Action: jingle.ActionTransportInfo, SID: call.SID, Contents: []jingle.Content{{
		Creator: "initiator", Name: "0", Transport: &jingle.Transport{Ufrag: "u", Pwd: "p"}}}}
	var iqErr *xmpptest.IQError
	if err := romeo.SendJingle(ctx, e.gwJID("alice"), ti); !errors.As(err, &iqErr) || iqErr.App != "unknown-session" {
		t.Errorf("IQ after terminate: %v, want unknown-session", err)
	}
}

// callJuliet has the browser user alice call juliet, who answers.
func callJuliet(t *testing.T, ctx context.Context, e *env, juliet *xmpptest.Client) (*xmpptest.Call, *browserLeg) {
	t.Helper()
	answered := make(chan *xmpptest.Call, 1)
	go func() {
		call, err := juliet.Answer(ctx)
		if err != nil {
			t.Error(err)
		}
		answered <- call
	}()
	leg, err := newBrowserLeg(t, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := leg.place(ctx, e.gw, "xmpp:"+e.p.JID("juliet")); err != nil {
		t.Fatal(err)
	}
	call := <-answered
	if call == nil {
		t.FailNow()
	}
	t.Cleanup(call.Close)
	return call, leg
}

// egressDialer stands in for the SIP adapter: a dialer for sip: targets
// with its own egress policy (sip.Adapter.CheckEgress), which allows only
// pbx.example.org. Its Dial never succeeds (no SIP here).
type egressDialer struct{ dials atomic.Int32 }

func (d *egressDialer) Dial(context.Context, gateway.DialRequest) (gateway.Leg, error) {
	d.dials.Add(1)
	return nil, fmt.Errorf("%w: no SIP in this test", gateway.ErrOffline)
}

func (d *egressDialer) CheckEgress(_ string, t gateway.Target) error {
	if t.Host != "pbx.example.org" {
		return fmt.Errorf("%w: no route for %s", gateway.ErrForbidden, t.String())
	}
	return nil
}

// A proposal to a target the callee adapter's egress policy refuses is
// answered reject (decline, in urn:xmpp:jingle:1), not proceed; no call is
// placed. A routable target still gets proceed.
func TestProposalRejectedByEgressPolicy(t *testing.T) {
	e := newEnv(t, nil)
	sipd := &egressDialer{}
	e.gw.Router().Handle(gateway.SchemeSIP, sipd)
	romeo := e.login("romeo")
	ctx := ctxFor(t, 30*time.Second)
	for _, tc := range []struct{ local, want string }{
		{`bob\40evil.example.com`, "reject"},
		{`bob\40pbx.example.org`, "proceed"},
	} {
		id := "p-" + tc.want
		if err := romeo.SendJMI(ctx, e.gwJID(tc.local), "propose", id, "", "audio"); err != nil {
			t.Fatal(err)
		}
		ev, err := romeo.Expect(ctx, func(ev xmpptest.Event) bool {
			return ev.JMI != nil && ev.JMI.ID == id && (ev.JMI.Name == "reject" || ev.JMI.Name == "proceed")
		})
		if err != nil {
			t.Fatalf("%s: no answer to the propose: %v", tc.local, err)
		}
		if ev.JMI.Name != tc.want {
			t.Errorf("%s: %s, want %s", tc.local, ev.JMI.Name, tc.want)
		}
		if tc.want == "reject" && (ev.JMI.Reason != "decline" || ev.JMI.ReasonNS != jingle.NSJingle) {
			t.Errorf("%s: reject reason %q in %q, want decline in %s", tc.local, ev.JMI.Reason, ev.JMI.ReasonNS, jingle.NSJingle)
		}
		if tc.want == "proceed" {
			_ = romeo.SendJMI(ctx, ev.From, "retract", id, "cancel")
		}
	}
	if n := sipd.dials.Load(); n != 0 {
		t.Errorf("%d dials for proposals", n)
	}
	waitNoSessions(t, e.a)
}
