package sip

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"

	"github.com/sigbridge/sigbridge/gateway"
)

// buildInviteBefore is buildInvite as it was before inviteHeaders: each
// header allocated on its own and appended after sipgo's Via. The tests
// below hold the new one to its bytes.
func (l *outLeg) buildInviteBefore(sd *sdp.SessionDescription) *sip.Request {
	req := sip.NewRequest(sip.INVITE, l.plan.ruri)
	req.SetTransport(l.transport)
	_ = sipgo.ClientRequestAddVia(l.a.cli, req)
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: inviteCSeq(), MethodName: sip.INVITE})
	req.AppendHeader(&maxFwd)
	from := &sip.FromHeader{DisplayName: displayName(l.from),
		Address: sip.Uri{Scheme: "sip", User: escapeUser(l.from), Host: l.a.cfg.Host}, Params: sip.NewParams()}
	from.Params.Add("tag", newTag())
	to := &sip.ToHeader{Address: sip.Uri{Scheme: l.plan.ruri.Scheme, User: l.plan.ruri.User, Host: l.plan.ruri.Host,
		Port: l.plan.ruri.Port}, Params: sip.NewParams()}
	if l.plan.aor != nil {
		to.Address = *l.plan.aor
	}
	callID := sip.CallIDHeader(l.callID)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(l.contactHeader())
	if p := l.plan.route.proxy; p != nil {
		req.AppendHeader(sip.NewHeader("Route", routeValue(p)))
	}
	req.AppendHeader(sip.NewHeader(loopHeader, l.a.loopTok))
	req.AppendHeader(sip.NewHeader("User-Agent", l.a.cfg.UserAgent))
	req.AppendHeader(sip.NewHeader("Allow", allowed))
	req.AppendHeader(contentTypeSDP())
	body := sdpBytes(sd)
	length := sip.ContentLengthHeader(len(body))
	req.AppendHeader(&length)
	req.SetBody(body)
	l.a.fromListener(req, l.transport)
	return req
}

// inviteRandom are the random parts of an INVITE: branch, From tag, CSeq.
var inviteRandom = regexp.MustCompile(`branch=z9hG4bK[^;\r\n>]*|tag=[0-9a-f]+|CSeq: [0-9]+`)

// testInviteLegs returns outbound legs (not started) to a plain target, a
// target behind a proxy route, a registered user's AOR, over UDP and TCP.
func testInviteLegs(t *testing.T) []*outLeg {
	t.Helper()
	proxy := Route{Name: "proxy", Match: `^sip:[^@]+@proxied\.example$`, Proxy: "sip:198.51.100.9:5070"}
	e := newEnv(t, Config{Routes: []Route{loopbackRoute(), proxy}, UserAgent: "sigbridge-test"})
	var legs []*outLeg
	for _, target := range []string{"sip:bob@127.0.0.1:5099", "sip:carol@proxied.example"} {
		tgt, err := gateway.ParseTarget(target)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := e.a.planEgress(context.Background(), tgt)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		for _, tr := range []string{"UDP", "TCP"} {
			l := &outLeg{legCore: &legCore{a: e.a, transport: tr}, plan: plan, from: `xmpp:jü"liet@example.org`,
				callID: "0123456789abcdef"}
			legs = append(legs, l)
		}
	}
	aor := sip.Uri{Scheme: "sip", User: "dave", Host: "gw.example", UriParams: sip.HeaderParams{{K: "ob", V: ""}}}
	first := legs[0]
	reg := &outLeg{legCore: first.legCore, plan: first.plan, from: first.from, callID: first.callID}
	reg.plan.aor = &aor
	return append(legs, reg)
}

// TestBuildInviteAsBefore checks that buildInvite's INVITE has the bytes
// (but for its random branch, tag and CSeq) and the header types (sipgo
// finds From, To, Via... by type) of the one built before.
func TestBuildInviteAsBefore(t *testing.T) {
	sd := mustSDP(t, webrtcSDP("actpass", "alic", 30000))
	for i, l := range testInviteLegs(t) {
		got, want := l.buildInvite(sd), l.buildInviteBefore(sd)
		gs := inviteRandom.ReplaceAllString(got.String(), "#")
		ws := inviteRandom.ReplaceAllString(want.String(), "#")
		if gs != ws {
			t.Fatalf("leg %d:\n got %q\nwant %q", i, gs, ws)
		}
		if g, w := headerTypes(got), headerTypes(want); g != w {
			t.Fatalf("leg %d: header types\n got %s\nwant %s", i, g, w)
		}
		if l.plan.route.proxy != nil && got.GetHeader("Route") == nil {
			t.Fatalf("leg %d: no Route", i)
		}
		if got.Via() != got.Headers()[0] || got.From() == nil || got.To() == nil || got.CallID() == nil ||
			got.Contact() == nil || got.ContentLength() == nil || got.CSeq() == nil || got.MaxForwards() == nil {
			t.Fatalf("leg %d: header references missing", i)
		}
	}
}

func headerTypes(req *sip.Request) string {
	var s string
	for _, h := range req.Headers() {
		s += fmt.Sprintf("%T ", h)
	}
	return s
}

// TestBuildInviteAllocs checks that buildInvite allocates at least nine
// times fewer than before (its header slice grew four times, seven
// headers and two parameter lists were allocated each).
func TestBuildInviteAllocs(t *testing.T) {
	sd := mustSDP(t, webrtcSDP("actpass", "alic", 30000))
	l := testInviteLegs(t)[0]
	got := testing.AllocsPerRun(50, func() { l.buildInvite(sd) })
	was := testing.AllocsPerRun(50, func() { l.buildInviteBefore(sd) })
	t.Logf("buildInvite: %v allocations, before: %v", got, was)
	if got > was-9 {
		t.Fatalf("buildInvite allocates %v times, before %v", got, was)
	}
}
