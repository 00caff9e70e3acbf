package fastsdp

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/pion/sdp/v3"
)

// sipSDPs are SDPs of the shapes SIP gear sends (the sip package's tests,
// rtpengine's answers, PBXs): plain RTP, session-level c=, b= lines,
// several t= lines, media-level c=, rejected m-lines.
var sipSDPs = []string{
	"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
	"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n",
	"v=0\r\no=root 1928374650 1928374651 IN IP4 192.0.2.10\r\ns=Asterisk PBX 20.5.0\r\nc=IN IP4 192.0.2.10\r\n" +
		"b=CT:384\r\nt=0 0\r\nm=audio 13370 RTP/AVP 0 8 101\r\nb=AS:64\r\nb=X-YZ:12\r\na=rtpmap:0 PCMU/8000\r\n" +
		"a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n" +
		"a=maxptime:150\r\na=sendrecv\r\nm=video 0 RTP/AVP 96\r\nc=IN IP6 ::1\r\n",
	"v=0\r\no=FreeSWITCH 1700000000 1700000001 IN IP6 2001:db8::1\r\ns=FreeSWITCH\r\ni=a session\r\n" +
		"c=IN IP6 2001:db8::1\r\nt=0 0\r\nt=3034423619 3042462419\r\na=tool:x\r\na=:odd\r\na=\r\n" +
		"m=audio 5004 RTP/SAVP 9\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abc\r\n" +
		"m=application 5000 TCP/MSRP *\r\nc=IN IP4 224.2.1.1/127/3\r\na=accept-types:text/plain\r\n",
	"v=0\r\no=- 18446744073709551615 18446744073709551616 IN IP4 0.0.0.0\r\ns=\r\nt=0 0\r\n",
	// pion's odd corners: an empty experimental bandwidth type, a= with
	// an empty value, media lines in any order, c= twice (the last wins).
	"v=0\r\no=user 0 0 IN IP4 h\r\ns= a b \r\nb=X-:5\r\nb=TIAS:0\r\nt=1 2\r\nm=text 00080 RTP/AVP\r\n" +
		"a=x:\r\nc=IN IP4 1.1.1.1\r\nb=RR:1\r\na=y\tz:w\r\nc=IN IP6 ::\r\nm=audio 65535 UDP 0\r\n",
	// more media sections and c= lines than Parse keeps in its result's
	// own arrays (4 and 3), and more than 16 formats an m-line on average
	"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=group:BUNDLE 0 1 2 3 4\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111 112 113 114 115 116 117 118 119 120\r\n" +
		"c=IN IP4 0.0.0.0\r\na=mid:1\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\n" +
		"m=audio 0 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\n" +
		"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:4\r\na=sctp-port:5000\r\n",
}

// fixtures returns every SDP fixture of the repository (its *.sdp files,
// LF line ends made CRLF as ParseSDP's normalisation makes them) and
// sipSDPs.
func fixtures(t testing.TB) map[string]string {
	t.Helper()
	all := map[string]string{}
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".sdp") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		all[path] = strings.ReplaceAll(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n", "\r\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 20 {
		t.Fatalf("%d SDP fixtures in the repository, want 20 or more", len(all))
	}
	for i, s := range sipSDPs {
		all["sip"+string(rune('0'+i))] = s
	}
	return all
}

// pion is what Parse must match.
func pion(s string) (*sdp.SessionDescription, error) {
	sd := &sdp.SessionDescription{}
	if err := sd.UnmarshalString(s); err != nil {
		return nil, err
	}
	return sd, nil
}

// TestParseFixtures: Parse takes every fixture and makes of it what pion
// makes, field for field.
func TestParseFixtures(t *testing.T) {
	for name, s := range fixtures(t) {
		want, err := pion(s)
		if err != nil {
			t.Fatalf("%s: pion: %v", name, err)
		}
		got, ok := Parse(s)
		if !ok {
			t.Errorf("%s: declined", name)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: differs from pion:\n got %+v\nwant %+v", name, got, want)
		}
	}
}

// TestParseOwned: ParseOwned makes of every fixture what Parse and pion
// make of it, and its strings are the input's own, not a copy's.
func TestParseOwned(t *testing.T) {
	for name, s := range fixtures(t) {
		want, err := pion(s)
		if err != nil {
			t.Fatalf("%s: pion: %v", name, err)
		}
		copied, ok1 := Parse(s)
		got, ok2 := ParseOwned(s)
		if !ok1 || !ok2 {
			t.Errorf("%s: declined (Parse %v, ParseOwned %v)", name, !ok1, !ok2)
			continue
		}
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(got, copied) {
			t.Errorf("%s: ParseOwned differs from pion or Parse:\n got %+v\nwant %+v", name, got, want)
		}
		if o := got.Origin.Username; !within(o, s) {
			t.Errorf("%s: ParseOwned copied its input", name)
		}
		if o := copied.Origin.Username; within(o, s) {
			t.Errorf("%s: Parse did not copy its input", name)
		}
	}
}

// within reports whether sub's bytes are part of s's.
func within(sub, s string) bool {
	p, b := uintptr(unsafe.Pointer(unsafe.StringData(sub))), uintptr(unsafe.Pointer(unsafe.StringData(s)))
	return p >= b && p+uintptr(len(sub)) <= b+uintptr(len(s))
}

// TestParseAllocs: a Chromium offer (three media sections, each with its
// c= line) takes a fixed number of allocations: the input's copy (Parse
// only), the result with its one-of parts, media pointers and c= lines,
// the attributes, the protos and formats, the media sections.
func TestParseAllocs(t *testing.T) {
	s := chromiumOffer(t)
	for _, tt := range []struct {
		name  string
		parse func(string) (*sdp.SessionDescription, bool)
		want  float64
	}{
		{"Parse", Parse, 5},
		{"ParseOwned", ParseOwned, 4},
	} {
		n := testing.AllocsPerRun(20, func() {
			if _, ok := tt.parse(s); !ok {
				t.Fatal("declined")
			}
		})
		if n != tt.want {
			t.Errorf("%s: %v allocations, want %v", tt.name, n, tt.want)
		}
	}
}

// chromiumOffer is a Chromium offer (audio, video, data channel, its
// candidates gathered) from gateway's fixtures.
func chromiumOffer(t testing.TB) string {
	raw, err := os.ReadFile("../../gateway/testdata/chrome156_offer_av_dc_gathered.sdp")
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestParseSlicesCapped: each slice of the result is capped at its length,
// as pion's are, but for a media section's attributes (TestParseAttrRoom):
// appending a media section or a t= line never writes into the arrays the
// result keeps other parts in.
func TestParseSlicesCapped(t *testing.T) {
	sd, ok := Parse(sipSDPs[2])
	if !ok {
		t.Fatal("declined")
	}
	if cap(sd.Attributes) != len(sd.Attributes) {
		t.Errorf("session attributes: cap %d, len %d", cap(sd.Attributes), len(sd.Attributes))
	}
	if cap(sd.MediaDescriptions) != len(sd.MediaDescriptions) || cap(sd.TimeDescriptions) != len(sd.TimeDescriptions) {
		t.Errorf("media or time descriptions: a slice has room beyond its length")
	}
	for i, m := range sd.MediaDescriptions {
		if cap(m.MediaName.Formats) != len(m.MediaName.Formats) ||
			cap(m.MediaName.Protos) != len(m.MediaName.Protos) {
			t.Errorf("m-line %d: a slice has room beyond its length", i)
		}
	}
}

// TestParseAppendKeepsSiblings: appending to each slice of a result
// leaves the rest of it as it was.
func TestParseAppendKeepsSiblings(t *testing.T) {
	for _, s := range sipSDPs {
		sd, ok := ParseOwned(s)
		if !ok {
			t.Fatal("declined")
		}
		want, _ := pion(s)
		extra := sdp.Attribute{Key: "x", Value: "y"}
		sd.Attributes = append(sd.Attributes, extra)
		sd.TimeDescriptions = append(sd.TimeDescriptions, sdp.TimeDescription{})
		sd.MediaDescriptions = append(sd.MediaDescriptions, &sdp.MediaDescription{})
		for _, m := range sd.MediaDescriptions {
			m.Attributes = append(m.Attributes, extra)
			m.MediaName.Protos = append(m.MediaName.Protos, "X")
			m.MediaName.Formats = append(m.MediaName.Formats, "X")
		}
		want.Attributes = append(want.Attributes, extra)
		want.TimeDescriptions = append(want.TimeDescriptions, sdp.TimeDescription{})
		want.MediaDescriptions = append(want.MediaDescriptions, &sdp.MediaDescription{})
		for _, m := range want.MediaDescriptions {
			m.Attributes = append(m.Attributes, extra)
			m.MediaName.Protos = append(m.MediaName.Protos, "X")
			m.MediaName.Formats = append(m.MediaName.Formats, "X")
		}
		if !reflect.DeepEqual(sd, want) {
			t.Errorf("appends changed siblings:\n got %+v\nwant %+v", sd, want)
		}
	}
}

// TestParseAttrRoom: each media section with attributes has AttrRoom
// spare capacity, and filling one section's room leaves the others (and
// the session's attributes) as they were.
func TestParseAttrRoom(t *testing.T) {
	for _, s := range append([]string{chromiumOffer(t)}, sipSDPs...) {
		sd, ok := Parse(s)
		if !ok {
			t.Fatal("declined")
		}
		want, _ := pion(s)
		for i, m := range sd.MediaDescriptions {
			if len(m.Attributes) > 0 && cap(m.Attributes)-len(m.Attributes) != AttrRoom {
				t.Errorf("m-line %d: %d attributes, capacity %d, want %d spare", i, len(m.Attributes), cap(m.Attributes), AttrRoom)
			}
		}
		for i, m := range sd.MediaDescriptions {
			had := len(m.Attributes) > 0 // none: nil, as pion leaves it, without room
			for k := range AttrRoom {
				extra := sdp.Attribute{Key: "candidate", Value: fmt.Sprintf("%d %d", i, k)}
				before := cap(m.Attributes)
				m.Attributes = append(m.Attributes, extra)
				if had && cap(m.Attributes) != before {
					t.Errorf("m-line %d: append %d grew the slice", i, k)
				}
				want.MediaDescriptions[i].Attributes = append(want.MediaDescriptions[i].Attributes, extra)
			}
		}
		if !reflect.DeepEqual(sd, want) {
			t.Errorf("filling the room changed other sections:\n got %+v\nwant %+v", sd, want)
		}
	}
}

// TestParseCopies: the result shares no memory with its input, which may
// be a view of a buffer that is reused (a SIP message's body).
func TestParseCopies(t *testing.T) {
	b := []byte(sipSDPs[0])
	sd, ok := Parse(string(b))
	if !ok {
		t.Fatal("declined")
	}
	want, _ := pion(sipSDPs[0])
	for i := range b {
		b[i] = 'x'
	}
	if !reflect.DeepEqual(sd, want) {
		t.Errorf("changed with its input: %+v", sd)
	}
}

// TestParseDeclinesManyLines: an SDP with more media sections or
// attributes than Parse sizes its arrays for is left to pion, before
// anything is allocated, the input's copy included.
func TestParseDeclinesManyLines(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	media := head + strings.Repeat("m=audio 9 RTP/AVP 0\r\n", maxMedia+1)
	attrs := head + strings.Repeat("a=x\r\n", maxAttributes+1)
	for name, s := range map[string]string{"media": media, "attributes": attrs} {
		if _, ok := Parse(s); ok {
			t.Errorf("%s: taken, want declined", name)
		}
		if err := new(sdp.SessionDescription).UnmarshalString(s); err != nil {
			t.Errorf("%s: pion refuses it (%v): the test would not show a decline", name, err)
		}
		if n := testing.AllocsPerRun(10, func() { Parse(s) }); n != 0 {
			t.Errorf("%s: %v allocations to decline, want none", name, n)
		}
	}
	if _, ok := Parse(head + strings.Repeat("m=audio 9 RTP/AVP 0\r\n", maxMedia)); !ok {
		t.Error("maxMedia sections declined")
	}
}

// TestParseDeclines: what Parse does not know, pion decides.
func TestParseDeclines(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
	for name, s := range map[string]string{
		"LF line ends":        strings.ReplaceAll(head+"t=0 0\r\n", "\r\n", "\n"),
		"no final CRLF":       head + "t=0 0",
		"empty line":          head + "\r\nt=0 0\r\n",
		"CR in a line":        head + "t=0 0\r\na=x\ry\r\n",
		"no t=":               head,
		"cut short":           "v=0\r\n",
		"two spaces":          "v=0\r\no=-  1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
		"tab":                 head + "t=0\t0\r\n",
		"u=":                  head + "u=http://x\r\nt=0 0\r\n",
		"r=":                  head + "t=0 0\r\nr=7d 1h 0 25h\r\n",
		"k= in media":         head + "t=0 0\r\nm=audio 9 RTP/AVP 0\r\nk=prompt\r\n",
		"port range":          head + "t=0 0\r\nm=audio 9/2 RTP/AVP 0\r\n",
		"bad proto":           head + "t=0 0\r\nm=audio 9 RTP/XYZ 0\r\n",
		"bad media":           head + "t=0 0\r\nm=game 9 RTP/AVP 0\r\n",
		"port too big":        head + "t=0 0\r\nm=audio 65536 RTP/AVP 0\r\n",
		"c= without address":  head + "c=IN IP4\r\nt=0 0\r\n",
		"c= after b=":         head + "b=AS:1\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n",
		"t= after a=":         head + "t=0 0\r\na=x\r\nt=0 0\r\n",
		"bad bandwidth":       head + "b=XX:1\r\nt=0 0\r\n",
		"bandwidth not a num": head + "b=AS:+1\r\nt=0 0\r\n",
		"v=1":                 "v=1\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
		"o= IP5":              "v=0\r\no=- 1 1 IN IP5 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
		"o= short":            "v=0\r\no=- 1 1 IN IP4\r\ns=-\r\nt=0 0\r\n",
		"o= letters":          "v=0\r\no=- 1x 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
	} {
		if _, ok := Parse(s); ok {
			t.Errorf("%s: taken, want declined", name)
		}
		if _, ok := ParseOwned(s); ok {
			t.Errorf("%s: taken by ParseOwned, want declined", name)
		}
	}
}

// FuzzParse: whatever Parse takes, pion takes too and makes the same of
// it; what Parse declines is pion's to decide, so the two never disagree
// on whether an SDP parses. ParseOwned takes and makes the same as Parse.
func FuzzParse(f *testing.F) {
	for _, s := range fixtures(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := Parse(s)
		owned, ownedOK := ParseOwned(s)
		if ownedOK != ok || !reflect.DeepEqual(owned, got) {
			t.Fatalf("ParseOwned (taken %v) differs from Parse (taken %v):\n got %+v\nwant %+v", ownedOK, ok, owned, got)
		}
		if !ok {
			return
		}
		want, err := pion(s)
		if err != nil {
			t.Fatalf("taken, but pion refuses it: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("differs from pion:\n got %+v\nwant %+v", got, want)
		}
	})
}

// BenchmarkParse parses the largest browser offer with Parse, ParseOwned
// and pion/sdp.
func BenchmarkParse(b *testing.B) {
	s := chromiumOffer(b)
	b.Run("fastsdp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := Parse(s); !ok {
				b.Fatal("declined")
			}
		}
	})
	b.Run("owned", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := ParseOwned(s); !ok {
				b.Fatal("declined")
			}
		}
	})
	b.Run("pion", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := pion(s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
