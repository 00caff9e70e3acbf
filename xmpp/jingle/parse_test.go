package jingle

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

const jingleOpen = `<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='s1'>`

func nested(depth int) string {
	// the root counts as depth 1
	return jingleOpen + strings.Repeat("<x>", depth-1) + strings.Repeat("</x>", depth-1) + "</jingle>"
}

func withAttrs(n int) string {
	// xmlns, action and sid are 3 attributes
	var b strings.Builder
	b.WriteString("<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='s1'")
	for i := 0; i < n-3; i++ {
		fmt.Fprintf(&b, " a%d='v'", i)
	}
	b.WriteString("/>")
	return b.String()
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []error
		text string // must appear in the error
	}{
		{"doctype", `<!DOCTYPE jingle SYSTEM "file:///etc/passwd">` + nested(1), []error{ErrBadXML, ErrDTD}, "DOCTYPE"},
		{"xxe", `<!DOCTYPE j [<!ENTITY x SYSTEM "file:///etc/passwd">]>` + jingleOpen + `&x;</jingle>`, []error{ErrBadXML, ErrDTD}, ""},
		{"entity without dtd", jingleOpen + `&lol9;</jingle>`, []error{ErrBadXML}, ""},
		{"depth 65", nested(65), []error{ErrBadXML, ErrTooDeep}, "<x>"},
		{"65 attributes", withAttrs(65), []error{ErrBadXML, ErrTooManyAttrs}, "jingle"},
		{"processing instruction", jingleOpen + `<?php x?></jingle>`, []error{ErrBadXML, ErrProcInst}, "php"},
		{"late xml declaration", ` ` + jingleOpen + `</jingle><?xml version='1.0'?>`, []error{ErrBadXML, ErrProcInst}, ""},
		{"comment", jingleOpen + `<!-- hi --></jingle>`, []error{ErrBadXML, ErrProcInst}, ""},
		{"too large", jingleOpen + strings.Repeat(" ", MaxStanzaSize) + `</jingle>`, []error{ErrBadXML, ErrTooLarge}, ""},
		{"wrong root", `<iq xmlns='jabber:client'/>`, []error{ErrBadXML}, "iq"},
		{"wrong namespace", `<jingle xmlns='urn:xmpp:jingle:0'/>`, []error{ErrBadXML}, "urn:xmpp:jingle:0"},
		{"empty", ``, []error{ErrBadXML}, ""},
		{"unclosed", jingleOpen + `<content>`, []error{ErrBadXML}, ""},
		{"mismatched", jingleOpen + `<content></contents></jingle>`, []error{ErrBadXML}, ""},
		{"trailing element", nested(1) + `<jingle xmlns='urn:xmpp:jingle:1'/>`, []error{ErrBadXML}, "after"},
		{"bad pt id", jingleOpen + `<content name='a'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='256'/></description></content></jingle>`,
			[]error{ErrBadXML}, "payload-type"},
		{"malformed candidate", jingleOpen + `<content name='a'><transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'><candidate component='1' foundation='1' id='x' ip='1.2.3.4' port='99999' priority='1' protocol='udp' type='host'/></transport></content></jingle>`,
			[]error{ErrBadXML, ErrBadCandidate}, "port"},
		{"candidate bad type", jingleOpen + `<content name='a'><transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'><candidate component='1' foundation='1' id='x' ip='1.2.3.4' port='9' priority='1' protocol='udp' type='bogus'/></transport></content></jingle>`,
			[]error{ErrBadXML, ErrBadCandidate}, "transport"},
		{"latin1", `<?xml version='1.0' encoding='ISO-8859-1'?>` + nested(1), []error{ErrBadXML}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j, err := Parse([]byte(tc.in))
			if err == nil {
				t.Fatalf("accepted: %+v", j)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("error %q does not wrap %v", err, w)
				}
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not mention %q", err, tc.text)
			}
		})
	}
}

func TestParseAcceptsLimits(t *testing.T) {
	for name, in := range map[string]string{
		"depth 64":        nested(64),
		"64 attributes":   withAttrs(64),
		"xml declaration": `<?xml version='1.0' encoding='UTF-8'?>` + "\n" + nested(1),
		"255 KiB":         jingleOpen + strings.Repeat(" ", 255<<10) + `</jingle>`,
		"prefixed":        `<j:jingle xmlns:j='urn:xmpp:jingle:1' action='session-info' sid='s'><r:ringing xmlns:r='urn:xmpp:jingle:apps:rtp:info:1'/></j:jingle>`,
	} {
		if _, err := Parse([]byte(in)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestBillionLaughsFlatMemory: the DTD is refused before any expansion.
func TestBillionLaughsFlatMemory(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">`)
	prev := "lol"
	for i := 1; i <= 9; i++ {
		name := fmt.Sprintf("lol%d", i)
		fmt.Fprintf(&b, `<!ENTITY %s "%s">`, name, strings.Repeat("&"+prev+";", 10))
		prev = name
	}
	b.WriteString(`]>` + jingleOpen + `&lol9;</jingle>`)
	in := []byte(b.String())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 10; i++ {
		if _, err := Parse(in); !errors.Is(err, ErrDTD) {
			t.Fatalf("err = %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 1<<20 {
		t.Errorf("10 parses allocated %d bytes", grown)
	}
}

func TestParseReaderCap(t *testing.T) {
	big := strings.NewReader(jingleOpen + strings.Repeat(" ", 1<<20) + `</jingle>`)
	if _, err := ParseReader(big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if _, err := ParseReader(strings.NewReader(nested(2))); err != nil {
		t.Fatal(err)
	}
}

func TestSessionInfoAndReason(t *testing.T) {
	cases := []struct {
		in       string
		info     string
		cond     string
		text     string
		altSID   string
		roundXML string
		unknown  string
	}{
		{in: jingleOpen + `<ringing xmlns='urn:xmpp:jingle:apps:rtp:info:1'/></jingle>`, info: InfoRinging,
			roundXML: `<ringing xmlns="urn:xmpp:jingle:apps:rtp:info:1"></ringing>`},
		{in: jingleOpen + `<foo xmlns='urn:example'/><hold xmlns='urn:xmpp:jingle:apps:rtp:1:info'/></jingle>`, info: InfoHold},
		{in: jingleOpen + `<mute xmlns='urn:xmpp:jingle:apps:rtp:info:1' creator='initiator' name='voice'/></jingle>`, info: InfoMute,
			roundXML: `<mute xmlns="urn:xmpp:jingle:apps:rtp:info:1" creator="initiator" name="voice"></mute>`},
		{in: jingleOpen + `<ringing xmlns='urn:other'/></jingle>`, unknown: "{urn:other}ringing"},
		{in: jingleOpen + `</jingle>`}, // a session ping: no payload, nothing unknown
		{in: `<jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='s'><reason><busy/><text>Busy here</text><x xmlns='urn:example'/></reason></jingle>`,
			cond: ReasonBusy, text: "Busy here", roundXML: `<reason xmlns="urn:xmpp:jingle:1"><busy xmlns="urn:xmpp:jingle:1"></busy><text xmlns="urn:xmpp:jingle:1">Busy here</text></reason>`},
		{in: `<jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='s'><reason><x xmlns='urn:example'/><alternative-session><sid>b84</sid></alternative-session></reason></jingle>`,
			cond: ReasonAlternativeSession, altSID: "b84", roundXML: `<alternative-session xmlns="urn:xmpp:jingle:1"><sid>b84</sid></alternative-session>`},
		{in: `<jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='s'><reason><weird/></reason></jingle>`, cond: "weird"},
	}
	for _, tc := range cases {
		j, err := Parse([]byte(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		if got := infoKind(j); got != tc.info {
			t.Errorf("%s: info %q, want %q", tc.in, got, tc.info)
		}
		if j.UnknownInfo != tc.unknown {
			t.Errorf("%s: unknown info %q, want %q", tc.in, j.UnknownInfo, tc.unknown)
		}
		if tc.cond != "" && (j.Reason == nil || j.Reason.Condition != tc.cond || j.Reason.Text != tc.text || j.Reason.SID != tc.altSID) {
			t.Errorf("%s: reason %+v", tc.in, j.Reason)
		}
		out, err := j.Marshal()
		if err != nil || !strings.Contains(string(out), tc.roundXML) {
			t.Errorf("marshal %s: %v, want %s", out, err, tc.roundXML)
		}
		if _, err := Parse(out); err != nil {
			t.Errorf("reparse: %v", err)
		}
	}
}

func infoKind(j *Jingle) string {
	if j.Info == nil {
		return ""
	}
	return j.Info.Kind()
}

func TestBuildTerminate(t *testing.T) {
	j := &Jingle{Action: ActionSessionTerminate, SID: "x", Reason: NewReason(ReasonSuccess, "bye")}
	out, err := j.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `<jingle xmlns="urn:xmpp:jingle:1" action="session-terminate" sid="x"><reason xmlns="urn:xmpp:jingle:1"><success xmlns="urn:xmpp:jingle:1"></success><text xmlns="urn:xmpp:jingle:1">bye</text></reason></jingle>`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	j = &Jingle{Action: ActionSessionInfo, SID: "x", Initiator: "a@b/c", Info: NewInfo(InfoRinging)}
	out, _ = j.Marshal()
	if !strings.Contains(string(out), `initiator="a@b/c"`) || !strings.Contains(string(out), `<ringing xmlns="urn:xmpp:jingle:apps:rtp:info:1">`) {
		t.Errorf("got %s", out)
	}
	if _, err := (*Jingle)(nil).Marshal(); !errors.Is(err, ErrBadJingle) {
		t.Error(err)
	}
}

func TestActionsAndReasonsKnown(t *testing.T) {
	if !ActionTransportInfo.Known() || Action("x").Known() {
		t.Error("Action.Known")
	}
	if !KnownReason(ReasonUnsupportedTransports) || KnownReason("x") {
		t.Error("KnownReason")
	}
	if r, ok := ParseRole("responder"); !ok || r != Responder || r.Other() != Initiator {
		t.Error("ParseRole")
	}
	if _, ok := ParseRole("x"); ok {
		t.Error("ParseRole x")
	}
}
