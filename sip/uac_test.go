package sip

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sigbridge/sigbridge/gateway"
)

// placeToSIP makes a browser-side test leg call target through the gateway.
func placeToSIP(t *testing.T, env *testEnv, target string) (*testLeg, *gateway.Call) {
	t.Helper()
	return placeToSIPAs(t, env, "alice", target)
}

// placeToSIPAs is placeToSIP with the caller named from.
func placeToSIPAs(t *testing.T, env *testEnv, from, target string) (*testLeg, *gateway.Call) {
	t.Helper()
	caller := newTestLeg(from)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	call, err := env.gw.Place(ctx, gateway.PlaceRequest{Caller: caller, From: from, Target: target,
		Offer: mustSDP(t, webrtcSDP("actpass", "alic", 30000))})
	if err != nil {
		t.Fatalf("Place %s: %v", target, err)
	}
	caller.call = call
	return caller, call
}

func waitDone(t *testing.T, call *gateway.Call) {
	t.Helper()
	select {
	case <-call.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("call did not end")
	}
}

func callsMetric(env *testEnv, dir string, code string) float64 {
	return testutil.ToFloat64(env.a.m.calls.WithLabelValues(dir, code))
}

func TestOutboundAnsweredCallerHangsUp(t *testing.T) {
	env := newEnv(t, Config{Routes: []Route{loopbackRoute()}})
	uas := startSIPp(t, "uas_answer.xml", "")
	caller, call := placeToSIP(t, env, "sip:bob@"+uas.addr)
	ans := expectAnswer(t, caller)
	if u, _ := ans.SDP.MediaDescriptions[0].Attribute("ice-ufrag"); u != "sipp" {
		t.Errorf("answer ufrag %q, want sipp", u)
	}
	if err := call.Post(caller, gateway.Hangup{}); err != nil {
		t.Fatal(err)
	}
	uas.wait(t)
	waitDone(t, call)
	if got := callsMetric(env, "out", "200"); got != 1 {
		t.Errorf("calls{out,200} = %v", got)
	}
}

func TestOutboundCalleeHangsUp(t *testing.T) {
	env := newEnv(t, Config{Routes: []Route{loopbackRoute()}})
	uas := startSIPp(t, "uas_bye.xml", "")
	caller, call := placeToSIP(t, env, "sip:bob@"+uas.addr)
	expectAnswer(t, caller)
	h := caller.expect(t, "hangup").(gateway.Hangup)
	if h.Reason.Condition != gateway.CondSuccess {
		t.Errorf("hangup reason %+v, want success", h.Reason)
	}
	uas.wait(t)
	waitDone(t, call)
}

func TestOutboundFailures(t *testing.T) {
	cases := []struct {
		scenario string
		code     int
		cond     string
	}{
		{"uas_busy.xml", 486, gateway.CondBusy},
		{"uas_decline.xml", 603, gateway.CondDecline},
		{"uas_notfound.xml", 404, gateway.CondGone},
		{"uas_offline.xml", 480, gateway.CondGone},
		{"uas_unavailable.xml", 503, gateway.CondConnectivityError},
		{"uas_redirect.xml", 302, gateway.CondGeneralError}, // never followed
	}
	for _, tc := range cases {
		t.Run(tc.scenario, func(t *testing.T) {
			env := newEnv(t, Config{Routes: []Route{loopbackRoute()}})
			uas := startSIPp(t, tc.scenario, "")
			caller, call := placeToSIP(t, env, "sip:bob@"+uas.addr)
			h := caller.expect(t, "hangup").(gateway.Hangup)
			if h.Reason.Code != tc.code || h.Reason.Condition != tc.cond {
				t.Errorf("hangup %+v, want %d %s", h.Reason, tc.code, tc.cond)
			}
			uas.wait(t)
			waitDone(t, call)
		})
	}
}

func TestOutboundDigest(t *testing.T) {
	t.Setenv("SIGBRIDGE_TEST_TRUNK_PW", "trunkpass")
	rt := loopbackRoute()
	rt.Username, rt.PasswordEnv = "trunkuser", "SIGBRIDGE_TEST_TRUNK_PW"
	env := newEnv(t, Config{Routes: []Route{rt}})
	uas := startSIPp(t, "uas_auth.xml", "")
	caller, call := placeToSIP(t, env, "sip:bob@"+uas.addr)
	caller.expect(t, "answer")
	_ = call.Post(caller, gateway.Hangup{})
	uas.wait(t)
	waitDone(t, call)
}

func TestOutboundDigestWrongPassword(t *testing.T) {
	rt := loopbackRoute()
	rt.Username, rt.Password = "trunkuser", "wrong"
	env := newEnv(t, Config{Routes: []Route{rt}})
	uas := startSIPp(t, "uas_auth.xml", "")
	caller, call := placeToSIP(t, env, "sip:bob@"+uas.addr)
	h := caller.expect(t, "hangup").(gateway.Hangup)
	if h.Reason.Code != 403 {
		t.Errorf("hangup %+v, want 403", h.Reason)
	}
	uas.wait(t)
	waitDone(t, call)
}

func TestOutboundCancelWhileRinging(t *testing.T) {
	env := newEnv(t, Config{Routes: []Route{loopbackRoute()}})
	uas := startSIPp(t, "uas_ring.xml", "")
	caller, call := placeToSIP(t, env, "sip:bob@"+uas.addr)
	if r := caller.expect(t, "ringing").(gateway.Ringing); r.Code != 180 {
		t.Errorf("ringing code %d, want 180", r.Code)
	}
	if err := call.Post(caller, gateway.Hangup{}); err != nil {
		t.Fatal(err)
	}
	uas.wait(t) // it saw CANCEL, sent 200 and 487, got the ACK
	waitDone(t, call)
	wantCancelled(t, env)
}

// A callee that sends 100 Trying and nothing more is CANCELled at once
// when the caller hangs up (RFC 3261 §9.1), though the 100 never woke the
// leg (clientTx keeps it: provisionalSeen).
func TestOutboundCancelAfterTrying(t *testing.T) {
	env := newEnv(t, Config{Routes: []Route{loopbackRoute()}})
	uas := startSIPp(t, "uas_trying.xml", "")
	caller, call := placeToSIP(t, env, "sip:bob@"+uas.addr)
	waitInviteProceeding(t, env)
	if err := call.Post(caller, gateway.Hangup{}); err != nil {
		t.Fatal(err)
	}
	uas.wait(t) // it saw CANCEL, sent 200 and 487, got the ACK
	waitDone(t, call)
	wantCancelled(t, env)
}

// wantCancelled checks, within 5 s, that one outbound call ended 487
// (cancelled).
func wantCancelled(t *testing.T, env *testEnv) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for callsMetric(env, "out", "487") != 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := callsMetric(env, "out", "487"); got != 1 {
		t.Errorf("calls{out,487} = %v", got)
	}
}

// waitInviteProceeding waits until an INVITE client transaction of env's
// adapter has had a provisional response.
func waitInviteProceeding(t *testing.T, env *testEnv) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		env.a.clientTxs.mu.Lock()
		txs := make([]*clientTx, 0, len(env.a.clientTxs.txs))
		for _, tx := range env.a.clientTxs.txs {
			txs = append(txs, tx)
		}
		env.a.clientTxs.mu.Unlock()
		for _, tx := range txs {
			tx.mu.Lock()
			st := tx.state
			tx.mu.Unlock()
			if tx.invite && st == txProceeding {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no INVITE transaction got a provisional response")
}

func TestOutboundDeniedWithoutRoute(t *testing.T) {
	env := newEnv(t, Config{})
	caller := newTestLeg("alice")
	for _, target := range []string{"sip:bob@127.0.0.1:5099", "+15551234567", "sip:bob@example.org"} {
		_, err := env.gw.Place(context.Background(), gateway.PlaceRequest{Caller: caller, From: "alice",
			Target: target, Offer: mustSDP(t, webrtcSDP("actpass", "alic", 30000))})
		if !errors.Is(err, gateway.ErrForbidden) {
			t.Errorf("%s: err %v, want ErrForbidden", target, err)
		}
		if err != nil && !strings.Contains(err.Error(), "no route") {
			t.Errorf("%s: err %v", target, err)
		}
	}
}

// TestOutboundCancelCrossedBy200: the callee answers while our CANCEL is on
// its way; we ACK the 200 and then BYE it.
func TestOutboundCancelCrossedBy200(t *testing.T) {
	env := newEnv(t, Config{Routes: []Route{loopbackRoute()}})
	uas := startSIPp(t, "uas_cancel_race.xml", "")
	caller, call := placeToSIP(t, env, "sip:bob@"+uas.addr)
	caller.expect(t, "ringing")
	if err := call.Post(caller, gateway.Hangup{}); err != nil {
		t.Fatal(err)
	}
	uas.wait(t) // it got CANCEL, answered 200 anyway, then saw our ACK and BYE
	waitDone(t, call)
}

// TestOutboundViaTrunk: a tel: target goes to the route's trunk as
// sip:<number>@<trunk>;user=phone with a Route header to the proxy.
func TestOutboundViaTrunk(t *testing.T) {
	uas := startSIPp(t, "uas_answer.xml", "")
	env := newEnv(t, Config{Routes: []Route{{Name: "trunk", Prefix: "tel:+1", Proxy: "sip:" + uas.addr,
		Domain: "trunk.example.net", AllowPrivate: true}}})
	caller, call := placeToSIP(t, env, "+15551234567")
	expectAnswer(t, caller)
	_ = call.Post(caller, gateway.Hangup{})
	uas.wait(t)
	waitDone(t, call)
	msgs := uas.messageLog(t)
	for _, want := range []string{"INVITE sip:+15551234567@trunk.example.net;user=phone SIP/2.0", "Route: <sip:" + uas.addr + ";lr>"} {
		if !strings.Contains(msgs, want) {
			t.Errorf("SIPp did not see %q", want)
		}
	}
}
