package xmpp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sigbridge/sigbridge/gateway"
	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
)

// FuzzStanza feeds arbitrary bytes, as the content of a component stream,
// through the framer and then every element it releases through the
// stanza handler (decode, dispatch, reply). Nothing may panic, every
// released element must be well-formed on its own, and every IQ get/set
// with usable addresses must get exactly one reply.
func FuzzStanza(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a := fuzzAdapter(t)
		st := a.newStream(a.addr)
		out, err := io.ReadAll(newFramer(bytes.NewReader(append([]byte(testHeader), data...)), 4096, st.onReject))
		if err != nil && !errors.Is(err, ErrStanzaTooLarge) {
			t.Fatalf("framer: %v", err)
		}
		for _, el := range topElements(t, out[len(testHeader):]) {
			dispatchOne(t, a, st, el)
		}
	})
}

// topElements splits the framer's output into top-level elements; each
// must pass checkStanza.
func topElements(t *testing.T, b []byte) [][]byte {
	var out [][]byte
	d := xml.NewDecoder(bytes.NewReader(b))
	depth, start := 0, int64(0)
	for {
		off := d.InputOffset()
		tok, err := d.RawToken()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("released bytes do not parse: %v\n%q", err, b)
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				start = off
			}
			depth++
		case xml.EndElement:
			if depth--; depth == 0 {
				el := b[start:d.InputOffset()]
				if err := checkStanza(el); err != nil {
					t.Fatalf("released element fails checkStanza: %v\n%q", err, el)
				}
				out = append(out, el)
			}
		}
	}
}

func dispatchOne(t *testing.T, a *Adapter, st *stream, el []byte) {
	d := xml.NewDecoder(bytes.NewReader(el))
	d.DefaultSpace = "jabber:component:accept"
	var in inStanza
	decErr := d.Decode(&in)
	reply, after := a.dispatch(st, &in, decErr)
	if reply != nil {
		var buf bytes.Buffer
		enc := xml.NewEncoder(&buf)
		if _, err := xmlstream.Copy(enc, reply); err != nil {
			t.Fatalf("reply does not encode: %v", err)
		}
		_ = enc.Flush()
	}
	if after != nil {
		after()
	}
	if in.XMLName.Local == "iq" && (in.Type == "get" || in.Type == "set") && reply == nil {
		if _, err := iqOf(&in); err == nil {
			t.Fatalf("IQ %s without reply: %q", in.Type, el)
		}
	}
}

// fuzzAdapter is an adapter without a connection: its stream has no
// session, so whatever it tries to send fails fast.
func fuzzAdapter(t testing.TB) *Adapter {
	gw := gateway.New(gateway.Config{}, gateway.NewRouter(), nil, nil)
	a, err := New(Config{Component: ComponentConfig{Domain: "gw.test", Secret: "x"},
		ProposeTimeout: 10 * time.Millisecond, IQTimeout: 10 * time.Millisecond}, gw, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func fuzzSeeds(tb testing.TB) [][]byte {
	const from = ` from='romeo@example.org/x' to='alice@gw.test'`
	seeds := []string{
		`<iq type='get' id='1'` + from + `><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
		`<iq type='get' id='2'` + from + `><ping xmlns='urn:xmpp:ping'/></iq>`,
		`<iq type='set' id='3'` + from + `><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x></iq>`,
		`<message type='chat' id='s1'` + from + `><propose xmlns='urn:xmpp:jingle-message:0' id='s1'>` +
			`<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/></propose></message>`,
		`<message type='chat'` + from + `><retract xmlns='urn:xmpp:jingle-message:0' id='s1'/></message>`,
		`<presence type='subscribe'` + from + `/>`,
		`<presence type='unavailable'` + from + `/>`,
		`<iq type='result' id='x'` + from + `/>`,
		`<iq id='a'><a><a><a></a></a></a></iq><!-- c --><?p?>text`,
	}
	for _, name := range []string{"conversations_initiate.xml", "conversations_transport_info.xml",
		"dino_initiate.xml", "jitsi_initiate.xml"} {
		j, err := os.ReadFile(filepath.Join("jingle", "testdata", "clients", name))
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, `<iq type='set' id='j'`+from+`>`+string(j)+`</iq>`)
	}
	out := make([][]byte, len(seeds))
	for i, s := range seeds {
		out[i] = []byte(s)
	}
	return out
}

// TestFuzzSeedsDispatch runs the seeds against the handler with checks on
// the replies that the fuzz target cannot make.
func TestFuzzSeedsDispatch(t *testing.T) {
	a := fuzzAdapter(t)
	st := a.newStream(jid.MustParse("gw.test"))
	for _, s := range fuzzSeeds(t) {
		out, _ := io.ReadAll(newFramer(bytes.NewReader(append([]byte(testHeader), s...)), 0, st.onReject))
		for _, el := range topElements(t, out[len(testHeader):]) {
			dispatchOne(t, a, st, el)
		}
	}
}
