package gateway

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/pion/sdp/v3"
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
		norm, _ := normalizeSDP(s)
		want := &sdp.SessionDescription{}
		if err := want.UnmarshalString(norm); err != nil {
			t.Fatalf("%s: pion: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ParseSDP differs from pion:\n got %+v\nwant %+v", name, got, want)
		}
	}
}

// TestParseSDPFast: a browser's SDP takes fastsdp's path, a fixed handful
// of allocations (pion's lexer takes one per m-line's attributes and one
// per 4 KiB of copied fields, 44 for this offer).
func TestParseSDPFast(t *testing.T) {
	b, err := os.ReadFile("testdata/chrome156_offer_av_dc_gathered.sdp")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if n := testing.AllocsPerRun(20, func() { _, _ = ParseSDP(s) }); n > 16 {
		t.Errorf("ParseSDP: %v allocations, want 16 at most", n)
	}
}

// parseSDPPion is ParseSDP as it was before fastsdp: pion/sdp alone.
func parseSDPPion(s string) (*sdp.SessionDescription, error) {
	return parseSDPWith(s, unmarshalPion)
}

// FuzzParseSDPAsPion: ParseSDP returns what it returned with pion/sdp alone,
// the same description or the same error, for any input.
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
	})
}
