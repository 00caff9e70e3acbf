package xmpp

import (
	"errors"
	"testing"

	"github.com/sigbridge/sigbridge/gateway"
)

func TestEscapeLocalRoundTrip(t *testing.T) {
	tests := []struct{ raw, escaped string }{
		{"bob@pbx.example.org", `bob\40pbx.example.org`},
		{`c:\net`, `c\3a\net`},
		{`c:\5commas`, `c\3a\5c5commas`},
		{`\5c`, `\5c5c`},
		{"space cadet", `space\20cadet`},
		{`call me "ishmael"`, `call\20me\20\22ishmael\22`},
		{"at&t guy", `at\26t\20guy`},
		{"d'artagnan", `d\27artagnan`},
		{"/.fanboy", `\2f.fanboy`},
		{"<<<foo>>>", `\3c\3c\3cfoo\3e\3e\3e`},
		{"+15551234", "+15551234"},
		{"alice", "alice"},
	}
	for _, tt := range tests {
		if got := EscapeLocal(tt.raw); got != tt.escaped {
			t.Errorf("EscapeLocal(%q) = %q, want %q", tt.raw, got, tt.escaped)
		}
		if got := UnescapeLocal(tt.escaped); got != tt.raw {
			t.Errorf("UnescapeLocal(%q) = %q, want %q", tt.escaped, got, tt.raw)
		}
	}
	if got := UnescapeLocal(`BOB\40PBX`); got != "BOB@PBX" {
		t.Errorf("upper-case hex: %q", got)
	}
}

func TestTargetForLocal(t *testing.T) {
	tests := []struct{ local, target string }{
		{`bob\40pbx.example.org`, "sip:bob@pbx.example.org"},
		{"alice", "alice"},
		{"+15551234", "+15551234"},
		{`sip\3abob\40pbx.example.org`, "sip:bob@pbx.example.org"},
		{`tel\3a+15551234`, "tel:+15551234"},
		{`bob\40127.0.0.1\3a5070`, "sip:bob@127.0.0.1:5070"},
	}
	for _, tt := range tests {
		got, err := TargetForLocal(tt.local)
		if err != nil || got != tt.target {
			t.Errorf("TargetForLocal(%q) = %q, %v; want %q", tt.local, got, err, tt.target)
		}
		if _, err := gateway.ParseTarget(got); err != nil {
			t.Errorf("%q does not parse as a target: %v", got, err)
		}
	}
	if _, err := TargetForLocal(`xmpp\3ajuliet\40example.org`); !errors.Is(err, gateway.ErrForbidden) {
		t.Errorf("xmpp target through the gateway: %v", err)
	}
	if _, err := TargetForLocal(""); err == nil {
		t.Error("empty local part accepted")
	}
}

func TestLocalForAddress(t *testing.T) {
	for addr, want := range map[string]string{
		"alice":                    "alice",
		"sip:bob@pbx.example.org":  `bob\40pbx.example.org`,
		"tel:+15551234":            "+15551234",
		"+15551234":                "+15551234",
		"sips:bob@pbx.example.org": `sips\3abob\40pbx.example.org`,
		"sip:bob@127.0.0.1:5070":   `bob\40127.0.0.1\3a5070`,
	} {
		got := LocalForAddress(addr)
		if got != want {
			t.Errorf("LocalForAddress(%q) = %q, want %q", addr, got, want)
		}
		back, err := TargetForLocal(got)
		if err != nil {
			t.Fatal(err)
		}
		t1, _ := gateway.ParseTarget(addr)
		t2, _ := gateway.ParseTarget(back)
		if t1.String() != t2.String() {
			t.Errorf("round trip %q -> %q -> %q", addr, got, back)
		}
	}
	j, err := GatewayJID("sip:bob@pbx.example.org", "gw.example.org")
	if err != nil || j.String() != `bob\40pbx.example.org@gw.example.org` {
		t.Errorf("GatewayJID = %v, %v", j, err)
	}
}

// A full-JID target keeps its resource (RFC 7622: everything after the
// first "/", "@" and "/" included); a bare one stays bare.
func TestTargetJIDFull(t *testing.T) {
	for in, want := range map[string]string{
		"xmpp:user2@localhost/callee":           "user2@localhost/callee",
		"xmpp:juliet@example.org/desk/2@home":   "juliet@example.org/desk/2@home",
		"xmpp:juliet@example.org":               "juliet@example.org",
		`xmpp:bob\40pbx@gw.example.org/phone 1`: "",
	} {
		tgt, err := gateway.ParseTarget(in)
		if want == "" {
			if err == nil {
				t.Errorf("%q parsed", in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		j, err := TargetJID(tgt)
		if err != nil || j.String() != want {
			t.Errorf("TargetJID(%q) = %s, %v; want %s", in, j, err, want)
		}
	}
}
