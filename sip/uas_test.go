package sip

import (
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
)

func trustedEnv(t *testing.T) *testEnv {
	return newEnv(t, Config{TrustedSources: []string{"127.0.0.1/32"}})
}

func waitMetric(t *testing.T, env *testEnv, dir, code string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for callsMetric(env, dir, code) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("calls{%s,%s} never counted", dir, code)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestInboundAnswered(t *testing.T) {
	env := trustedEnv(t)
	uac := startSIPp(t, "uac_call.xml", env.a.Addr(), "-s", "answer")
	callee := env.users.leg(t, "answer")
	uac.wait(t)
	waitMetric(t, env, "in", "200")
	h := callee.expect(t, "hangup").(gateway.Hangup)
	if h.Reason.Condition != gateway.CondSuccess {
		t.Errorf("callee hangup %+v, want success", h.Reason)
	}
	if callee.call.From() == "" || callee.call.From()[:4] != "sip:" {
		t.Errorf("caller address %q is not a sip: address", callee.call.From())
	}
}

func TestInboundRefused(t *testing.T) {
	cases := []struct{ scenario, user, code string }{
		{"uac_decline.xml", "decline", "603"},
		{"uac_busy.xml", "busy", "486"},
		{"uac_offline.xml", "offline", "480"},
		{"uac_unknown.xml", "nobody", "404"},
	}
	for _, tc := range cases {
		t.Run(tc.user, func(t *testing.T) {
			env := trustedEnv(t)
			uac := startSIPp(t, tc.scenario, env.a.Addr(), "-s", tc.user)
			uac.wait(t)
			waitMetric(t, env, "in", tc.code)
		})
	}
}

func TestInboundCancel(t *testing.T) {
	env := trustedEnv(t)
	uac := startSIPp(t, "uac_cancel.xml", env.a.Addr(), "-s", "ring")
	callee := env.users.leg(t, "ring")
	uac.wait(t)
	h := callee.expect(t, "hangup").(gateway.Hangup)
	if h.Reason.Condition != gateway.CondCancel {
		t.Errorf("callee hangup %+v, want cancel", h.Reason)
	}
	waitMetric(t, env, "in", "487")
}

func TestInboundUntrustedRefused(t *testing.T) {
	env := newEnv(t, Config{})
	uac := startSIPp(t, "uac_forbidden.xml", env.a.Addr(), "-s", "answer")
	uac.wait(t)
	waitMetric(t, env, "in", "403")
}
