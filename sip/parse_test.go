package sip

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestParserLWS: parameters with LWS around ";" and "=" (RFC 3261 §25.1)
// keep their names and values; multi-value headers still split at the
// right comma; quoted strings keep their spaces.
func TestParserLWS(t *testing.T) {
	msg := "OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\n" +
		"Via  : SIP / 2.0 / UDP 192.0.2.2 : 5070 ; branch = z9hG4bK1 , SIP/2.0/TCP h2.example.com ;branch= z9hG4bK2\r\n" +
		"From: \"A ; b = c\"   <sip:a@example.com> ;\r\n  tag = f1\r\n" +
		"To: sip:gw@example.com ; tag = t1\r\n" +
		"Contact: <sip:x@h1> ; q = 0.5 , \"Y, Z\" <sip:y@h2> ;expires = 60\r\n" +
		"Call-ID: lws\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	m, err := newParser().ParseSIP([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	req := m.(*sip.Request)
	if tag, _ := req.From().Params.Get("tag"); tag != "f1" || req.From().DisplayName != "A ; b = c" {
		t.Errorf("From %q tag %q", req.From().DisplayName, tag)
	}
	if tag, _ := req.To().Params.Get("tag"); tag != "t1" || req.To().Address.Host != "example.com" {
		t.Errorf("To host %q tag %q", req.To().Address.Host, tag)
	}
	vias := req.GetHeaders("Via")
	if len(vias) != 2 {
		t.Fatalf("%d Via headers: %v", len(vias), vias)
	}
	v := req.Via()
	if b, _ := v.Params.Get("branch"); b != "z9hG4bK1" || v.Host != "192.0.2.2" || v.Port != 5070 || v.Transport != "UDP" {
		t.Errorf("top Via %q", v.Value())
	}
	contacts := req.GetHeaders("Contact")
	if len(contacts) != 2 || !strings.Contains(contacts[1].Value(), "expires=60") ||
		!strings.Contains(contacts[0].Value(), "q=0.5") {
		t.Errorf("Contacts %v", contacts)
	}
}
