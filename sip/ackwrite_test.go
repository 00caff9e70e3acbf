package sip

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// testDialog is a confirmed dialog of env's adapter toward nobody in
// particular, over transport.
func testDialog(a *Adapter, transport string) *dialogState {
	d := &dialogState{a: a, transport: transport, callID: "ackwrite-test"}
	d.from = sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: "gw.example"}, Params: sip.NewParams()}
	d.from.Params.Add("tag", "ourtag")
	d.to = sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "bob", Host: "pbx.example"}, Params: sip.NewParams()}
	d.to.Params.Add("tag", "theirtag")
	return d
}

// udpPeer is a UDP socket on loopback standing in for the callee.
func udpPeer(t *testing.T) (*net.UDPConn, netip.AddrPort) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	uc := pc.(*net.UDPConn)
	return uc, netip.MustParseAddrPort(uc.LocalAddr().String())
}

// readDatagram reads one datagram, waiting up to 5 s.
func readDatagram(t *testing.T, uc *net.UDPConn) ([]byte, netip.AddrPort) {
	t.Helper()
	if err := uc.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 65535)
	n, from, err := uc.ReadFromUDPAddrPort(b)
	if err != nil {
		t.Fatalf("no datagram: %v", err)
	}
	return b[:n], from
}

// readRequest reads one datagram and parses it as a request.
func readRequest(t *testing.T, uc *net.UDPConn) (*sip.Request, netip.AddrPort) {
	t.Helper()
	b, from := readDatagram(t, uc)
	msg, err := sip.ParseMessage(b)
	if err != nil {
		t.Fatalf("unparsable datagram %q: %v", b, err)
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		t.Fatalf("got %T, want a request", msg)
	}
	return req, from
}

// TestAckWrittenToUDPListener: the ACK of a 2xx on UDP is written straight
// to the listening socket (not through sipgo's transport layer) and is a
// complete ACK: the dialog's From, To and Call-ID, the INVITE's CSeq number
// with ACK, a Via with a new branch and our listener as sent-by, Max-Forwards
// and Content-Length 0; it leaves from the listener's address.
func TestAckWrittenToUDPListener(t *testing.T) {
	env := newEnv(t, Config{})
	peer, peerAddr := udpPeer(t)
	d := testDialog(env.a, "UDP")
	target := sip.Uri{Scheme: "sip", User: "bob", Host: "127.0.0.1", Port: int(peerAddr.Port())}
	req := sip.NewRequest(sip.ACK, target)
	d.build(req, 7)
	sent, err := env.a.writeAckUDP(req, "UDP")
	if !sent || err != nil {
		t.Fatalf("writeAckUDP: sent %v, err %v; want it written directly", sent, err)
	}
	ack, from := readRequest(t, peer)
	if want := netip.MustParseAddrPort(env.a.Addr()); from != want {
		t.Errorf("ACK came from %s, want the listener %s", from, want)
	}
	if ack.Method != sip.ACK || ack.Recipient.Host != "127.0.0.1" || ack.Recipient.Port != int(peerAddr.Port()) {
		t.Errorf("request line %s %s", ack.Method, ack.Recipient.String())
	}
	if c := ack.CSeq(); c == nil || c.SeqNo != 7 || c.MethodName != sip.ACK {
		t.Errorf("CSeq %v, want 7 ACK", c)
	}
	if ack.CallID() == nil || ack.CallID().Value() != "ackwrite-test" {
		t.Errorf("Call-ID %v", ack.CallID())
	}
	if tag, _ := ack.From().Params.Get("tag"); tag != "ourtag" {
		t.Errorf("From tag %q", tag)
	}
	if tag, _ := ack.To().Params.Get("tag"); tag != "theirtag" {
		t.Errorf("To tag %q", tag)
	}
	via := ack.Via()
	branch, _ := via.Params.Get("branch")
	if via.Transport != "UDP" || len(branch) < 8 || branch[:7] != sip.RFC3261BranchMagicCookie {
		t.Errorf("Via %s: want UDP with an RFC 3261 branch", via.Value())
	}
	if sentBy := net.JoinHostPort(via.Host, strconv.Itoa(via.Port)); sentBy != env.a.Addr() {
		t.Errorf("Via sent-by %s, want %s", sentBy, env.a.Addr())
	}
	if mf := ack.MaxForwards(); mf == nil || mf.Val() != 70 {
		t.Errorf("Max-Forwards %v", mf)
	}
	if cl := ack.ContentLength(); cl == nil || cl.Value() != "0" || len(ack.Body()) != 0 {
		t.Errorf("Content-Length %v, body %q", cl, ack.Body())
	}

	// A second ACK (of a retransmitted 2xx) gets a branch of its own.
	again := sip.NewRequest(sip.ACK, target)
	d.build(again, 7)
	if sent, err := env.a.writeAckUDP(again, "UDP"); !sent || err != nil {
		t.Fatalf("second ACK: sent %v, err %v", sent, err)
	}
	ack2, _ := readRequest(t, peer)
	if b2, _ := ack2.Via().Params.Get("branch"); b2 == branch {
		t.Errorf("both ACKs have branch %s", branch)
	}
}

// TestAckDest: where a directly written ACK goes, and what is left to
// sipgo (the request is then untouched).
func TestAckDest(t *testing.T) {
	env := newEnv(t, Config{})
	ip := func(host string, port int) sip.Uri {
		return sip.Uri{Scheme: "sip", User: "bob", Host: host, Port: port}
	}
	cases := []struct {
		name    string
		target  sip.Uri
		route   string // Route header value ("": none)
		dest    string // SetDestination ("": none)
		flow    *flow
		want    string // "": left to sipgo
		wantVia bool
	}{
		{name: "request-uri", target: ip("127.0.0.1", 5080), want: "127.0.0.1:5080"},
		{name: "default port", target: ip("192.0.2.7", 0), want: "192.0.2.7:5060"},
		{name: "ipv6", target: ip("[2001:db8::1]", 5070), want: "[2001:db8::1]:5070"},
		{name: "loose route", target: ip("192.0.2.7", 5080), route: "<sip:198.51.100.1:5062;lr>", want: "198.51.100.1:5062"},
		{name: "destination", target: ip("192.0.2.7", 5080), dest: "198.51.100.2:5099", want: "198.51.100.2:5099"},
		{name: "udp flow", target: ip("x.invalid", 0), flow: &flow{transport: "UDP", remote: "127.0.0.1:40000"}, want: "127.0.0.1:40000"},
		{name: "tcp flow", target: ip("x.invalid", 0), flow: &flow{transport: "TCP", remote: "127.0.0.1:40000"}},
		{name: "host name", target: ip("pbx.example", 5060)},
		{name: "route name", target: ip("192.0.2.7", 5080), route: "<sip:proxy.example;lr>"},
		{name: "transport tcp", target: sip.Uri{Scheme: "sip", Host: "192.0.2.7", UriParams: sip.HeaderParams{{K: "transport", V: "tcp"}}}},
		{name: "sips", target: sip.Uri{Scheme: "sips", Host: "192.0.2.7"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := testDialog(env.a, "UDP")
			d.callID = sip.CallIDHeader("ackdest-" + c.name)
			if c.route != "" {
				d.routes = []string{c.route}
			}
			if c.flow != nil {
				key := flowKey(string(d.callID), "ourtag")
				env.a.flows.add(key, *c.flow, nil)
				t.Cleanup(func() { env.a.flows.remove(key) })
			}
			req := sip.NewRequest(sip.ACK, c.target)
			d.build(req, 1)
			if c.dest != "" {
				req.SetDestination(c.dest)
			}
			got, ok := env.a.ackDest(req)
			switch {
			case c.want == "" && ok:
				t.Errorf("ackDest %s, want it left to sipgo", got)
			case c.want != "" && (!ok || got.String() != c.want):
				t.Errorf("ackDest %s (%v), want %s", got, ok, c.want)
			}
			if c.want == "" {
				if sent, _ := env.a.writeAckUDP(req, "UDP"); sent || req.Via() != nil {
					t.Errorf("writeAckUDP sent %v (Via %v), want the request left to sipgo", sent, req.Via())
				}
			}
		})
	}
	// Other transports always go through sipgo.
	req := sip.NewRequest(sip.ACK, ip("127.0.0.1", 5080))
	testDialog(env.a, "TCP").build(req, 1)
	if sent, _ := env.a.writeAckUDP(req, "TCP"); sent {
		t.Error("an ACK over TCP was written to the UDP listener")
	}
}

// BenchmarkDialogAck: one ACK of a 2xx on UDP, built from the dialog and
// sent: written directly (ackwrite.go) against sipgo's WriteRequest path
// (what dialogState.ack did before). Reports, never asserts:
//
//	go test -run '^$' -bench DialogAck -benchmem ./sip
func BenchmarkDialogAck(b *testing.B) {
	a, err := New(Config{Listen: "127.0.0.1:0"}, nil, slog.New(slog.DiscardHandler), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	go func() { // the callee reads and drops them
		buf := make([]byte, 65535)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	d := testDialog(a, "UDP")
	target := sip.Uri{Scheme: "sip", User: "bob", Host: "127.0.0.1", Port: port}
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := d.ack(target, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sipgo", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req := sip.NewRequest(sip.ACK, target)
			d.build(req, 1)
			d.a.fromListener(req, d.transport)
			if err := d.a.cli.WriteRequest(req, addVia); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestWireSize: the INVITE's size for the UDP/TCP choice (RFC 3261
// §18.1.1) is counted without building the message, and is its length.
func TestWireSize(t *testing.T) {
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "bob", Host: "192.0.2.7"})
	callID := sip.CallIDHeader("wiresize")
	req.AppendHeader(&callID)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte(webrtcSDP("actpass", "alic", 30000)))
	if got, want := wireSize(req), len(req.String()); got != want || want < 500 {
		t.Errorf("wireSize %d, want %d", got, want)
	}
	counted := testing.AllocsPerRun(20, func() { wireSize(req) })
	built := testing.AllocsPerRun(20, func() { _ = req.String() })
	if counted >= built {
		t.Errorf("wireSize allocates %v times, building the message %v", counted, built)
	}
}

// TestInDialogRequestFromUDPListener: a request in a UDP dialog (the BYE)
// leaves from the listening socket, with the listener as its Via's
// sent-by, as the INVITE and the ACK do, and its response, sent back to
// where it came from, completes its transaction. sipgo used to send it
// from a socket of its own, on another port.
func TestInDialogRequestFromUDPListener(t *testing.T) {
	env := newEnv(t, Config{})
	peer, peerAddr := udpPeer(t)
	d := testDialog(env.a, "UDP")
	target := sip.Uri{Scheme: "sip", User: "bob", Host: "127.0.0.1", Port: int(peerAddr.Port())}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tx, err := d.transaction(ctx, sip.NewRequest(sip.BYE, target))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Terminate()
	bye, from := readRequest(t, peer)
	listener := netip.MustParseAddrPort(env.a.Addr())
	if from != listener {
		t.Errorf("BYE came from %s, want the listener %s", from, listener)
	}
	if via := bye.Via(); via == nil || via.Port != int(listener.Port()) {
		t.Errorf("BYE's Via %v, want the listener's port %d as sent-by", via, listener.Port())
	}
	res := sip.NewResponseFromRequest(bye, 200, "OK", nil)
	if _, err := peer.WriteToUDPAddrPort([]byte(res.String()), from); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-tx.Responses():
		if r.StatusCode != 200 {
			t.Fatalf("BYE's response %d, want 200", r.StatusCode)
		}
	case <-ctx.Done():
		t.Fatal("the 200 sent back to the BYE's source did not reach its transaction")
	}
}
