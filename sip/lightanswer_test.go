package sip

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// answerSDP is the SDP of SIPp's uas_answer.xml, with CRLF line ends.
const answerSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"m=audio 6000 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 127.0.0.1\r\na=ice-ufrag:sipp\r\n" +
	"a=ice-pwd:sippsippsippsippsippsipp\r\na=fingerprint:sha-256 3C:2E:D8:EC:35:7C:BF:01:07:A6:ED:92:" +
	"3F:DA:28:66:F3:90:7A:77:D8:63:D9:FD:FD:D9:ED:74:7B:F3:3F:4A\r\na=setup:active\r\na=mid:0\r\n" +
	"a=rtcp-mux\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n" +
	"a=candidate:1 1 udp 2130706431 127.0.0.1 40100 typ host\r\na=end-of-candidates\r\n"

// answerInvite is an INVITE as the outbound leg sends it, for the answers
// below to echo.
func answerInvite() *sip.Request {
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "bob", Host: "127.0.0.1", Port: 5070})
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "127.0.0.1",
		Port: 5060, Params: sip.NewParams()}
	via.Params.Add("branch", "z9hG4bK.abc123")
	from := &sip.FromHeader{DisplayName: `Alice \"A\" Liddell`,
		Address: sip.Uri{Scheme: "sip", User: "alice", Host: "gw.example"}, Params: sip.NewParams()}
	from.Params.Add("tag", "f1a2b3c4")
	callID := sip.CallIDHeader("0123456789abcdef0123456789abcdef")
	req.AppendHeader(via)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1234, MethodName: sip.INVITE})
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "bob", Host: "127.0.0.1", Port: 5070}})
	req.AppendHeader(&callID)
	return req
}

// answerLines are the header lines of a 2xx to answerInvite as SIPp sends
// it: Via, From, To, Call-ID, CSeq, Contact, Content-Type.
func answerLines() []string {
	inv := answerInvite()
	return []string{
		"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK.abc123;rport=5060",
		inv.From().String(),
		"To: <sip:bob@127.0.0.1:5070>;tag=123SIPpTag011",
		inv.CallID().String(),
		"CSeq: 1234 INVITE",
		"Contact: <sip:callee@127.0.0.1:18002;transport=UDP>",
		"Content-Type: application/sdp",
	}
}

// answerDatagram is a 2xx with start line start, header lines and a
// Content-Length for answerSDP.
func answerDatagram(start string, lines ...string) []byte {
	return []byte(start + "\r\n" + strings.Join(lines, "\r\n") + "\r\nContent-Length: " +
		strconv.Itoa(len(answerSDP)) + "\r\n\r\n" + answerSDP)
}

// withLine is answerLines with line i replaced (or, with i out of range,
// line added at the end).
func withLine(i int, line string) []string {
	lines := answerLines()
	if i >= 0 && i < len(lines) {
		lines[i] = line
		return lines
	}
	return append(lines, line)
}

// fastAnswer reads data as takeAnswer does for a transaction of
// answerInvite; nil: the full parser reads it.
func fastAnswer(data []byte) *sip.Response {
	s, ok := scanAnswer(data)
	if !ok || !s.echoes(answerInvite()) {
		return nil
	}
	if key := string(s.branch) + sip.TxSeperator + string(sip.INVITE); key != "z9hG4bK.abc123"+sip.TxSeperator+"INVITE" {
		return nil
	}
	res, ok := s.response()
	if !ok {
		return nil
	}
	return res
}

// sameAnswer fails t unless fast holds what the outbound leg reads from
// full, the full parser's response to the same datagram, made the same.
func sameAnswer(t *testing.T, fast, full *sip.Response) {
	t.Helper()
	if fast.StatusCode != full.StatusCode || fast.Reason != full.Reason || fast.SipVersion != full.SipVersion {
		t.Fatalf("status: fast %q %d %q, full %q %d %q", fast.SipVersion, fast.StatusCode, fast.Reason,
			full.SipVersion, full.StatusCode, full.Reason)
	}
	if !reflect.DeepEqual(fast.To(), full.To()) || !reflect.DeepEqual(fast.Contact(), full.Contact()) {
		t.Fatalf("To/Contact: fast %v / %v, full %v / %v", fast.To(), fast.Contact(), full.To(), full.Contact())
	}
	for _, name := range []string{"Record-Route", "Content-Type", "Content-Length"} {
		if f, p := fast.GetHeaders(name), full.GetHeaders(name); !reflect.DeepEqual(f, p) {
			t.Fatalf("%s: fast %v, full %v", name, f, p)
		}
	}
	if string(fast.Body()) != string(full.Body()) {
		t.Fatalf("body: fast %q, full %q", fast.Body(), full.Body())
	}
	fsd, ferr := sdpBody(fast)
	psd, perr := sdpBody(full)
	if (ferr == nil) != (perr == nil) || !reflect.DeepEqual(fsd, psd) {
		t.Fatalf("SDP: fast %v (%v), full %v (%v)", fsd, ferr, psd, perr)
	}
}

// The usual shapes of a 2xx answer are read without the full parser, to
// the headers, status and body the full parser gives; the transaction key
// is the one the full parser's response makes.
func TestAnswerSameAsParser(t *testing.T) {
	rr := "Record-Route: <sip:10.0.0.1;lr>"
	for name, data := range map[string][]byte{
		"SIPp":                   answerDatagram("SIP/2.0 200 OK", answerLines()...),
		"Record-Routes":          answerDatagram("SIP/2.0 200 OK", append(answerLines(), rr, "Record-Route: <sip:10.0.0.2;lr>, <sip:10.0.0.3;lr;ftag=x>")...),
		"other headers":          answerDatagram("SIP/2.0 200 OK", append(answerLines(), "Server: Asterisk PBX 20", "Allow: INVITE, ACK, BYE", "Supported: timer, replaces", "Session-Expires: 1800;refresher=uac")...),
		"no Contact":             answerDatagram("SIP/2.0 200 OK", append(answerLines()[:5], "Content-Type: application/sdp")...),
		"compact forms":          answerDatagram("SIP/2.0 200 OK", "v: SIP/2.0/UDP 127.0.0.1:5060 ; branch = z9hG4bK.abc123", "f: "+answerInvite().From().Value(), "t: <sip:bob@127.0.0.1:5070> ; tag = x1", "i: "+answerInvite().CallID().Value(), "CSEQ: 1234 INVITE", "m: <sip:callee@10.1.2.3>", "c: Application/SDP;charset=utf-8"),
		"LWS in To and Contact":  answerDatagram("SIP/2.0 200 OK", withLine(2, `To:  "Bob" <sip:bob@127.0.0.1:5070> ;tag= 9x ; foo`)...),
		"202 and a long reason":  answerDatagram("SIP/2.0 202 Accepted for now", answerLines()...),
		"empty reason":           answerDatagram("SIP/2.0 200 ", answerLines()...),
		"IPv6 Via, tabs":         answerDatagram("SIP/2.0 200 OK", withLine(0, "Via:\tSIP/2.0/UDP [::1]:5060;received=::1;branch=z9hG4bK.abc123")...),
		"UTF-8 display name":     answerDatagram("SIP/2.0 200 OK", withLine(2, `To: "Bö b" <sip:bob@127.0.0.1:5070>;tag=1`)...),
		"Contact with two URIs":  answerDatagram("SIP/2.0 200 OK", withLine(5, "Contact: <sip:a@h1>;expires=60, <sip:b@h2>")...),
		"other body type":        answerDatagram("SIP/2.0 200 OK", withLine(6, "Content-Type: text/plain")...),
		"cut to Content-Length":  answerDatagram("SIP/2.0 200 OK", answerLines()...),
		"sdp not the last value": answerDatagram("SIP/2.0 200 OK", withLine(6, "Content-Type: application/sdp ; x=1")...),
	} {
		t.Run(name, func(t *testing.T) {
			fast := fastAnswer(data)
			if fast == nil {
				t.Fatal("not read without the full parser")
			}
			msg, err := newParser().ParseSIP(data)
			if err != nil {
				t.Fatal(err)
			}
			full := msg.(*sip.Response)
			sameAnswer(t, fast, full)
			if key, err := sip.ClientTxKeyMake(full); err != nil || key != "z9hG4bK.abc123"+sip.TxSeperator+"INVITE" {
				t.Fatalf("full parser's key %q (%v)", key, err)
			}
		})
	}
}

// Anything unusual goes to the full parser, which treats it as before:
// what it refuses (a To it cannot parse, a CSeq over 2**31-1, a body
// shorter than its Content-Length), what the leg would read otherwise
// (two To headers, two Content-Types), a header the full parser has a
// parser for that scanAnswer does not read, a From or Call-ID not the
// INVITE's, and anything that is not a 2xx to an INVITE with a body.
func TestAnswerFallsBack(t *testing.T) {
	lines := answerLines()
	sdpLen := strconv.Itoa(len(answerSDP))
	for name, data := range map[string][]byte{
		"180":                    answerDatagram("SIP/2.0 180 Ringing", lines...),
		"486":                    answerDatagram("SIP/2.0 486 Busy Here", lines...),
		"no reason, no space":    answerDatagram("SIP/2.0 200", lines...),
		"status run-on":          answerDatagram("SIP/2.0 2000 OK", lines...),
		"CSeq BYE":               answerDatagram("SIP/2.0 200 OK", withLine(4, "CSeq: 1234 BYE")...),
		"CSeq too big":           answerDatagram("SIP/2.0 200 OK", withLine(4, "CSeq: 2147483648 INVITE")...),
		"CSeq tab":               answerDatagram("SIP/2.0 200 OK", withLine(4, "CSeq: 1234\tINVITE")...),
		"two Vias":               answerDatagram("SIP/2.0 200 OK", append(lines, lines[0])...),
		"two Via values":         answerDatagram("SIP/2.0 200 OK", withLine(0, lines[0]+", SIP/2.0/UDP p;branch=z9hG4bKy")...),
		"no branch":              answerDatagram("SIP/2.0 200 OK", withLine(0, "Via: SIP/2.0/UDP h;rport")...),
		"other branch":           answerDatagram("SIP/2.0 200 OK", withLine(0, "Via: SIP/2.0/UDP h;branch=z9hG4bK.other")...),
		"From rewritten":         answerDatagram("SIP/2.0 200 OK", withLine(1, "From: <sip:alice@gw.example>;tag=f1a2b3c4")...),
		"From spaced":            answerDatagram("SIP/2.0 200 OK", withLine(1, strings.Replace(lines[1], ";", " ;", 1))...),
		"From cut":               answerDatagram("SIP/2.0 200 OK", withLine(1, lines[1][:len(lines[1])-1])...),
		"From longer":            answerDatagram("SIP/2.0 200 OK", withLine(1, lines[1]+"x")...),
		"Call-ID other":          answerDatagram("SIP/2.0 200 OK", withLine(3, "Call-ID: other")...),
		"Call-ID empty":          answerDatagram("SIP/2.0 200 OK", withLine(3, "Call-ID:")...),
		"Call-ID not ASCII":      answerDatagram("SIP/2.0 200 OK", withLine(3, "Call-ID: \u00a0")...),
		"two Froms":              answerDatagram("SIP/2.0 200 OK", append(lines, lines[1])...),
		"two Call-IDs":           answerDatagram("SIP/2.0 200 OK", append(lines, lines[3])...),
		"two Tos":                answerDatagram("SIP/2.0 200 OK", append(lines, "t: <sip:x@y>;tag=2")...),
		"two Contacts":           answerDatagram("SIP/2.0 200 OK", append(lines, "Contact: <sip:x@y>")...),
		"two Content-Types":      answerDatagram("SIP/2.0 200 OK", append(lines, "c: text/plain")...),
		"no To":                  answerDatagram("SIP/2.0 200 OK", append(lines[:2:2], lines[3:]...)...),
		"no Content-Type":        answerDatagram("SIP/2.0 200 OK", lines[:6]...),
		"no From":                answerDatagram("SIP/2.0 200 OK", append(lines[:1:1], lines[2:]...)...),
		"bad To":                 answerDatagram("SIP/2.0 200 OK", withLine(2, `To: "unterminated <sip:bob@h>`)...),
		"bad Contact":            answerDatagram("SIP/2.0 200 OK", withLine(5, "Contact: <sip:callee@h")...),
		"bad Record-Route":       answerDatagram("SIP/2.0 200 OK", append(lines, "Record-Route: <>")...),
		"Max-Forwards":           answerDatagram("SIP/2.0 200 OK", append(lines, "Max-Forwards: x")...),
		"Route":                  answerDatagram("SIP/2.0 200 OK", append(lines, "ROUTE: <sip:h;lr>")...),
		"Refer-To":               answerDatagram("SIP/2.0 200 OK", append(lines, "Refer-To: <sip:h>")...),
		"folded line":            answerDatagram("SIP/2.0 200 OK", append(lines, "Subject: a", " b")...),
		"header sans colon":      answerDatagram("SIP/2.0 200 OK", append(lines, "Bogus")...),
		"name not a token":       answerDatagram("SIP/2.0 200 OK", append(lines, "Bo gus: x")...),
		"bare LF":                answerDatagram("SIP/2.0 200 OK", append(lines, "X-A: 1\nX-B: 2")...),
		"bare CR":                answerDatagram("SIP/2.0 200 OK", append(lines, "X-A: 1\rX-B: 2")...),
		"NUL":                    answerDatagram("SIP/2.0 200 OK", append(lines, "X-A: \x00")...),
		"too many Record-Routes": answerDatagram("SIP/2.0 200 OK", append(lines, strings.Split(strings.Repeat("Record-Route: <sip:h;lr>\n", 10), "\n")[:10]...)...),
		"no body":                []byte("SIP/2.0 200 OK\r\n" + strings.Join(lines, "\r\n") + "\r\nContent-Length: 0\r\n\r\n"),
		"no Content-Length":      []byte("SIP/2.0 200 OK\r\n" + strings.Join(lines, "\r\n") + "\r\n\r\n" + answerSDP),
		"two Content-Lengths":    []byte("SIP/2.0 200 OK\r\n" + strings.Join(lines, "\r\n") + "\r\nl: " + sdpLen + "\r\nContent-Length: " + sdpLen + "\r\n\r\n" + answerSDP),
		"body short":             []byte("SIP/2.0 200 OK\r\n" + strings.Join(lines, "\r\n") + "\r\nContent-Length: " + sdpLen + "\r\n\r\n" + answerSDP[1:]),
		"body longer":            []byte("SIP/2.0 200 OK\r\n" + strings.Join(lines, "\r\n") + "\r\nContent-Length: " + sdpLen + "\r\n\r\n" + answerSDP + "x"),
		"length not digits":      []byte("SIP/2.0 200 OK\r\n" + strings.Join(lines, "\r\n") + "\r\nContent-Length: +" + sdpLen + "\r\n\r\n" + answerSDP),
		"no end of headers":      []byte("SIP/2.0 200 OK\r\n" + strings.Join(lines, "\r\n") + "\r\n"),
		"LF line ends":           []byte("SIP/2.0 200 OK\n" + strings.Join(lines, "\n") + "\nContent-Length: " + sdpLen + "\n\n" + answerSDP),
		"too big":                answerDatagram("SIP/2.0 200 OK", append(lines, "X-Big: "+strings.Repeat("x", sip.ParseMaxMessageLength))...),
		"request":                answerDatagram("INVITE sip:a@b SIP/2.0", lines...),
	} {
		if fastAnswer(data) != nil {
			t.Errorf("%s: read without the full parser", name)
		}
	}
}

// The 2xx with the answer reaches the INVITE's transaction without the
// full parser (its response carries no From), with the To tag, Contact and
// body the leg reads; a 2xx to no transaction of ours is left to it.
func TestLightAnswerReachesInvite(t *testing.T) {
	env, peer, tx := startInviteTx(t)
	req := peer.request(t)
	peer.respond(t, req, 180, "Ringing")
	if r := nextResponse(t, tx); r.StatusCode != 180 {
		t.Fatalf("got %d, want 180", r.StatusCode)
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", []byte(answerSDP))
	res.To().Params.Add("tag", "peer1")
	res.AppendHeader(sip.NewHeader("Contact", "<sip:callee@127.0.0.1:5999>"))
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	if _, err := peer.conn.WriteToUDP([]byte(res.String()), peer.from); err != nil {
		t.Fatal(err)
	}
	r := nextResponse(t, tx)
	if r.StatusCode != 200 || r.From() != nil {
		t.Fatalf("got %d (From %v), want a 200 read without the full parser", r.StatusCode, r.From())
	}
	if tag, _ := r.To().Params.Get("tag"); tag != "peer1" || r.Contact().Address.Port != 5999 ||
		string(r.Body()) != answerSDP || r.Transport() != "UDP" || !strings.HasPrefix(r.Source(), "127.0.0.1:") {
		t.Fatalf("got To tag %q, Contact %v, body %q, from %s %s", tag, r.Contact(), r.Body(), r.Transport(), r.Source())
	}
	if _, err := sdpBody(r); err != nil {
		t.Fatal(err)
	}
	if env.a.takeAnswer([]byte(res.String()), fuzzSource); env.a.clientTxs.len() == 0 {
		// Accepted until the user ends it: the retransmission is its own.
		t.Fatal("the transaction ended")
	}
	tx.Terminate()
	if env.a.takeAnswer([]byte(res.String()), fuzzSource) {
		t.Error("a 2xx to no transaction of ours was taken")
	}
}

// What scanAnswer reads, the full parser reads too, to the same status,
// transaction key, headers and body; a From that matches the INVITE's is
// one the full parser reads.
func FuzzScanAnswer(f *testing.F) {
	f.Add(answerDatagram("SIP/2.0 200 OK", answerLines()...))
	f.Add(answerDatagram("SIP/2.0 200 OK", append(answerLines(), "Record-Route: <sip:10.0.0.1;lr>", "Server: x")...))
	f.Add(answerDatagram("SIP/2.0 200 OK", "v: SIP/2.0/UDP h ; branch = z9hG4bK.abc123", "f: x", "t: <sip:b@h>;tag=1",
		"i: c", "CSeq: 1 INVITE", "c: application/sdp"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, ok := scanAnswer(data)
		if !ok {
			return
		}
		// The INVITE it would answer: the From and Call-ID it echoes. A From
		// the parser refuses is none of ours (FuzzOwnFromParses).
		hs, err := headerParsers.ParseHeader(nil, append([]byte("From: "), s.from...))
		if err != nil || len(hs) != 1 {
			return
		}
		inv := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", Host: "h"})
		inv.AppendHeader(hs[0])
		callID := sip.CallIDHeader(s.callID)
		inv.AppendHeader(&callID)
		if !s.echoes(inv) {
			return
		}
		res, ok := s.response()
		if !ok {
			return
		}
		msg, err := newParser().ParseSIP(data)
		if err != nil {
			t.Fatalf("read as an answer, refused by the full parser: %v", err)
		}
		full, isRes := msg.(*sip.Response)
		if !isRes {
			t.Fatalf("read as an answer, parsed as %T", msg)
		}
		key, err := sip.ClientTxKeyMake(full)
		if want := string(s.branch) + sip.TxSeperator + string(sip.INVITE); err != nil || key != want {
			t.Fatalf("key %q, full parser's %q (%v)", want, key, err)
		}
		if full.CallID() == nil || string(*full.CallID()) != string(s.callID) || !reflect.DeepEqual(full.From(), inv.From()) {
			t.Fatalf("From %v, Call-ID %v, want %v, %q", full.From(), full.CallID(), inv.From(), s.callID)
		}
		sameAnswer(t, res, full)
	})
}

// A From the outbound leg writes is one sipgo's parser reads back, so an
// answer that echoes it byte for byte (scanAnswer.echoes) has a From the
// full parser accepts.
func FuzzOwnFromParses(f *testing.F) {
	for _, s := range []string{"alice", `A "quoted" \ name`, "Bö b", "+4930123", "a;b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, caller string) {
		if checkHeaderValue(caller) != nil || caller == "" {
			return // Dial refuses it
		}
		from := &sip.FromHeader{DisplayName: displayName(caller),
			Address: sip.Uri{Scheme: "sip", User: escapeUser(caller), Host: "gw.example"}, Params: sip.NewParams()}
		from.Params.Add("tag", newTag())
		value := from.Value()
		if !writes(from, []byte(value)) {
			t.Fatalf("writes(%q) is false", value)
		}
		if _, err := headerParsers.ParseHeader(nil, []byte("From: "+value)); err != nil {
			t.Fatalf("our From %q refused by the parser: %v", value, err)
		}
	})
}

// BenchmarkAnswerRead compares reading the answer without and with the
// full parser.
func BenchmarkAnswerRead(b *testing.B) {
	data := answerDatagram("SIP/2.0 200 OK", answerLines()...)
	inv := answerInvite()
	b.Run("light", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			s, ok := scanAnswer(data)
			if !ok || !s.echoes(inv) {
				b.Fatal("not light")
			}
			if _, ok := s.response(); !ok {
				b.Fatal("no response")
			}
		}
	})
	b.Run("parser", func(b *testing.B) {
		p := newParser()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := p.ParseSIP(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Checking that an answer echoes its INVITE's From and Call-ID allocates
// nothing (sipgo's From writer made a string for its parameters'
// separator).
func TestEchoAllocs(t *testing.T) {
	s, ok := scanAnswer(answerDatagram("SIP/2.0 200 OK", answerLines()...))
	inv := answerInvite()
	if !ok || !s.echoes(inv) {
		t.Fatal("the answer does not echo its INVITE")
	}
	if n := testing.AllocsPerRun(100, func() { s.echoes(inv) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
