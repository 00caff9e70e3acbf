package sip

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/sigbridge/sigbridge/gateway"
)

func policyAdapter(t *testing.T, routes ...Route) *Adapter {
	t.Helper()
	a, err := New(Config{Listen: "127.0.0.1:0", Routes: routes}, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	a.addrs["udp"] = "127.0.0.1:5060"
	return a
}

func TestEgressPolicy(t *testing.T) {
	a := policyAdapter(t,
		Route{Name: "us-trunk", Prefix: "tel:+1", Proxy: "sip:trunk.example.net:5080;transport=tcp", Transport: "tcp"},
		Route{Name: "pbx-ext", Match: `^sip:[0-9]{3}@198\.51\.100\.7$`, Numbers: `^[0-9]{3}$`},
		Route{Name: "any-sip", Match: `^sips?:[a-z]+@`},
	)
	cases := []struct {
		target string
		ok     bool
		why    string
		ruri   string
	}{
		{"+15551234567", true, "", "sip:+15551234567@trunk.example.net;user=phone"},
		{"tel:+15551234567", true, "", "sip:+15551234567@trunk.example.net;user=phone"},
		{"+445551234567", false, "no route", ""},
		{"sip:500&SIP/x/1@198.51.100.7", false, "not allowed in user part", ""},
		{"sip:+1555;user=phone@198.51.100.7", false, "not allowed in user part", ""},
		{"sip:a%0d%0aVia@198.51.100.7", false, "not allowed in user part", ""},
		{"sip:x@127.0.0.1", false, "not permitted", ""},
		{"sip:x@127.0.0.2", false, "not routable", ""},
		{"sip:a@10.0.0.1", false, "not routable", ""},
		{"sip:a@[::1]", false, "not routable", ""},
		{"sip:a@[fe80::1]:5060", false, "not routable", ""},
		{"sip:a@localhost", false, "not routable", ""},
		{"sip:bob@198.51.100.7", true, "", "sip:bob@198.51.100.7"},
		{"sips:bob@198.51.100.7:5061", true, "", "sips:bob@198.51.100.7:5061"},
		{"sip:500@198.51.100.7", true, "", "sip:500@198.51.100.7"},
		{"sip:5000@198.51.100.7", false, "no route", ""},
		{"sip:sigbridge@127.0.0.1:5060", false, "this gateway", ""},
	}
	for _, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			tgt, err := gateway.ParseTarget(tc.target)
			if err != nil {
				if tc.ok {
					t.Fatalf("ParseTarget: %v", err)
				}
				return // refused before it reaches us: fine
			}
			plan, err := a.planEgress(context.Background(), tgt)
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got := plan.ruri.String(); got != tc.ruri {
					t.Errorf("Request-URI %s, want %s", got, tc.ruri)
				}
				return
			}
			if !errors.Is(err, gateway.ErrForbidden) {
				t.Fatalf("err %v, want ErrForbidden", err)
			}
			if !strings.Contains(err.Error(), tc.why) {
				t.Errorf("err %q lacks %q", err, tc.why)
			}
		})
	}
}

func TestEgressAllowPrivateRoute(t *testing.T) {
	a := policyAdapter(t, loopbackRoute())
	tgt, _ := gateway.ParseTarget("sip:bob@127.0.0.1:5999")
	if _, err := a.planEgress(context.Background(), tgt); err != nil {
		t.Fatal(err)
	}
	tgt, _ = gateway.ParseTarget("sip:bob@127.0.0.1:5060")
	if _, err := a.planEgress(context.Background(), tgt); !errors.Is(err, gateway.ErrForbidden) {
		t.Fatalf("our own address: err %v", err)
	}
}

func TestCheckEgressAsRouterPolicy(t *testing.T) {
	a := policyAdapter(t)
	tgt, _ := gateway.ParseTarget("alice")
	if err := a.CheckEgress("bob", tgt); err != nil {
		t.Errorf("user targets are not ours to judge: %v", err)
	}
	tgt, _ = gateway.ParseTarget("sip:bob@198.51.100.7")
	if err := a.CheckEgress("alice", tgt); !errors.Is(err, gateway.ErrForbidden) {
		t.Errorf("err %v, want ErrForbidden", err)
	}
}

func TestConfigErrors(t *testing.T) {
	bad := []Config{
		{Routes: []Route{{Name: "empty"}}},
		{Routes: []Route{{Match: "("}}},
		{Routes: []Route{{Match: ".", Transport: "carrier-pigeon"}}},
		{Routes: []Route{{Match: ".", PasswordEnv: "SIGBRIDGE_SURELY_UNSET_VAR"}}},
		{TrustedSources: []string{"not-an-address"}},
		{InboundUsers: []InboundUser{{Username: "x"}}},
		{Accounts: []Account{{Registrar: "sip:reg.example.org", Username: "a"}}},
		{Host: "bad host\r\n"},
	}
	for i, cfg := range bad {
		if _, err := New(cfg, nil, nil, nil, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("config %d: err %v, want ErrConfig", i, err)
		}
	}
}

// TestPortIs checks portIs against strconv.Itoa, without allocating.
func TestPortIs(t *testing.T) {
	for _, port := range []int{-1, 0, 9, 5060, 65535, 1 << 40} {
		for _, p := range []string{strconv.Itoa(port), "0" + strconv.Itoa(port), "", "5060"} {
			if got, want := portIs(p, port), p == strconv.Itoa(port); got != want {
				t.Errorf("portIs(%q, %d) = %v", p, port, got)
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() { portIs("25060", 25060) }); n != 0 {
		t.Fatalf("portIs allocates %v times", n)
	}
}
