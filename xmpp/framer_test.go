package xmpp

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

const testHeader = `<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' id='x' from='gw'>`

type rejected struct {
	head string
	err  error
}

func runFramer(t *testing.T, in string, max int, oneByte bool) (string, []rejected) {
	t.Helper()
	var rej []rejected
	var src io.Reader = strings.NewReader(in)
	if oneByte {
		src = iotest.OneByteReader(src)
	}
	f := newFramer(src, max, func(h []byte, err error) { rej = append(rej, rejected{string(h), err}) })
	out, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(out), rej
}

func TestFramerPassesGoodStanzas(t *testing.T) {
	body := testHeader + "\n <iq type='get' id='a' to='gw'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>" +
		`<presence/><message to="a" attr='has > and "quotes"'><body><![CDATA[<not markup>]]> &amp; text</body></message>` +
		`<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>` + // restart
		`<iq type='result' id='b'/></stream:stream>`
	for _, one := range []bool{false, true} {
		out, rej := runFramer(t, body, 0, one)
		if out != body || len(rej) != 0 {
			t.Errorf("oneByte=%v: out differs or rejected %v\n got %q", one, rej, out)
		}
	}
}

func TestFramerRejectsBadStanzas(t *testing.T) {
	good := `<iq type='get' id='next'/>`
	deep := strings.Repeat("<a>", MaxStanzaDepth) + strings.Repeat("</a>", MaxStanzaDepth)
	okDeep := strings.Repeat("<a>", MaxStanzaDepth-1) + strings.Repeat("</a>", MaxStanzaDepth-1)
	manyAttrs := "<x " + strings.Repeat("a=''", 0) + attrs(MaxStanzaAttrs+1) + "/>"
	tests := []struct {
		name, stanza string
		want         error
	}{
		{"doctype", `<iq type='set' id='d'><!DOCTYPE x [<!ENTITY a "b>">]><x>&a;</x></iq>`, ErrRestrictedXML},
		{"comment", `<iq type='set' id='d'><!-- hi --></iq>`, ErrRestrictedXML},
		{"pi", `<iq type='set' id='d'><?php x ?></iq>`, ErrRestrictedXML},
		{"mismatch", `<iq type='set' id='d'><a></b></iq>`, ErrMalformedXML},
		{"entity", `<iq type='set' id='d'><a>&bogus;</a></iq>`, ErrMalformedXML},
		{"deep", `<iq type='set' id='d'>` + deep + `</iq>`, ErrTooDeep},
		{"attrs", `<iq type='set' id='d'>` + manyAttrs + `</iq>`, ErrTooManyAttrs},
		{"large", `<iq type='set' id='d'><a>` + strings.Repeat("x", 2000) + `</a></iq>`, ErrStanzaTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, one := range []bool{false, true} {
				out, rej := runFramer(t, testHeader+tt.stanza+good, 1024, one)
				if out != testHeader+good {
					t.Errorf("out = %q", out)
				}
				if len(rej) != 1 || !errors.Is(rej[0].err, tt.want) || rej[0].head != `<iq type='set' id='d'>` {
					t.Errorf("rejected = %+v, want one %v", rej, tt.want)
				}
			}
		})
	}
	out, rej := runFramer(t, testHeader+`<iq type='get' id='d'>`+okDeep+`</iq>`, 0, false)
	if len(rej) != 0 || !strings.HasSuffix(out, "</iq>") {
		t.Errorf("depth %d refused: %v", MaxStanzaDepth, rej)
	}
}

func attrs(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(" a")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(string(rune('a'+i%26)) + string(rune('a'+i/26)) + "=''")
	}
	return b.String()
}

func TestFramerSizeBoundary(t *testing.T) {
	const max = 4096
	mk := func(n int) string { // a stanza of exactly n bytes
		head, tail := `<iq type='set' id='s'><a>`, `</a></iq>`
		return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
	}
	if _, rej := runFramer(t, testHeader+mk(max), max, false); len(rej) != 0 {
		t.Errorf("stanza of exactly max refused: %v", rej)
	}
	if _, rej := runFramer(t, testHeader+mk(max+1), max, false); len(rej) != 1 || !errors.Is(rej[0].err, ErrStanzaTooLarge) {
		t.Errorf("stanza of max+1: %v", rej)
	}
}

func TestFramerStreamLevelJunk(t *testing.T) {
	body := testHeader + `junk<!DOCTYPE x><!-- c --><iq type='get' id='a'/>`
	out, rej := runFramer(t, body, 0, false)
	if out != testHeader+`<iq type='get' id='a'/>` || len(rej) != 3 {
		t.Errorf("out %q rej %v", out, rej)
	}
	for _, r := range rej {
		if r.head != "" {
			t.Errorf("stream-level junk has a head: %q", r.head)
		}
	}
}

func TestFramerGivesUpOnHugeStanza(t *testing.T) {
	body := testHeader + `<iq type='set' id='h'>` + strings.Repeat("x", 1024*discardFactor+10)
	f := newFramer(strings.NewReader(body), 1024, func([]byte, error) {})
	_, err := io.ReadAll(f)
	if !errors.Is(err, ErrStanzaTooLarge) {
		t.Errorf("err = %v, want ErrStanzaTooLarge", err)
	}
}

// After STARTTLS the framer below TLS passes bytes through untouched.
func TestFramerRawAfterSTARTTLS(t *testing.T) {
	in := testHeader + `<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`
	tlsBytes := "\x16\x03\x01\x00\x05<!--\x00\xff"
	for _, one := range []bool{false, true} {
		var src io.Reader = strings.NewReader(in + tlsBytes)
		if one {
			src = iotest.OneByteReader(src)
		}
		f := newFramer(src, 0, func([]byte, error) { t.Error("nothing may be refused") })
		f.autoRaw = true
		out, err := io.ReadAll(f)
		if err != nil || string(out) != in+tlsBytes {
			t.Errorf("oneByte=%v: %q %v", one, out, err)
		}
	}
}
