package sip

import (
	"bytes"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestWriteRequestAsSipgo: writeRequest's bytes are sipgo's String() for
// the same request, whatever its Request-URI, headers and body.
func TestWriteRequestAsSipgo(t *testing.T) {
	for name, raw := range map[string]string{
		"invite": "INVITE sip:bob@192.0.2.7:5070;transport=udp;lr SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK.abc;rport\r\n" +
			"Via: SIP/2.0/UDP [2001:db8::1]:5062;branch=z9hG4bK.def;received=192.0.2.1\r\n" +
			"Route: <sip:[2001:db8::2]:5080;lr>\r\nRoute: <sip:proxy.example;lr;transport=tcp>\r\n" +
			"Record-Route: <sip:rr.example;lr>\r\nMax-Forwards: 70\r\n" +
			"From: \"Alice\" <sip:alice@gw.example>;tag=abc\r\nTo: <sip:bob@pbx.example>\r\n" +
			"Call-ID: c1\r\nCSeq: 12 INVITE\r\nContact: <sip:gw@[2001:db8::1]:5062;transport=udp>\r\n" +
			"X-Sigbridge-Loop: tok\r\nUser-Agent: sigbridge\r\nContent-Type: application/sdp\r\n" +
			"Content-Length: 5\r\n\r\nv=0\r\n",
		"ipv6 ruri, no body": "BYE sip:bob@[2001:db8::7]:5070;ob?subject=x SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK.x\r\nFrom: <sip:a@b>;tag=1\r\n" +
			"To: <sip:c@d>;tag=2\r\nCall-ID: c2\r\nCSeq: 3 BYE\r\nReason: Q.850;cause=16\r\n" +
			"Content-Length: 0\r\n\r\n",
		"tel uri": "ACK tel:+15551234;phone-context=example.com SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK.y\r\nFrom: <sip:a@b>;tag=1\r\n" +
			"To: <tel:+15551234>;tag=2\r\nCall-ID: c3\r\nCSeq: 3 ACK\r\nContent-Length: 0\r\n\r\n",
	} {
		msg, err := sip.ParseMessage([]byte(raw))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		req := msg.(*sip.Request)
		for _, compact := range []bool{false, true} {
			req.CompactHeaders = compact
			var buf bytes.Buffer
			writeRequest(&buf, req)
			if got, want := buf.String(), req.String(); got != want {
				t.Errorf("%s (compact %v):\n got %q\nwant %q", name, compact, got, want)
			}
			if got, want := wireSize(req), len(req.String()); got != want {
				t.Errorf("%s (compact %v): wireSize %d, want %d", name, compact, got, want)
			}
		}
	}
	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Host: "192.0.2.9"}) // no body, no scheme
	req.AppendHeader(sip.NewHeader("Call-ID", "c4"))
	var buf bytes.Buffer
	writeRequest(&buf, req)
	if got, want := buf.String(), req.String(); got != want {
		t.Errorf("no body:\n got %q\nwant %q", got, want)
	}
}

// TestInviteTooBig: the INVITE's size is counted without its Via, CSeq and
// Max-Forwards, as when sipgo added them after the choice of transport.
func TestInviteTooBig(t *testing.T) {
	build := func(body int) (*sip.Request, int) {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "bob", Host: "192.0.2.7"})
		req.AppendHeader(sip.NewHeader("Call-ID", "c1"))
		req.SetBody([]byte(strings.Repeat("a", body)))
		without := len(req.String())
		via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "10.0.0.1",
			Port: 5060, Params: sip.NewParams()}
		via.Params.Add("branch", "z9hG4bK.0123456789abcdef")
		mf := sip.MaxForwardsHeader(70)
		req.PrependHeader(via, &sip.CSeqHeader{SeqNo: 31000, MethodName: sip.INVITE}, &mf)
		return req, without
	}
	for body := 1100; body < 1400; body++ {
		req, without := build(body)
		if got, want := inviteTooBig(req), without > udpMaxRequest; got != want {
			t.Fatalf("body %d (%d bytes without the three): too big %v, want %v", body, without, got, want)
		}
	}
}

// TestWriteURIAsSipgo: writeURI's bytes are sipgo's Uri.String().
func TestWriteURIAsSipgo(t *testing.T) {
	long := strings.Repeat("a", 50) + ".example"
	for _, raw := range []string{
		"sip:bob@192.0.2.7", "sip:bob@192.0.2.7:5070", "sips:bob:secret@pbx.example:5061;transport=tcp",
		"sip:[2001:db8::1]:5062;lr", "sip:alice@[2001:db8::1]", "sip:[::ffff:192.0.2.1]:5060",
		"sip:bob@pbx.example;lr;maddr=192.0.2.9;ob", "sip:bob@pbx.example?subject=hi&priority=urgent",
		"sip:+1555@gw.example;user=phone", "tel:+15551234;phone-context=example.com", "sip:" + long + ":5060",
		"sip:bob@host;p=\"a b\"", "sip:9", "sip:bob@1.2.3.4:65535", "sip:bob@1.2.3.4:1", "sip:bob@1.2.3.4:10",
	} {
		var u sip.Uri
		if err := sip.ParseUri(raw, &u); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		var b bytes.Buffer
		writeURI(&b, &u)
		if got, want := b.String(), u.String(); got != want {
			t.Errorf("%s: got %q, want %q", raw, got, want)
		}
	}
	for _, u := range []sip.Uri{
		{Host: "2001:db8::1", Port: 5060}, {Host: "fe80::1%eth0"}, {Host: "192.0.2.1"}, {Host: "::ffff:192.0.2.1"},
		{Scheme: "sip", Host: strings.Repeat("x", 46) + ":1::"}, {Scheme: "sip", Host: "é" + strings.Repeat("x", 45) + "::1"},
		{Scheme: "sip", Host: "h", HierarhicalSlashes: true, User: "u", Password: "p"},
		{Scheme: "sip", Host: "h", UriParams: sip.HeaderParams{{K: "a", V: ""}, {K: "b", V: "x;y"}}, Headers: sip.HeaderParams{}},
	} {
		var b bytes.Buffer
		writeURI(&b, &u)
		if got, want := b.String(), u.String(); got != want {
			t.Errorf("%+v: got %q, want %q", u, got, want)
		}
	}
}

// TestWriteHeadersAsSipgo: writeHeaders writes every value of the headers
// it writes itself (Via, From, To, Contact, CSeq, Content-Length) as
// sipgo's writers do: display names, quoted parameter values, IPv6 hosts,
// a wildcard Contact, numbers of every width.
func TestWriteHeadersAsSipgo(t *testing.T) {
	hosts := []string{"192.0.2.7", "2001:db8::1", "pbx.example", "::ffff:192.0.2.1", "fe80::1%eth0",
		strings.Repeat("x", 46) + ":1::"}
	params := []sip.HeaderParams{nil, {}, {{K: "tag", V: "abc"}}, {{K: "branch", V: "z9hG4bK.1"}, {K: "rport", V: ""},
		{K: "received", V: "a b"}, {K: "x", V: "t\tab"}, {K: "", V: "v"}}}
	for i, host := range hosts {
		for j, ps := range params {
			port := []int{0, 1, 9, 10, 5060, 65535}[(i+j)%6]
			req := sip.NewRequest(sip.BYE, sip.Uri{Scheme: "sip", User: "bob", Host: host, Port: port})
			req.AppendHeader(&sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP",
				Host: host, Port: port, Params: ps})
			uri := sip.Uri{Scheme: "sip", User: "u", Host: host, Port: port, UriParams: ps}
			display := []string{"", "Alice", `A \"q\" b`, "Bö b"}[(i+j)%4]
			req.AppendHeader(&sip.FromHeader{DisplayName: display, Address: uri, Params: ps})
			req.AppendHeader(&sip.ToHeader{DisplayName: display, Address: sip.Uri{Scheme: "tel", Host: "+1555"}, Params: ps})
			req.AppendHeader(&sip.ContactHeader{DisplayName: display, Address: uri, Params: ps})
			req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Wildcard: true}, Params: ps})
			req.AppendHeader(&sip.CSeqHeader{SeqNo: []uint32{0, 7, 99, 100, 32767, 1<<31 - 1}[(i+j)%6], MethodName: sip.BYE})
			req.AppendHeader(sip.NewHeader("Reason", `SIP;cause=200;text="Call completed elsewhere"`))
			maxFwd := sip.MaxForwardsHeader(70)
			req.AppendHeader(&maxFwd)
			req.SetBody([]byte(strings.Repeat("x", []int{0, 5, 99, 100, 1234}[(i+j)%5])))
			var buf bytes.Buffer
			writeRequest(&buf, req)
			if got, want := buf.String(), req.String(); got != want {
				t.Errorf("host %q, params %v:\n got %q\nwant %q", host, ps, got, want)
			}
		}
	}
}

// A BYE as a dialog sends it (a Reason last) is written without an
// allocation: sipgo's writers made a string for each number and for each
// parameter list's separator.
func TestWriteRequestAllocs(t *testing.T) {
	req := dialogBye()
	var buf bytes.Buffer
	writeRequest(&buf, req)
	if got, want := buf.String(), req.String(); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if n := testing.AllocsPerRun(100, func() {
		buf.Reset()
		writeRequest(&buf, req)
	}); n != 0 {
		t.Errorf("%v allocations a request, want 0", n)
	}
}

// BenchmarkWriteRequest writes a BYE as a dialog sends it.
func BenchmarkWriteRequest(b *testing.B) {
	req := dialogBye()
	var buf bytes.Buffer
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf.Reset()
		writeRequest(&buf, req)
	}
}

// dialogBye is a BYE as dialogState.transaction sends it.
func dialogBye() *sip.Request {
	req := sip.NewRequest(sip.BYE, sip.Uri{Scheme: "sip", User: "callee", Host: "192.0.2.7", Port: 5070,
		UriParams: sip.HeaderParams{{K: "transport", V: "UDP"}}})
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "192.0.2.1", Port: 5060,
		Params: sip.HeaderParams{{K: "branch", V: "z9hG4bK.0123456789abcdef"}, {K: "rport", V: ""}}}
	from := &sip.FromHeader{DisplayName: "alice", Address: sip.Uri{Scheme: "sip", User: "alice", Host: "gw.example"},
		Params: sip.HeaderParams{{K: "tag", V: "0123456789abcdef"}}}
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "bob", Host: "192.0.2.7", Port: 5070},
		Params: sip.HeaderParams{{K: "tag", V: "123SIPpTag011"}}}
	callID := sip.CallIDHeader("0123456789abcdef0123456789abcdef")
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(via)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 12345, MethodName: sip.BYE})
	req.AppendHeader(&maxFwd)
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "gw", Host: "192.0.2.1", Port: 5060}})
	req.SetBody(nil)
	req.AppendHeader(sip.NewHeader("Reason", "Q.850;cause=16"))
	return req
}
