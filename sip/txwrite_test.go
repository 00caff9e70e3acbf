package sip

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestListenerConnWrites: a request from the listener to an IP address
// gets a connection of ours; what it writes leaves from the listener and
// is sipgo's serialisation of the request, byte for byte, with the Via's
// missing sent-by filled in as sipgo's transport does.
func TestListenerConnWrites(t *testing.T) {
	env := newEnv(t, Config{})
	peer, peerAddr := udpPeer(t)
	req := testInvite()
	req.RemoveHeader("Route")
	req.SetDestination("")
	req.Recipient = sip.Uri{Scheme: "sip", User: "bob", Host: "127.0.0.1", Port: int(peerAddr.Port()),
		UriParams: sip.HeaderParams{{K: "transport", V: "udp"}}}
	req.RemoveHeader("Via")
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Params: sip.NewParams()}
	via.Params.Add("branch", "z9hG4bK.listenerconn")
	req.PrependHeader(via)
	req.SetTransport("UDP")
	env.a.fromListener(req, "UDP")
	c, ok := env.a.listenerConn(req)
	if !ok {
		t.Fatal("no direct connection for a request from the listener to an IP address")
	}
	if got := netip.AddrPortFrom(netip.MustParseAddr(via.Host), uint16(via.Port)); got != netip.MustParseAddrPort(env.a.Addr()) {
		t.Errorf("Via sent-by %s, want the listener %s", got, env.a.Addr())
	}
	if err := c.WriteMsg(req); err != nil {
		t.Fatal(err)
	}
	wrote, from := readDatagram(t, peer)
	if want := netip.MustParseAddrPort(env.a.Addr()); from != want {
		t.Errorf("request came from %s, want the listener %s", from, want)
	}
	if got, want := string(wrote), req.String(); got != want {
		t.Errorf("wrote\n%q\nsipgo writes\n%q", got, want)
	}
	if n, err := c.TryClose(); n != 1 || err != nil {
		t.Errorf("TryClose %d %v: the listener must stay open", n, err)
	}
	if err := c.WriteMsg(req); err != nil {
		t.Errorf("write after TryClose: %v", err)
	}
}

// TestListenerConnLeavesToSipgo: what listenerConn leaves to sipgo's
// transport layer, untouched.
func TestListenerConnLeavesToSipgo(t *testing.T) {
	env := newEnv(t, Config{})
	base := func() *sip.Request {
		req := testInvite() // Route to proxy.example.com: a name
		req.SetDestination("")
		req.SetTransport("UDP")
		env.a.fromListener(req, "UDP")
		return req
	}
	cases := map[string]func(*sip.Request){
		"host name":        func(*sip.Request) {},
		"not the listener": func(r *sip.Request) { r.Laddr = sip.Addr{} },
		"other port":       func(r *sip.Request) { r.Laddr.Port++ },
		"no Via":           func(r *sip.Request) { r.SetDestination("192.0.2.7:5060"); r.RemoveHeader("Via") },
		"destination name": func(r *sip.Request) { r.SetDestination("pbx.example:5060") },
		"route over tcp": func(r *sip.Request) {
			r.RemoveHeader("Route")
			r.AppendHeader(sip.NewHeader("Route", "<sip:192.0.2.7;lr;transport=tcp>"))
		},
	}
	for name, change := range cases {
		req := base()
		change(req)
		before := req.String()
		if _, ok := env.a.listenerConn(req); ok {
			t.Errorf("%s: written directly", name)
		}
		if req.String() != before {
			t.Errorf("%s: request changed", name)
		}
	}
	req := base()
	req.SetDestination("[::ffff:192.0.2.7]:5070")
	c, ok := env.a.listenerConn(req)
	if !ok || c.dest != netip.MustParseAddrPort("[::ffff:192.0.2.7]:5070") {
		t.Errorf("destination set on the request: %v %v", c, ok)
	}
}

// TestListenerConnSizeLimit: sipgo's UDP size limit and its error hold.
func TestListenerConnSizeLimit(t *testing.T) {
	env := newEnv(t, Config{})
	_, peerAddr := udpPeer(t)
	c := &udpTxConn{uc: env.a.udpConn, dest: peerAddr}
	req := testInvite()
	req.SetBody(bytes.Repeat([]byte{'a'}, sip.UDPMTUSize))
	if err := c.WriteMsg(req); !errors.Is(err, sip.ErrUDPMTUCongestion) {
		t.Errorf("err %v, want %v", err, sip.ErrUDPMTUCongestion)
	}
	if got := c.LocalAddr().String(); got != env.a.Addr() {
		t.Errorf("LocalAddr %s, want %s", got, env.a.Addr())
	}
}

// TestHasRoute: hasRoute finds a Route header as sipgo's lookup does.
func TestHasRoute(t *testing.T) {
	for _, name := range []string{"Route", "route", "ROUTE", "rOuTe"} {
		req := sip.NewRequest(sip.BYE, sip.Uri{Host: "192.0.2.1"})
		req.AppendHeader(sip.NewHeader("User-Agent", "x"))
		req.AppendHeader(sip.NewHeader(name, "<sip:192.0.2.2;lr>"))
		if !hasRoute(req) || (req.Route() != nil) != hasRoute(req) {
			t.Errorf("%s: hasRoute %v, sipgo's Route %v", name, hasRoute(req), req.Route())
		}
	}
	req := sip.NewRequest(sip.BYE, sip.Uri{Host: "192.0.2.1"})
	req.AppendHeader(sip.NewHeader("Record-Route", "<sip:192.0.2.2;lr>"))
	if hasRoute(req) || req.Route() != nil {
		t.Error("a Record-Route is no Route")
	}
}
