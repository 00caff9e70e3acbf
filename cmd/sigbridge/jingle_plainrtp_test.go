package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/internal/rtpenginetest"
	"github.com/sigbridge/sigbridge/sip"
	"github.com/sigbridge/sigbridge/sip/rtpengine"
	"github.com/sigbridge/sigbridge/sip/siptest"
	"github.com/sigbridge/sigbridge/xmpp/xmpptest"
)

// A Jingle client calls a plain-RTP SIP phone on a route with media:
// rtpengine: the phone gets RTP/AVP without ICE or DTLS, the Jingle client
// ICE and DTLS-SRTP; G.711 audio flows both ways through a real rtpengine;
// the client's session-terminate BYEs the phone and deletes the session.
func TestJinglePlainRTPAnchored(t *testing.T) {
	r := rtpenginetest.Start(t)
	e := newJingleSIPEnvWith(t, func(cfg *Config) {
		cfg.SIP.Routes[0].Media = sip.MediaRTPEngine
		cfg.RTPEngine.NG = []string{r.NG}
		cfg.RTPEngine.Timeout = 500 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	ua, err := siptest.NewPlainUA("bob", jsipLogger(t).With("peer", "plain"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ua.Close() })
	romeo := e.login(t, ctx)
	call, err := romeo.Call(ctx, e.target(t, ua.Addr()), xmpptest.CallOptions{G711: true})
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	t.Cleanup(call.Close)
	var phone *siptest.PlainCall
	select {
	case phone = <-ua.Incoming:
	case <-ctx.Done():
		t.Fatal("no call reached the plain phone")
	}
	offers := phone.Offers()
	if len(offers) == 0 {
		t.Fatal("the phone got no offer")
	}
	for _, bad := range []string{"a=ice-ufrag", "a=fingerprint", "SAVPF", "a=candidate"} {
		if strings.Contains(offers[0], bad) {
			t.Errorf("the phone's offer has %q:\n%s", bad, offers[0])
		}
	}
	if rd := call.Media.PC.RemoteDescription(); rd == nil || !strings.Contains(rd.SDP, "a=fingerprint") ||
		!strings.Contains(rd.SDP, "a=ice-ufrag") {
		t.Fatalf("the Jingle client's answer is not WebRTC: %v", rd)
	}
	if err := call.Media.WaitMore(ctx, 0, 25); err != nil {
		t.Fatalf("Jingle side: %v", err)
	}
	for phone.Received() < 25 {
		select {
		case <-ctx.Done():
			t.Fatalf("the phone received %d packets, want 25", phone.Received())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Logf("Jingle client received %d, phone %d packets", call.Media.Received(), phone.Received())

	if err := call.Hangup(ctx, "success"); err != nil {
		t.Fatalf("session-terminate: %v", err)
	}
	select {
	case <-phone.Ended:
	case <-ctx.Done():
		t.Fatal("the phone got no BYE")
	}
	waitNoCalls(t, e.srv)
	ng, err := rtpengine.New(rtpengine.Config{NG: []string{r.NG}})
	if err != nil {
		t.Fatal(err)
	}
	defer ng.Close()
	for {
		lists, err := ng.List(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(lists[r.NG]) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("rtpengine still holds %v", lists[r.NG])
		case <-time.After(50 * time.Millisecond):
		}
	}
}
