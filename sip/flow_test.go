package sip

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sigbridge/sigbridge/gateway"
	"github.com/sigbridge/sigbridge/sip/siptest"
)

// Digest accounts of the registrar tests.
const (
	bobPassword   = "bob-secret"
	carolPassword = "carol-secret"
)

// registrarEnv is a gateway with UDP/TCP, TLS and WebSocket listeners, two
// digest accounts (bob, carol) and fast dialog probes.
func registrarEnv(t *testing.T) *testEnv {
	t.Helper()
	return newEnv(t, registrarConfig(t))
}

// registrarConfig is registrarEnv's configuration.
func registrarConfig(t *testing.T) Config {
	t.Helper()
	cert, key := selfSigned(t)
	return probingConfig(Config{WSListen: "127.0.0.1:0", TLSListen: "127.0.0.1:0", TLSCert: cert, TLSKey: key,
		InboundUsers: []InboundUser{{Username: "bob", Password: bobPassword}, {Username: "carol", Password: carolPassword}}})
}

// dialUA connects a browser-like UA (Contact host "<random>.invalid").
func dialUA(t *testing.T, env *testEnv, transport, user string) *siptest.StreamUA {
	t.Helper()
	addr := env.a.AddrOf(strings.ToLower(transport)) // udp and tcp share the port
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ua, err := siptest.DialStream(ctx, transport, addr, DefaultWSPath, user)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ua.Close() })
	return ua
}

func uaAnswers(ua *siptest.StreamUA) {
	ua.Answer = func(*sip.Request) (int, string) { return 200, webrtcSDP("active", "uaua", 40010) }
}

func registerUA(t *testing.T, env *testEnv, ua *siptest.StreamUA, password string, expires int) *sip.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := ua.Register(ctx, env.a.cfg.Host, password, expires)
	if err != nil {
		t.Fatalf("REGISTER: %v", err)
	}
	return res
}

func mustRegister(t *testing.T, env *testEnv, ua *siptest.StreamUA) {
	t.Helper()
	if res := registerUA(t, env, ua, bobPassword, 300); res.StatusCode != 200 {
		t.Fatalf("REGISTER: %s", res.StartLine())
	}
}

// expectInDialog waits for an in-dialog request on the UA's own connection,
// sent to its unresolvable Contact.
func expectInDialog(t *testing.T, ua *siptest.StreamUA, method string) *sip.Request {
	t.Helper()
	req, err := ua.WaitRequest(method, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(req.Recipient.Host, ".invalid") {
		t.Errorf("%s Request-URI %s, want the UA's Contact", method, req.Recipient.String())
	}
	return req
}

var flowTransports = []string{"WS", "TCP", "TLS", "UDP"}

// TestFlowInboundDialog: a UA whose Contact never resolves calls a browser
// user over WS, TCP, TLS and UDP; the dialog probes and the callee's BYE reach
// it on its own connection.
func TestFlowInboundDialog(t *testing.T) {
	for _, tr := range flowTransports {
		t.Run(tr, func(t *testing.T) {
			env := registrarEnv(t)
			ua := dialUA(t, env, tr, "bob")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := ua.Invite(ctx, "sip:answer@"+env.a.cfg.Host, webrtcSDP("actpass", "uaua", 40010), bobPassword)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("INVITE: %v %v", res, err)
			}
			callee := env.users.leg(t, "answer")
			if from := callee.call.From(); from != "sip:bob@"+env.a.cfg.Realm {
				t.Errorf("caller %q, want the digest user's AOR", from)
			}
			expectInDialog(t, ua, "OPTIONS")
			expectInDialog(t, ua, "OPTIONS")
			_ = callee.call.Post(callee, gateway.Hangup{})
			expectInDialog(t, ua, "BYE")
			waitDone(t, callee.call)
			if got := probesMetric(env, "gone"); got != 0 {
				t.Errorf("probes{gone} = %v", got)
			}
		})
	}
}

// TestFlowOutboundToRegistered: a browser user calls a UA registered over
// WS, TCP, TLS and UDP (its source address); INVITE, probes and BYE reach it on its connection.
func TestFlowOutboundToRegistered(t *testing.T) {
	for _, tr := range flowTransports {
		t.Run(tr, func(t *testing.T) {
			env := registrarEnv(t)
			ua := dialUA(t, env, tr, "bob")
			uaAnswers(ua)
			mustRegister(t, env, ua)
			caller, call := placeToSIP(t, env, "sip:bob@"+env.a.cfg.Host)
			expectInDialog(t, ua, "INVITE")
			expectAnswer(t, caller)
			expectInDialog(t, ua, "ACK")
			expectInDialog(t, ua, "OPTIONS")
			_ = call.Post(caller, gateway.Hangup{})
			expectInDialog(t, ua, "BYE")
			waitDone(t, call)
			waitFlowsForgotten(t, env)
		})
	}
}

// waitFlowsForgotten: ended dialogs leave nothing in the flow table.
func waitFlowsForgotten(t *testing.T, env *testEnv) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for env.a.flows.count() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d dialogs still in the flow table", env.a.flows.count())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFlowClosedEndsDialogs: when a UA's WebSocket closes, its dialogs end
// at once (long before a probe could notice) and the other leg gets
// connectivity-error; its registration is dropped.
func TestFlowClosedEndsDialogs(t *testing.T) {
	t.Run("inbound", func(t *testing.T) {
		env := newEnv(t, Config{WSListen: "127.0.0.1:0", InboundUsers: []InboundUser{{Username: "bob", Password: bobPassword}}})
		ua := dialUA(t, env, "WS", "bob")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if res, err := ua.Invite(ctx, "sip:answer@"+env.a.cfg.Host, webrtcSDP("actpass", "uaua", 40010), bobPassword); err != nil || res.StatusCode != 200 {
			t.Fatalf("INVITE: %v %v", res, err)
		}
		callee := env.users.leg(t, "answer")
		_ = ua.Close()
		expectFlowClosed(t, callee)
		waitDone(t, callee.call)
	})
	t.Run("registered", func(t *testing.T) {
		env := newEnv(t, Config{WSListen: "127.0.0.1:0", InboundUsers: []InboundUser{{Username: "bob", Password: bobPassword}}})
		ua := dialUA(t, env, "WS", "bob")
		uaAnswers(ua)
		mustRegister(t, env, ua)
		caller, call := placeToSIP(t, env, "sip:bob@"+env.a.cfg.Host)
		expectAnswer(t, caller)
		_ = ua.Close()
		expectFlowClosed(t, caller)
		waitDone(t, call)
		waitBindings(t, env, 0)
	})
}

// TestFlowClosedEndsByeWait: a UA that closes its connection while our
// BYE waits for its answer ends that wait: the leg and its dialog go at
// once, not after the BYE's own timeout (byeTimeout; waitFlowsForgotten waits
// at most half of it).
func TestFlowClosedEndsByeWait(t *testing.T) {
	for _, tr := range []string{"WS", "TCP"} {
		t.Run(tr, func(t *testing.T) {
			env := registrarEnv(t)
			ua := dialUA(t, env, tr, "bob")
			uaAnswers(ua)
			ua.Ignore = func(req *sip.Request) bool { return req.Method == sip.BYE }
			mustRegister(t, env, ua)
			caller, call := placeToSIP(t, env, "sip:bob@"+env.a.cfg.Host)
			expectAnswer(t, caller)
			_ = call.Post(caller, gateway.Hangup{})
			expectInDialog(t, ua, "BYE")
			waitDone(t, call)
			if n := env.a.flows.count(); n != 1 {
				t.Fatalf("%d dialogs in the flow table while the BYE waits, want 1", n)
			}
			_ = ua.Close()
			waitFlowsForgotten(t, env)
		})
	}
}

func expectFlowClosed(t *testing.T, l *testLeg) {
	t.Helper()
	h := l.expect(t, "hangup").(gateway.Hangup)
	if h.Reason.Condition != gateway.CondConnectivityError || h.Reason.Text != ReasonFlowClosed.Text {
		t.Errorf("hangup %+v, want %+v", h.Reason, ReasonFlowClosed)
	}
}

func bindingsMetric(env *testEnv) float64 { return testutil.ToFloat64(env.a.m.bindings) }

func waitBindings(t *testing.T, env *testEnv, n float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for bindingsMetric(env) != n {
		if time.Now().After(deadline) {
			t.Fatalf("bindings gauge %v, want %v", bindingsMetric(env), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFlowUDPSource: over UDP the dialog's flow is the source address of
// the INVITE: probes and BYE reach a UA whose Contact does not resolve.
func TestFlowUDPSource(t *testing.T) {
	env := newEnv(t, probingConfig(Config{TrustedSources: []string{"127.0.0.1/32"}}))
	c := dialRaw(t, env.a.Addr())
	inv := c.rawRequest("INVITE", "sip:answer@"+env.a.cfg.Host,
		[]string{"!Contact: <sip:tester@nat0001.invalid>", "Content-Type: application/sdp"},
		webrtcSDP("actpass", "udpc", 40020))
	c.send(t, inv)
	res := c.final(10 * time.Second)
	if res == nil || res.StatusCode != 200 {
		t.Fatalf("INVITE: %v", res)
	}
	ack := c.rawRequest("ACK", "sip:answer@"+env.a.cfg.Host, []string{"!From: " + res.From().Value(),
		"!To: " + res.To().Value(), "!Call-ID: " + res.CallID().Value(), "!CSeq: 1 ACK"}, "")
	c.send(t, ack)
	callee := env.users.leg(t, "answer")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		req, ok := c.read(time.Until(deadline)).(*sip.Request)
		if !ok || req.Method != sip.OPTIONS {
			continue
		}
		if req.Recipient.Host != "nat0001.invalid" {
			t.Errorf("probe Request-URI %s", req.Recipient.String())
		}
		reply := sip.NewResponseFromRequest(req, 200, "OK", nil)
		c.send(t, reply.String())
		_ = callee.call.Post(callee, gateway.Hangup{})
		waitDone(t, callee.call)
		return
	}
	t.Fatal("no probe reached the UDP source address")
}

// TestCallBackReachesRegistered: a digest caller is presented as its AOR,
// and calling that address back rings its registered UA.
func TestCallBackReachesRegistered(t *testing.T) {
	env := registrarEnv(t)
	ua := dialUA(t, env, "WS", "bob")
	uaAnswers(ua)
	mustRegister(t, env, ua)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if res, err := ua.Invite(ctx, "sip:answer@"+env.a.cfg.Host, webrtcSDP("actpass", "uaua", 40010), bobPassword); err != nil || res.StatusCode != 200 {
		t.Fatalf("INVITE: %v %v", res, err)
	}
	callee := env.users.leg(t, "answer")
	_ = callee.call.Post(callee, gateway.Hangup{})
	expectInDialog(t, ua, "BYE")
	waitDone(t, callee.call)
	caller, call := placeToSIP(t, env, callee.call.From())
	expectInDialog(t, ua, "INVITE")
	expectAnswer(t, caller)
	_ = call.Post(caller, gateway.Hangup{})
	expectInDialog(t, ua, "BYE")
	waitDone(t, call)
}
