package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/sigbridge/sigbridge/gateway"
)

func TestCheckHeaderValue(t *testing.T) {
	for _, s := range []string{"alice", "xmpp:juliet@example.org", "Zoë", "a\tb", ""} {
		if err := checkHeaderValue(s); err != nil {
			t.Errorf("%q refused: %v", s, err)
		}
	}
	for _, s := range []string{"a\r\nVia: x", "a\nb", "a\rb", "nul\x00", "del\x7f", "c1\u0085", "\xff\xfe"} {
		if err := checkHeaderValue(s); !errors.Is(err, ErrUnsafeValue) {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestEscapeUserRoundTrip(t *testing.T) {
	for _, s := range []string{"alice", "xmpp:juliet@example.org", "a b;c?d&e", "bob\\40pbx"} {
		esc := escapeUser(s)
		if err := checkDialUser(esc); err != nil && !errors.Is(err, gateway.ErrForbidden) {
			t.Fatal(err)
		}
		back, err := unescapeUser(esc)
		if err != nil || back != s {
			t.Errorf("%q -> %q -> %q (%v)", s, esc, back, err)
		}
	}
	if _, err := unescapeUser("a%0d%0aVia"); err == nil {
		t.Error("escaped CRLF accepted")
	}
	if _, err := unescapeUser("a%zz"); err == nil {
		t.Error("bad escape accepted")
	}
}

func TestQuoteDisplayName(t *testing.T) {
	if got := quoteDisplayName(`a "b" \c`); got != `"a \"b\" \\c"` {
		t.Errorf("got %s", got)
	}
}

// TestDialRefusesInjectedCaller: a caller address with CR/LF never reaches
// a SIP header.
func TestDialRefusesInjectedCaller(t *testing.T) {
	env := newEnv(t, Config{Routes: []Route{loopbackRoute()}})
	tgt, _ := gateway.ParseTarget("sip:bob@127.0.0.1:5999")
	_, err := env.a.Dial(context.Background(), gateway.DialRequest{From: "a\r\nVia: x", Target: tgt})
	if !errors.Is(err, gateway.ErrBadTarget) {
		t.Fatalf("err %v, want ErrBadTarget", err)
	}
}

func TestTrustedSourcesUnmapped(t *testing.T) {
	a := policyAdapter(t)
	var err error
	if a.trusted, err = parsePrefixes([]string{"192.0.2.0/24", "::ffff:198.51.100.0/120", "2001:db8::1"}); err != nil {
		t.Fatal(err)
	}
	for src, want := range map[string]bool{
		"192.0.2.7:5060":           true,
		"[::ffff:192.0.2.7]:5060":  true,
		"198.51.100.9:5060":        true,
		"[2001:db8::1]:5060":       true,
		"203.0.113.1:5060":         false,
		"[::ffff:203.0.113.1]:506": false,
	} {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Host: "x"})
		req.SetSource(src)
		if got := a.isTrusted(req); got != want {
			t.Errorf("%s: trusted %v, want %v", src, got, want)
		}
	}
	if p := unmapPrefix(netip.MustParsePrefix("::ffff:10.0.0.0/104")); p.String() != "10.0.0.0/8" {
		t.Errorf("unmap: %s", p)
	}
}

// TestEscapeUserAsBefore checks escapeUser against the escaping written
// out byte by byte, and that a user part without anything to escape is
// returned without a copy.
func TestEscapeUserAsBefore(t *testing.T) {
	ref := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if c := s[i]; isAlnum(c) || strings.IndexByte(userSafe, c) >= 0 {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		}
		return b.String()
	}
	for _, s := range []string{"", "alice", "+4930123", "xmpp:juliet@example.org", "a b;c?d&e", "é", "x\x00",
		"-_.!~*'()=+$,/", "alice%"} {
		if got, want := escapeUser(s), ref(s); got != want {
			t.Errorf("escapeUser(%q) = %q, want %q", s, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = escapeUser("alice.smith") }); n != 0 {
		t.Fatalf("escapeUser of a safe user part allocates %v times", n)
	}
}

// TestDisplayNameAsQuoted checks displayName against quoteDisplayName
// with its quotes trimmed, as it was written before, and that a name
// with nothing to escape is not copied.
func TestDisplayNameAsQuoted(t *testing.T) {
	for _, s := range []string{"", "alice", `"`, `""`, `\`, `a"b\c`, `"alice"`, "xmpp:juliet@example.org/balcony"} {
		want := strings.TrimSuffix(strings.TrimPrefix(quoteDisplayName(s), `"`), `"`)
		if got := displayName(s); got != want {
			t.Errorf("displayName(%q) = %q, want %q", s, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = displayName("alice") }); n != 0 {
		t.Fatalf("displayName allocates %v times", n)
	}
}
