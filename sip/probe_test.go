package sip

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sigbridge/sigbridge/gateway"
)

// probingConfig turns on fast dialog probes.
func probingConfig(cfg Config) Config {
	cfg.DialogProbeInterval = 200 * time.Millisecond
	cfg.DialogProbeTimeout = 700 * time.Millisecond
	return cfg
}

func probesMetric(env *testEnv, result string) float64 {
	return testutil.ToFloat64(env.a.m.probes.WithLabelValues(result))
}

// TestProbeAnsweredKeepsCall: a peer that answers the probes (200, then
// 405: it does not do OPTIONS but keeps the dialog) stays in the call until
// it hangs up itself.
func TestProbeAnsweredKeepsCall(t *testing.T) {
	env := newEnv(t, probingConfig(Config{Routes: []Route{loopbackRoute()}}))
	uas := startSIPp(t, "uas_probe_alive.xml", "")
	caller, call := placeToSIP(t, env, "sip:bob@"+uas.addr)
	expectAnswer(t, caller)
	h := caller.expect(t, "hangup").(gateway.Hangup)
	if h.Reason.Condition != gateway.CondSuccess {
		t.Errorf("hangup %+v, want the callee's own BYE (success)", h.Reason)
	}
	uas.wait(t)
	waitDone(t, call)
	if got := probesMetric(env, "alive"); got != 2 {
		t.Errorf("probes{alive} = %v, want 2", got)
	}
	if got := probesMetric(env, "gone"); got != 0 {
		t.Errorf("probes{gone} = %v, want 0", got)
	}
}

// TestProbe481EndsCall: a peer that no longer knows the dialog ends the
// call; the caller learns of a connectivity error.
func TestProbe481EndsCall(t *testing.T) {
	env := newEnv(t, probingConfig(Config{Routes: []Route{loopbackRoute()}}))
	uas := startSIPp(t, "uas_probe_481.xml", "")
	caller, call := placeToSIP(t, env, "sip:bob@"+uas.addr)
	expectAnswer(t, caller)
	expectVanished(t, caller)
	uas.wait(t)
	waitDone(t, call)
	if got := probesMetric(env, "gone"); got != 1 {
		t.Errorf("probes{gone} = %v, want 1", got)
	}
}

// TestProbeVanishedCallee: the callee disappears without BYE (SIPp exits
// after the ACK), over UDP (no answer) and TCP (connection refused).
func TestProbeVanishedCallee(t *testing.T) {
	for _, tc := range []struct{ name, transport, sippT string }{
		{"udp", "udp", "u1"},
		{"tcp", "tcp", "t1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := loopbackRoute()
			rt.Transport = tc.transport
			env := newEnv(t, probingConfig(Config{Routes: []Route{rt}}))
			uas := startSIPp(t, "uas_vanish.xml", "", "-t", tc.sippT)
			caller, call := placeToSIP(t, env, "sip:bob@"+uas.addr)
			expectAnswer(t, caller)
			uas.wait(t)
			expectVanished(t, caller)
			waitDone(t, call)
			if n := env.gw.ActiveCalls(); n != 0 {
				t.Errorf("%d calls still active", n)
			}
		})
	}
}

// TestProbeVanishedCaller: a SIP caller disappears after its ACK; the
// callee's leg is hung up.
func TestProbeVanishedCaller(t *testing.T) {
	env := newEnv(t, probingConfig(Config{TrustedSources: []string{"127.0.0.1/32"}}))
	uac := startSIPp(t, "uac_vanish.xml", env.a.Addr(), "-s", "answer")
	callee := env.users.leg(t, "answer")
	uac.wait(t)
	expectVanished(t, callee)
	waitDone(t, callee.call)
}

// TestProbeDisabled: a negative interval turns probing off; the vanished
// callee then stays in the call until the caller hangs up.
func TestProbeDisabled(t *testing.T) {
	cfg := Config{Routes: []Route{loopbackRoute()}, DialogProbeInterval: -1}
	env := newEnv(t, cfg)
	uas := startSIPp(t, "uas_vanish.xml", "")
	caller, call := placeToSIP(t, env, "sip:bob@"+uas.addr)
	expectAnswer(t, caller)
	uas.wait(t)
	// Three default-test intervals pass with no probe.
	if ev := caller.poll(600 * time.Millisecond); ev != nil {
		t.Fatalf("caller got %s %+v with probing off", ev.EventName(), ev)
	}
	if got := probesMetric(env, "alive") + probesMetric(env, "gone"); got != 0 {
		t.Errorf("%v probes sent with probing off", got)
	}
	_ = call.Post(caller, gateway.Hangup{})
	waitDone(t, call)
}

func expectVanished(t *testing.T, l *testLeg) {
	t.Helper()
	h := l.expect(t, "hangup").(gateway.Hangup)
	if h.Reason.Condition != gateway.CondConnectivityError {
		t.Errorf("%s: hangup %+v, want connectivity-error", l.name, h.Reason)
	}
}

// poll returns the next event other than EndOfCandidates within d, or nil.
func (l *testLeg) poll(d time.Duration) gateway.Event {
	deadline := time.After(d)
	for {
		select {
		case ev := <-l.events:
			if _, ok := ev.(gateway.EndOfCandidates); !ok {
				return ev
			}
		case <-deadline:
			return nil
		}
	}
}

// expectAnswer waits for the answer and returns it; the Ringing before it
// may be missing: sipgo v1.7.2 handles each response on its own goroutine
// (TransactionLayer.handleResponseBackground), so when SIPp sends 180 and
// 200 back to back the 200 may reach the INVITE transaction first, which
// then drops the late 180.
func expectAnswer(t *testing.T, l *testLeg) gateway.Answer {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ev := l.next(t, time.Until(deadline))
		switch e := ev.(type) {
		case gateway.Answer:
			return e
		case gateway.Ringing, gateway.EndOfCandidates:
			continue
		}
		t.Fatalf("%s: got %s %+v, want answer", l.name, ev.EventName(), ev)
	}
}
