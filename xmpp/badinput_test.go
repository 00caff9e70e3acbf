package xmpp

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/xmpp/jingle"
	"github.com/sigbridge/sigbridge/xmpp/xmpptest"
	"mellium.im/xmpp/stanza"
)

// Raw stanzas from a (fake) server: the framer must refuse each bad one
// alone, answer IQs with bad-request (policy-violation for size), and keep
// the stream up so that the next IQ is answered.
func TestRawBadStanzasFailAlone(t *testing.T) {
	s, a := startFakeAdapter(t)
	const from = ` from='romeo@example.org/x' to='alice@gw.test' type='set'`
	tests := []struct {
		name, raw, cond string
	}{
		{"doctype", `<iq id='d1'` + from + `><!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>` +
			`<ping xmlns='urn:xmpp:ping'>&lol2;</ping></iq>`, "bad-request"},
		{"comment", `<iq id='d2'` + from + `><!-- x --><ping xmlns='urn:xmpp:ping'/></iq>`, "bad-request"},
		{"pi", `<iq id='d3'` + from + `><?evil?><ping xmlns='urn:xmpp:ping'/></iq>`, "bad-request"},
		{"mismatch", `<iq id='d4'` + from + `><ping xmlns='urn:xmpp:ping'></pong></iq>`, "bad-request"},
		{"entity", `<iq id='d5'` + from + `><ping xmlns='urn:xmpp:ping'>&bogus;</ping></iq>`, "bad-request"},
		{"deep", `<iq id='d6'` + from + `>` + strings.Repeat("<a>", 70) + strings.Repeat("</a>", 70) + `</iq>`, "bad-request"},
		{"large", `<iq id='d7'` + from + `><ping xmlns='urn:xmpp:ping'>` + strings.Repeat("x", 5000) + `</ping></iq>`, "policy-violation"},
		{"bad candidate", `<iq id='d8'` + from + `><jingle xmlns='urn:xmpp:jingle:1' action='transport-info' sid='s1'>` +
			`<content creator='initiator' name='0'><transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='u' pwd='p'>` +
			`<candidate id='c1' foundation='1' component='1' protocol='udp' priority='1' ip='10.0.0.1' port='99999' type='bogus' generation='0'/>` +
			`</transport></content></jingle></iq>`, "bad-request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.write(tt.raw)
			id := tt.raw[len("<iq id='") : len("<iq id='")+2]
			if r := s.expect(id); r.Type != "error" || r.ErrCond != tt.cond || r.To != "romeo@example.org/x" {
				t.Errorf("reply = %+v, want error %s", r, tt.cond)
			}
			s.write(`<iq id='p-` + id + `' type='get' from='romeo@example.org/x' to='alice@gw.test'><ping xmlns='urn:xmpp:ping'/></iq>`)
			if r := s.expect("p-" + id); r.Type != "result" {
				t.Errorf("ping after %s: %+v", tt.name, r)
			}
		})
	}
	s.write(`junk between stanzas<!DOCTYPE x><iq id='last' type='get' from='romeo@example.org/x' to='alice@gw.test'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if r := s.expect("last"); r.Type != "result" {
		t.Errorf("ping after stream-level junk: %+v", r)
	}
	if !a.Connected() {
		t.Error("the stream went down")
	}
}

// Bad input through a real Prosody: a malformed candidate, an unknown
// session, an oversized stanza; the stream stays up.
func TestBadInputThroughProsody(t *testing.T) {
	e := newEnv(t, nil)
	romeo := e.login("romeo")
	ctx := ctxFor(t, 20*time.Second)
	alice := e.gwJID("alice")

	raw := `<iq type='set' id='cand1' to='` + alice.String() + `'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s1'>` +
		`<content creator='initiator' name='0'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>` +
		`<payload-type id='111' name='opus' clockrate='48000' channels='2'/></description>` +
		`<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='u' pwd='p'>` +
		`<candidate id='c1' foundation='1' component='1' protocol='udp' priority='1' ip='not an ip' port='1' type='host' generation='0'/>` +
		`</transport></content></jingle></iq>`
	ev, err := romeo.SendRawIQ(ctx, "cand1", raw)
	if err != nil || ev.Type != "error" || ev.ErrCond != "bad-request" {
		t.Errorf("malformed candidate: %v %+v", err, ev)
	}

	ti := &jingle.Jingle{Action: jingle.ActionTransportInfo, SID: "no-such-session", Contents: []jingle.Content{{
		Creator: "initiator", Name: "0", Transport: &jingle.Transport{Ufrag: "u", Pwd: "p"}}}}
	var iqErr *xmpptest.IQError
	if err := romeo.SendJingle(ctx, alice, ti); !errors.As(err, &iqErr) || iqErr.Cond != "item-not-found" || iqErr.App != "unknown-session" {
		t.Errorf("unknown session: %v", err)
	}

	big := strings.Repeat("x", 300<<10)
	ev, err = romeo.SendIQ(ctx, alice, stanza.SetIQ, struct {
		XMLName struct{} `xml:"urn:example:big big"`
		Data    string   `xml:",chardata"`
	}{Data: big})
	if err != nil || ev.ErrCond != "policy-violation" {
		t.Errorf("oversized stanza: %v %+v", err, ev)
	}
	ev, err = romeo.SendIQ(ctx, alice, stanza.SetIQ, struct {
		XMLName struct{} `xml:"urn:example:big big"`
		Data    string   `xml:",chardata"`
	}{Data: big[:250<<10]})
	if err != nil || ev.ErrCond != "service-unavailable" {
		t.Errorf("250 KiB stanza: %v %+v (want it delivered and refused as unknown)", err, ev)
	}
	if _, err := romeo.DiscoInfo(ctx, alice); err != nil {
		t.Errorf("disco after bad input: %v", err)
	}
	if !e.a.Connected() {
		t.Error("the component went down")
	}
}
