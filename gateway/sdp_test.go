package gateway

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

func TestParseSDPFixturesRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.sdp")
	if len(files) < 7 {
		t.Fatalf("fixtures missing: %v", files)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		sd, err := ParseSDP(string(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if got := MarshalSDP(sd); got != string(b) {
			t.Errorf("%s does not round-trip byte for byte", f)
		}
	}
}

func TestParseSDPNormalizesSIPOrder(t *testing.T) {
	// Session c= after t= (common in SIP gear) and LF line ends.
	in := "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nt=0 0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"
	sd, err := ParseSDP(in)
	if err != nil {
		t.Fatal(err)
	}
	if sd.ConnectionInformation == nil || sd.ConnectionInformation.Address.Address != "10.0.0.1" {
		t.Fatalf("session c= lost: %+v", sd.ConnectionInformation)
	}
}

func TestParseSDPLimits(t *testing.T) {
	base := "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
	tests := []struct {
		name string
		sdp  string
		want error
	}{
		{"garbage", "hello", ErrBadSDP},
		{"too big", base + strings.Repeat("a=x:"+strings.Repeat("y", 1000)+"\r\n", 70), ErrSDPLimit},
		{"long line", base + "a=x:" + strings.Repeat("y", 5000) + "\r\n", ErrSDPLimit},
		{"too many m-lines", base + strings.Repeat("m=audio 9 RTP/AVP 0\r\n", 33), ErrSDPLimit},
		{"too many formats", base + "m=audio 9 RTP/AVP" + strings.Repeat(" 0", 129) + "\r\n", ErrSDPLimit},
		{"too many candidates", base + "m=audio 9 RTP/AVP 0\r\n" +
			strings.Repeat("a=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n", 65), ErrSDPLimit},
	}
	for _, tt := range tests {
		if _, err := ParseSDP(tt.sdp); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestParseCandidate(t *testing.T) {
	tests := []struct {
		line string
		ok   bool
		mdns bool
		typ  string
	}{
		{"candidate:1383569927 1 udp 2113937151 0425cf8c-f798-4d10-b411-2069fd65313c.local 55397 typ host generation 0 ufrag 4oUU network-cost 999", true, true, "host"},
		{"a=candidate:1 1 UDP 1694498815 203.0.113.7 5000 typ srflx raddr 10.0.0.1 rport 5000", true, false, "srflx"},
		{"candidate:1 1 tcp 1 ::1 9 typ host tcptype active", true, false, "host"},
		{"candidate:1 1 udp", false, false, ""},
		{"candidate:1 x udp 1 1.2.3.4 5 typ host", false, false, ""},
		{"candidate:1 1 udp 1 1.2.3.4 70000 typ host", false, false, ""},
		{"candidate:1 1 udp 1 1.2.3.4 5 type host", false, false, ""},
	}
	for _, tt := range tests {
		c, err := ParseCandidate(tt.line)
		if (err == nil) != tt.ok {
			t.Errorf("%q: err = %v", tt.line, err)
			continue
		}
		if tt.ok && (c.IsMDNS() != tt.mdns || c.Type != tt.typ) {
			t.Errorf("%q: %+v", tt.line, c)
		}
	}
	if c, _ := ParseCandidate(tests[0].line); c.Ufrag != "4oUU" {
		t.Errorf("ufrag extension: %q", c.Ufrag)
	}
}

func FuzzParseSDP(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.sdp")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(string(b))
	}
	f.Add("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\nc=IN IP4 1.2.3.4\nm=audio 1 RTP/AVP 0\n")
	f.Fuzz(func(t *testing.T, s string) {
		sd, err := ParseSDP(s)
		if err != nil {
			return
		}
		c := CloneSDP(sd)
		if MarshalSDP(c) != MarshalSDP(sd) {
			t.Fatal("the clone differs from the original")
		}
		FilterMDNS(c)
		StripTrickleOption(c)
		g := newGatherer(c, true, true)
		_ = g.add(Candidate{MLineIndex: 0, Line: "candidate:1 1 udp 1 127.0.0.1 9 typ host"})
		_ = MarshalSDP(g.finish())
	})
}

// TestNormalizeSDPFastPathAgrees checks that the allocation-free path
// returns exactly what the rewrite would, and takes the rewrite when needed.
func TestNormalizeSDPFastPathAgrees(t *testing.T) {
	offer, err := os.ReadFile("testdata/chrome156_offer_audio_only.sdp")
	if err != nil {
		t.Fatal(err)
	}
	crlf := strings.ReplaceAll(strings.ReplaceAll(string(offer), "\r\n", "\n"), "\n", "\r\n")
	for name, s := range map[string]string{
		"crlf":         crlf,
		"lf":           strings.ReplaceAll(crlf, "\r\n", "\n"),
		"no final eol": strings.TrimSuffix(crlf, "\r\n"),
		"late c=":      "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n",
		"media c=":     "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 192.0.2.2\r\n",
		"mixed eol":    "v=0\r\no=- 1 1 IN IP4 192.0.2.1\ns=-\r\nt=0 0\r\n",
		"lone cr":      "v=0\r\ns=a\rb\r\nt=0 0\r\n",
		"empty":        "",
		"empty line":   "v=0\r\n\r\nt=0 0\r\n",
	} {
		want, werr := rewriteSDP(s)
		got, rewritten, gerr := normalizeSDP(s)
		if got != want || (werr == nil) != (gerr == nil) {
			t.Errorf("%s: normalizeSDP = %q, %v; rewrite = %q, %v", name, got, gerr, want, werr)
		}
		// a rewritten text is a new string, which the parser may keep
		if same := unsafe.StringData(got) == unsafe.StringData(s); gerr == nil && rewritten == same {
			t.Errorf("%s: normalizeSDP: rewritten %v, but its text is s: %v", name, rewritten, same)
		}
	}
	if n := testing.AllocsPerRun(10, func() { _, _, _ = normalizeSDP(crlf) }); n != 0 {
		t.Errorf("normalizeSDP of a browser SDP allocated %v times", n)
	}
}

// splitFields splits as strings.Fields does, ASCII and Unicode white space.
func TestSplitFields(t *testing.T) {
	for _, s := range []string{"", "  ", "a", " a  b\tc\r\nd ", "1 1 udp 2122260223 10.0.0.1 54321 typ host generation 0 ufrag Ab12",
		"a\u00a0b c", "x\u2003y  z"} {
		got, want := splitFields(nil, s), strings.Fields(s)
		if !slices.Equal(got, want) {
			t.Errorf("splitFields(%q) = %q, want %q", s, got, want)
		}
	}
}
