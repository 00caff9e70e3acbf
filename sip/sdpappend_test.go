package sip

import (
	"bytes"
	"crypto/sha256"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"

	"github.com/sigbridge/sigbridge/gateway"
)

// sipPlaceholder is a SIPp keyword such as [media_port] in a scenario.
var sipPlaceholder = regexp.MustCompile(`\[[a-z_0-9]+\]`)

// sdpFixtures returns the SDPs of the package's test data: the browser
// offer, the bodies of the SIPp scenarios (keywords filled in), the SDP
// bodies of the RFC 4475 messages, webrtcSDP's, and one with every line
// type pion writes.
func sdpFixtures(t testing.TB) []string {
	t.Helper()
	var out []string
	b, err := os.ReadFile(filepath.Join("testdata", "browser", "chrome156_offer_audio_only.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, string(b))
	scenarios, _ := filepath.Glob(filepath.Join("testdata", "sipp", "*.xml"))
	for _, f := range scenarios {
		out = append(out, scenarioSDPs(t, f)...)
	}
	msgs, _ := filepath.Glob(filepath.Join("testdata", "rfc4475", "*", "*.dat"))
	for _, f := range msgs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, body, ok := bytes.Cut(b, []byte("\r\n\r\n")); ok && bytes.HasPrefix(body, []byte("v=0")) {
			out = append(out, string(body))
		}
	}
	return append(out, webrtcSDP("actpass", "alic", 30000), webrtcSDP("active", "bob", 0), everyLineSDP)
}

// scenarioSDPs returns the SDP bodies of a SIPp scenario.
func scenarioSDPs(t testing.TB, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, part := range strings.Split(string(b), "v=0")[1:] {
		body, _, _ := strings.Cut(part, "]]>")
		var lines []string
		for _, l := range strings.Split("v=0"+body, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		s := strings.Join(lines, "\r\n") + "\r\n"
		s = sipPlaceholder.ReplaceAllStringFunc(s, func(k string) string {
			if strings.HasSuffix(k, "port]") {
				return "6000"
			}
			return "127.0.0.1"
		})
		out = append(out, s)
	}
	return out
}

// everyLineSDP has every line type pion's Marshal writes, with the
// optional parts (TTL, range, X- bandwidth, port range, repeat offsets,
// several time zones, attributes without value).
const everyLineSDP = "v=0\r\n" +
	"o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\r\n" +
	"s=SDP Seminar\r\n" +
	"i=A Seminar on the session description protocol\r\n" +
	"u=http://www.example.com/seminars/sdp.pdf\r\n" +
	"e=j.doe@example.com (Jane Doe)\r\n" +
	"p=+1 617 555-6011\r\n" +
	"c=IN IP4 224.2.17.12/127/3\r\n" +
	"b=X-YZ:128\r\n" +
	"b=AS:256\r\n" +
	"t=2873397496 2873404696\r\n" +
	"r=604800 3600 0 90000\r\n" +
	"t=0 0\r\n" +
	"z=2882844526 -3600 2898848070 0\r\n" +
	"k=clear:secret\r\n" +
	"a=recvonly\r\n" +
	"a=tool:x\r\n" +
	"m=audio 49170/2 RTP/AVP 0 8\r\n" +
	"i=voice\r\n" +
	"c=IN IP6 ff15::101/3\r\n" +
	"b=TIAS:64000\r\n" +
	"k=prompt\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"m=video 0 UDP/TLS/RTP/SAVPF 96\r\n" +
	"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n" +
	"a=sctp-port:5000\r\n"

// parsedFixtures parses each fixture with pion and with gateway.ParseSDP.
func parsedFixtures(t *testing.T) []*sdp.SessionDescription {
	t.Helper()
	var out []*sdp.SessionDescription
	for _, s := range sdpFixtures(t) {
		var sd sdp.SessionDescription
		if err := sd.UnmarshalString(s); err == nil {
			out = append(out, &sd)
		}
		if sd, err := gateway.ParseSDP(s); err == nil {
			out = append(out, sd)
		}
	}
	return out
}

// TestAppendSDPAsMarshal checks appendSDP against pion's Marshal over the
// fixtures, and digestSDP against the SHA-256 of Marshal's bytes.
func TestAppendSDPAsMarshal(t *testing.T) {
	sds := parsedFixtures(t)
	if len(sds) < 40 {
		t.Fatalf("only %d fixtures parsed", len(sds))
	}
	for i, sd := range sds {
		want, err := sd.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if got := appendSDP([]byte("prefix"), sd); string(got) != "prefix"+string(want) {
			t.Fatalf("fixture %d:\n got %q\nwant %q", i, got[len("prefix"):], want)
		}
		if d, ok := digestSDP(sd); !ok || d.sum != sha256.Sum256(want) {
			t.Fatalf("fixture %d: digest differs from Marshal's", i)
		}
	}
}

// TestAppendSDPBuiltFields covers what the parsers do not produce: a
// URI with a query, empty fields, an address with TTL and range (pion
// keeps "/127/3" in the address), negative numbers, the zero SDP.
func TestAppendSDPBuiltFields(t *testing.T) {
	ttl, rng := -1, 0
	info, key := sdp.Information(""), sdp.EncryptionKey("")
	sd := &sdp.SessionDescription{URI: &url.URL{Scheme: "https", Host: "h", Path: "/a b", RawQuery: "x=1"},
		SessionInformation: &info, EncryptionKey: &key,
		ConnectionInformation: &sdp.ConnectionInformation{Address: &sdp.Address{Address: "a", TTL: &ttl, Range: &rng}},
		TimeZones:             []sdp.TimeZone{{}},
		MediaDescriptions: []*sdp.MediaDescription{{MediaName: sdp.MediaName{Port: sdp.RangedPort{Value: -3, Range: &ttl}}},
			{ConnectionInformation: &sdp.ConnectionInformation{}, Attributes: []sdp.Attribute{{}}}}}
	for _, sd := range []*sdp.SessionDescription{sd, {}} {
		want, err := sd.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if got := appendSDP(nil, sd); !bytes.Equal(got, want) {
			t.Fatalf("\n got %q\nwant %q", got, want)
		}
	}
}

// TestEveryLineSDPParses keeps everyLineSDP a fixture pion parses, so
// that TestAppendSDPAsMarshal covers every line type.
func TestEveryLineSDPParses(t *testing.T) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(everyLineSDP); err != nil {
		t.Fatal(err)
	}
	if sd.URI == nil || len(sd.TimeZones) != 2 || len(sd.TimeDescriptions[0].RepeatTimes) != 1 ||
		sd.MediaDescriptions[0].MediaName.Port.Range == nil {
		t.Fatalf("parsed without some lines: zones %d, port range %v", len(sd.TimeZones),
			sd.MediaDescriptions[0].MediaName.Port.Range)
	}
}

// TestDigestSDPAllocs checks that digestSDP allocates nothing: before,
// it allocated Marshal's copy of the SDP.
func TestDigestSDPAllocs(t *testing.T) {
	sd := mustSDP(t, webrtcSDP("actpass", "alic", 30000))
	digestSDP(sd) // fills the pool
	if n := testing.AllocsPerRun(100, func() { digestSDP(sd) }); n != 0 {
		t.Fatalf("digestSDP allocates %v times", n)
	}
}

// FuzzAppendSDP checks appendSDP against pion's Marshal on whatever pion
// and gateway.ParseSDP parse.
func FuzzAppendSDP(f *testing.F) {
	for _, s := range sdpFixtures(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var sds []*sdp.SessionDescription
		var sd sdp.SessionDescription
		if err := sd.UnmarshalString(s); err == nil {
			sds = append(sds, &sd)
		}
		if sd, err := gateway.ParseSDP(s); err == nil {
			sds = append(sds, sd)
		}
		for _, sd := range sds {
			want, err := sd.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if got := appendSDP(nil, sd); !bytes.Equal(got, want) {
				t.Fatalf("\n got %q\nwant %q", got, want)
			}
		}
	})
}
