package gateway

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/pion/sdp/v3"

	"github.com/sigbridge/sigbridge/internal/fastsdp"
)

// TestParseSDPAsPion: ParseSDP makes of every fixture, and of an SDP in
// SIP order with LF line ends, what pion/sdp makes of the normalised text.
func TestParseSDPAsPion(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.sdp")
	in := map[string]string{"sip order": "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nt=0 0\nc=IN IP4 10.0.0.1\n" +
		"b=AS:64\nm=audio 4000 RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\na=rtpmap:101 telephone-event/8000\n"}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		in[f] = string(b)
	}
	for name, s := range in {
		got, err := ParseSDP(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		owned, err := ParseSDPString(s)
		if err != nil {
			t.Fatalf("%s: ParseSDPString: %v", name, err)
		}
		norm, _, _ := normalizeSDP(s)
		want := &sdp.SessionDescription{}
		if err := want.UnmarshalString(norm); err != nil {
			t.Fatalf("%s: pion: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ParseSDP differs from pion:\n got %+v\nwant %+v", name, got, want)
		}
		if !reflect.DeepEqual(owned, want) {
			t.Errorf("%s: ParseSDPString differs from pion:\n got %+v\nwant %+v", name, owned, want)
		}
	}
}

// TestParseSDPCopies: ParseSDP's result stays what it was when the buffer
// its input is a view of is written again (a SIP body, a pooled buffer),
// whether its text was rewritten (LF line ends) or not.
func TestParseSDPCopies(t *testing.T) {
	b, err := os.ReadFile("testdata/chrome156_offer_audio_only.sdp")
	if err != nil {
		t.Fatal(err)
	}
	crlf := strings.ReplaceAll(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n", "\r\n")
	for name, s := range map[string]string{"crlf": crlf, "lf": strings.ReplaceAll(crlf, "\r\n", "\n")} {
		buf := []byte(s)
		got, err := ParseSDP(unsafe.String(unsafe.SliceData(buf), len(buf)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, _ := parseSDPPion(s)
		for i := range buf {
			buf[i] = 'x'
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: changed with its input's buffer:\n got %+v\nwant %+v", name, got, want)
		}
	}
}

// TestParseSDPFast: a browser's SDP takes fastsdp's path, a fixed handful
// of allocations (pion's lexer takes one per m-line's attributes and one
// per 4 KiB of copied fields, 44 for this offer): fastsdp's five, four
// for ParseSDPString, which does not copy the text. An SDP in SIP order
// with LF line ends is rewritten, and the new text is not copied again.
func TestParseSDPFast(t *testing.T) {
	b, err := os.ReadFile("testdata/chrome156_offer_av_dc_gathered.sdp")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if n := testing.AllocsPerRun(20, func() { _, _ = ParseSDP(s) }); n != 5 {
		t.Errorf("ParseSDP: %v allocations, want 5", n)
	}
	if n := testing.AllocsPerRun(20, func() { _, _ = ParseSDPString(s) }); n != 4 {
		t.Errorf("ParseSDPString: %v allocations, want 4", n)
	}
	lf := "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nt=0 0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 0\n"
	norm, _, _ := normalizeSDP(lf)
	want := testing.AllocsPerRun(20, func() { _, _, _ = normalizeSDP(lf) }) +
		testing.AllocsPerRun(20, func() { _, _ = fastsdp.ParseOwned(norm) })
	if n := testing.AllocsPerRun(20, func() { _, _ = ParseSDP(lf) }); n != want {
		t.Errorf("ParseSDP of a rewritten SDP: %v allocations, want %v (the rewrite's and ParseOwned's)", n, want)
	}
}

// TestParsedOfferHasGatherRoom: a browser's offer as ParseSDP returns it
// has room in each m-line for the candidates the gatherer appends, so
// startGather's makeAttrRoom copies none of its attributes.
func TestParsedOfferHasGatherRoom(t *testing.T) {
	b, err := os.ReadFile("testdata/chrome156_offer_audio_only.sdp")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	n := testing.AllocsPerRun(20, func() {
		sd, err := ParseSDP(s)
		if err != nil {
			t.Fatal(err)
		}
		first := &sd.MediaDescriptions[0].Attributes[0]
		makeAttrRoom(sd)
		if &sd.MediaDescriptions[0].Attributes[0] != first {
			t.Fatal("makeAttrRoom copied the parsed attributes")
		}
	})
	parse := testing.AllocsPerRun(20, func() { _, _ = ParseSDP(s) })
	if n != parse {
		t.Errorf("ParseSDP and makeAttrRoom: %v allocations, want ParseSDP's %v alone", n, parse)
	}
}

// parseSDPPion is ParseSDP as it was before fastsdp: pion/sdp alone.
func parseSDPPion(s string) (*sdp.SessionDescription, error) {
	pionOnly := func(s string, _ bool) (*sdp.SessionDescription, error) { return unmarshalPion(s) }
	return parseSDPWith(s, false, pionOnly)
}

// FuzzParseSDPAsPion: ParseSDP and ParseSDPString return what ParseSDP
// returned with pion/sdp alone, the same description or the same error, for
// any input.
func FuzzParseSDPAsPion(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.sdp")
	for _, name := range files {
		b, _ := os.ReadFile(name)
		f.Add(string(b))
	}
	f.Add("v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nt=0 0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 0\n")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseSDP(s)
		want, wantErr := parseSDPPion(s)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("error %v, with pion alone %v", err, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("differs from pion:\n got %+v\nwant %+v", got, want)
		}
		owned, err := ParseSDPString(s)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) || !reflect.DeepEqual(owned, want) {
			t.Fatalf("ParseSDPString: %+v, %v; with pion alone %+v, %v", owned, err, want, wantErr)
		}
	})
}
