package xmpp

import (
	"encoding/xml"
	"strconv"
	"testing"

	"mellium.im/xmpp/jid"
)

// The XEP-0115 §5.2 and §5.3 examples, decoded from their disco#info
// answers (xml:lang identities, an XEP-0128 form), give their ver.
func TestCapsVerExamples(t *testing.T) {
	cases := []struct{ answer, ver string }{
		{`<query xmlns='http://jabber.org/protocol/disco#info'>
			<identity category='client' name='Exodus 0.9.1' type='pc'/>
			<feature var='http://jabber.org/protocol/caps'/>
			<feature var='http://jabber.org/protocol/disco#info'/>
			<feature var='http://jabber.org/protocol/disco#items'/>
			<feature var='http://jabber.org/protocol/muc'/>
		</query>`, "QgayPKawpkPSDYmwT/WM94uAlu0="},
		{`<query xmlns='http://jabber.org/protocol/disco#info'>
			<identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
			<identity xml:lang='el' category='client' name='Ψ 0.11' type='pc'/>
			<feature var='http://jabber.org/protocol/caps'/>
			<feature var='http://jabber.org/protocol/disco#info'/>
			<feature var='http://jabber.org/protocol/disco#items'/>
			<feature var='http://jabber.org/protocol/muc'/>
			<x xmlns='jabber:x:data' type='result'>
				<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>
				<field var='ip_version'><value>ipv4</value><value>ipv6</value></field>
				<field var='os'><value>Mac</value></field>
				<field var='os_version'><value>10.5.1</value></field>
				<field var='software'><value>Psi</value></field>
				<field var='software_version'><value>0.11</value></field>
			</x>
		</query>`, "q07IKJEyjvHSyhy//CH0CxmKi8w="},
	}
	for i, tc := range cases {
		var q discoQuery
		if err := xml.Unmarshal([]byte(tc.answer), &q); err != nil {
			t.Fatal(err)
		}
		if got, ok := verOf(&q); !ok || got != tc.ver {
			t.Errorf("example %d: ver %q (%v), want %q", i, got, ok, tc.ver)
		}
	}
	// StanzaJS 12's caps for a browser client (identity client/web, no
	// name), computed with its own LegacyEntityCapabilities.generate.
	stanzaJS := &discoQuery{Identities: []discoIdentity{{Category: "client", Type: "web"}}}
	for _, f := range []string{"http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items",
		"urn:xmpp:jingle:1", "urn:xmpp:jingle:transports:ice-udp:1", "urn:xmpp:jingle:apps:rtp:1",
		"urn:xmpp:jingle:apps:rtp:audio"} {
		stanzaJS.Features = append(stanzaJS.Features, discoFeature{Var: f})
	}
	if got, ok := verOf(stanzaJS); !ok || got != "EUkSVrLBB7bQKzild1ZX1FIKpIA=" {
		t.Errorf("StanzaJS ver %q (%v)", got, ok)
	}
	if f := featuresOf(stanzaJS); !f.direct() {
		t.Errorf("StanzaJS features %+v: want a direct (no JMI) device", f)
	}
	if got := capsVer(); got == "" {
		t.Error("no ver for our own features")
	}
}

// The devices table: caps verified by ver are shared by devices with the
// same ver, a lying answer only describes its device, unavailable drops
// the device, and the tables stay within their bounds.
func TestDevicesTable(t *testing.T) {
	d := newDevices()
	a, b := jid.MustParse("u@example.org/a"), jid.MustParse("u@example.org/b")
	good := &discoQuery{Identities: []discoIdentity{{Category: "client", Type: "web"}},
		Features: []discoFeature{{Var: "urn:xmpp:jingle:1"}, {Var: "urn:xmpp:jingle:apps:rtp:1"}}}
	ver, _ := verOf(good)
	c := &capsIn{Hash: "sha-1", Node: "https://stanzajs.org", Ver: ver}
	if node, ask, _ := d.available(a, c); !ask || node != c.Node+"#"+ver {
		t.Fatalf("first device: ask %v node %q", ask, node)
	}
	if _, ask, _ := d.available(b, c); ask {
		t.Error("a second query for a ver in flight")
	}
	d.answered(a, ver, good)
	if direct, maybe := d.forkTargets(a.Bare()); len(direct) != 2 || maybe {
		t.Errorf("fork targets %v (jmi maybe %v), want both devices", direct, maybe)
	}

	// A device claiming that ver with other features changes nothing for
	// others: its answer does not verify.
	liar := jid.MustParse("v@example.org/x")
	other := &capsIn{Hash: "sha-1", Node: "n", Ver: "bm90IGEgcmVhbCBoYXNoIGF0IGFsbCEhIQ=="}
	d.available(liar, other)
	d.answered(liar, other.Ver, &discoQuery{Features: []discoFeature{{Var: "urn:xmpp:jingle-message:0"}}})
	if _, ok := d.caps[other.Ver]; ok {
		t.Error("unverified caps cached by ver")
	}
	if direct, maybe := d.forkTargets(liar.Bare()); len(direct) != 0 || !maybe {
		t.Errorf("liar: %v %v", direct, maybe)
	}

	d.unavailable(a)
	if direct, _ := d.forkTargets(a.Bare()); len(direct) != 1 || !direct[0].Equal(b) {
		t.Errorf("after a left: %v", direct)
	}
	if direct, maybe := d.forkTargets(jid.MustParse("nobody@example.org")); direct != nil || !maybe {
		t.Error("unknown user: want JMI only")
	}

	for i := range maxPresenceUsers + 10 {
		j, _ := jid.New("user"+strconv.Itoa(i), "example.org", "r")
		d.available(j, nil)
	}
	if len(d.users) > maxPresenceUsers || len(d.inFlight) > maxDiscoInFlight {
		t.Errorf("tables grew to %d users, %d queries", len(d.users), len(d.inFlight))
	}
}
