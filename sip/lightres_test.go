package sip

import (
	"bytes"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// lightDatagram is a response as SIPp's uas_answer.xml sends it, lines
// joined with CRLF.
func lightDatagram(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n\r\n")
}

func sippResponse(start, cseq string, extra ...string) []byte {
	lines := []string{start,
		"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK.abc123;rport=5060",
		"From: <sip:alice@gw.example>;tag=f1",
		"To: <sip:bob@127.0.0.1>;tag=123SIPpTag011",
		"Call-ID: c1",
		"CSeq: " + cseq,
		"Contact: <sip:callee@127.0.0.1:18002;transport=UDP>"}
	lines = append(lines, extra...)
	return lightDatagram(append(lines, "Content-Length:     0")...)
}

func TestScanLight(t *testing.T) {
	for _, tc := range []struct {
		name   string
		data   []byte
		code   int
		method string
	}{
		{"100 to INVITE", sippResponse("SIP/2.0 100 Trying", "1 INVITE"), 100, "INVITE"},
		{"180 to INVITE", sippResponse("SIP/2.0 180 Ringing", "1 INVITE"), 180, "INVITE"},
		{"200 to BYE", sippResponse("SIP/2.0 200 OK", "2 BYE"), 200, "BYE"},
		{"compact forms, LWS", lightDatagram("SIP/2.0 180 Ringing", "v: SIP/2.0/UDP h ; branch = z9hG4bKx ",
			"CSEQ:  7 INVITE", "l: 0"), 180, "INVITE"},
		{"no reason phrase", lightDatagram("SIP/2.0 100", "Via: SIP/2.0/UDP h;branch=z9hG4bKx",
			"CSeq: 1 INVITE"), 100, "INVITE"},
	} {
		r, ok := scanLight(tc.data)
		if !ok || r.code != tc.code || string(r.method) != tc.method || !strings.HasPrefix(string(r.branch), "z9hG4bK") {
			t.Errorf("%s: ok %v, code %d, method %q, branch %q", tc.name, ok, r.code, r.method, r.branch)
		}
	}
	via := "Via: SIP/2.0/UDP h;branch=z9hG4bKx"
	for name, data := range map[string][]byte{
		"200 to INVITE":      sippResponse("SIP/2.0 200 OK", "1 INVITE"),
		"486 to INVITE":      sippResponse("SIP/2.0 486 Busy Here", "1 INVITE"),
		"401 to BYE":         sippResponse("SIP/2.0 401 Unauthorized", "2 BYE"),
		"200 to OPTIONS":     sippResponse("SIP/2.0 200 OK", "2 OPTIONS"),
		"183 with a body":    []byte("SIP/2.0 183 Session Progress\r\n" + via + "\r\nCSeq: 1 INVITE\r\nContent-Length: 3\r\n\r\nv=0"),
		"body, no length":    []byte("SIP/2.0 180 Ringing\r\n" + via + "\r\nCSeq: 1 INVITE\r\n\r\nv=0"),
		"two Vias":           lightDatagram("SIP/2.0 100 Trying", via, via, "CSeq: 1 INVITE"),
		"two Via values":     lightDatagram("SIP/2.0 100 Trying", via+", SIP/2.0/UDP p;branch=z9hG4bKy", "CSeq: 1 INVITE"),
		"two branches":       lightDatagram("SIP/2.0 100 Trying", via+";branch=z9hG4bKy", "CSeq: 1 INVITE"),
		"two CSeqs":          lightDatagram("SIP/2.0 100 Trying", via, "CSeq: 1 INVITE", "CSeq: 2 INVITE"),
		"folded line":        lightDatagram("SIP/2.0 100 Trying", "Via: SIP/2.0/UDP h", " ;branch=z9hG4bKx", "CSeq: 1 INVITE"),
		"no CSeq":            lightDatagram("SIP/2.0 100 Trying", via),
		"no Via":             lightDatagram("SIP/2.0 100 Trying", "CSeq: 1 INVITE"),
		"no branch":          lightDatagram("SIP/2.0 100 Trying", "Via: SIP/2.0/UDP h;rport", "CSeq: 1 INVITE"),
		"RFC 2543 branch":    lightDatagram("SIP/2.0 100 Trying", "Via: SIP/2.0/UDP h;branch=abc", "CSeq: 1 INVITE"),
		"bare magic cookie":  lightDatagram("SIP/2.0 100 Trying", "Via: SIP/2.0/UDP h;branch=z9hG4bK", "CSeq: 1 INVITE"),
		"CSeq without digit": lightDatagram("SIP/2.0 100 Trying", via, "CSeq: x INVITE"),
		"CSeq trailing":      lightDatagram("SIP/2.0 100 Trying", via, "CSeq: 1 INVITE x"),
		"CSeq two spaces":    lightDatagram("SIP/2.0 100 Trying", via, "CSeq: 1  INVITE"),
		"LF line ends":       []byte("SIP/2.0 100 Trying\n" + via + "\nCSeq: 1 INVITE\n\n"),
		"no end of headers":  []byte("SIP/2.0 100 Trying\r\n" + via + "\r\nCSeq: 1 INVITE\r\n"),
		"bad status":         lightDatagram("SIP/2.0 1x0 Trying", via, "CSeq: 1 INVITE"),
		"status run-on":      lightDatagram("SIP/2.0 1000 Trying", via, "CSeq: 1 INVITE"),
		"header sans colon":  lightDatagram("SIP/2.0 100 Trying", via, "CSeq: 1 INVITE", "Bogus"),
		"request":            lightDatagram("BYE sip:a@b SIP/2.0", via, "CSeq: 1 BYE"),
	} {
		if r, ok := scanLight(data); ok {
			t.Errorf("%s: read as light (code %d, method %q)", name, r.code, r.method)
		}
	}
}

// The provisional responses to our INVITE over UDP reach the transaction
// without sipgo's parser (no headers: the light path), the 200 with them;
// the 100 is kept from the user until it asks (provisionalSeen), the 180
// is handed on. A light response matching no transaction is left to the
// full parser.
func TestLightProvisionalsReachInvite(t *testing.T) {
	env, peer, tx := startInviteTx(t)
	req := peer.request(t)
	peer.respond(t, req, 100, "Trying")
	peer.respond(t, req, 180, "Ringing")
	r := nextResponse(t, tx)
	if r.StatusCode != 180 || r.Via() != nil || r.To() != nil {
		t.Fatalf("got %d (Via %v, To %v), want a light 180", r.StatusCode, r.Via(), r.To())
	}
	if !tryingSeen(tx) {
		t.Error("the 100 was not kept")
	}
	peer.respond(t, req, 100, "Trying") // once asked, the user gets every provisional response
	if r := nextResponse(t, tx); r.StatusCode != 100 {
		t.Fatalf("got %d, want the 100", r.StatusCode)
	}
	peer.respond(t, req, 200, "OK")
	if r := nextResponse(t, tx); r.StatusCode != 200 || r.To() == nil || !r.To().Params.Has("tag") {
		t.Fatalf("the 200 lost its headers: %v", r)
	}
	stray := sippResponse("SIP/2.0 100 Trying", "1 INVITE")
	if env.a.takeLight(stray) {
		t.Error("a response to no transaction of ours was taken")
	}
}

// The 200 to a BYE takes the light path; the BYE's user gets its status.
func TestLightByeAnswer(t *testing.T) {
	_, peer, done := doAsync(t, sip.BYE)
	peer.respond(t, peer.request(t), 200, "OK")
	r := <-done
	if r.err != nil || r.res.StatusCode != 200 || r.res.Reason != "OK" || r.res.CSeq() != nil {
		t.Fatalf("got %v (%v), want a light 200 OK", r.res, r.err)
	}
}

// What scanLight reads as light, the full parser reads to the same status
// code, branch and CSeq method, when it accepts it (scanLight does not
// check the headers it does not use: a From or Content-Type the parser
// refuses does not keep a 100 from its transaction).
func FuzzScanLight(f *testing.F) {
	f.Add(sippResponse("SIP/2.0 100 Trying", "1 INVITE"))
	f.Add(sippResponse("SIP/2.0 200 OK", "2 BYE"))
	f.Add(lightDatagram("SIP/2.0 180 Ringing", "v: SIP/2.0/UDP h ; branch = z9hG4bKx ", "CSEQ:  7 INVITE", "l: 0"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, ok := scanLight(data)
		if !ok {
			return
		}
		if !r.eligible() || !bytes.HasPrefix(r.branch, []byte(sip.RFC3261BranchMagicCookie)) {
			t.Fatalf("light: code %d, method %q, branch %q", r.code, r.method, r.branch)
		}
		msg, err := newParser().ParseSIP(data)
		if err != nil {
			return
		}
		res, isRes := msg.(*sip.Response)
		if !isRes || res.StatusCode != r.code {
			t.Fatalf("light %d, parsed %v", r.code, msg)
		}
		key, err := sip.ClientTxKeyMake(res)
		if want := string(r.branch) + sip.TxSeperator + string(r.method); err != nil || key != want {
			t.Fatalf("light key %q, parsed %q (%v)", want, key, err)
		}
	})
}
