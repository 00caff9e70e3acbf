package jingle

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

func audioContent(name string) Content {
	return Content{
		Creator: CreatorInitiator, Name: name,
		Description: &Description{Media: "audio", PayloadTypes: []PayloadType{{ID: 111, Name: "opus", Clockrate: 48000, Channels: 2}}},
		Transport: &Transport{Ufrag: "uf", Pwd: "pw", Fingerprints: []Fingerprint{{Hash: "sha-256", Value: "AA"}},
			Candidates: []Candidate{{Foundation: "1", Component: 1, Protocol: "udp", Priority: 1, IP: "10.0.0.1", Port: 9, Type: "host"}}},
	}
}

// TestGeneratedMids: names that are not short tokens get generated mids,
// the group is rewritten with mids, and the names come back unchanged.
func TestGeneratedMids(t *testing.T) {
	long := "a-content-name-longer-than-16"
	j := &Jingle{Contents: []Content{audioContent("Media call"), audioContent("voice"), audioContent(long)},
		Group: &Group{Semantics: "BUNDLE", Contents: []GroupContent{{"Media call"}, {"voice"}, {long}, {"ghost"}}}}
	mids := NewMidTable()
	sd, err := JingleToSDP(j, Initiator, JingleToSDPOptions{Mids: mids, Origin: sdp.Origin{SessionID: 42, SessionVersion: 7}})
	if err != nil {
		t.Fatal(err)
	}
	s := marshalSDP(t, sd)
	mustContain(t, s, "o=- 42 7 IN IP4 127.0.0.1", "a=group:BUNDLE 0 voice 2", "a=mid:0", "a=mid:voice", "a=mid:2", "a=setup:actpass")
	back, err := SDPToJingle(parseSDP(t, []byte(s)), Initiator, SDPToJingleOptions{Mids: mids})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range []string{"Media call", "voice", long} {
		if back.Contents[k].Name != want {
			t.Errorf("content %d = %q, want %q", k, back.Contents[k].Name, want)
		}
	}
	if got := strings.Join(back.Group.Names(), "|"); got != "Media call|voice|"+long {
		t.Errorf("group %q", got)
	}
	if n, ok := mids.NameForMid("0"); !ok || n != "Media call" {
		t.Errorf("NameForMid: %q", n)
	}
}

// TestMidCollision: a content named like another content's generated mid.
func TestMidCollision(t *testing.T) {
	j := &Jingle{Contents: []Content{audioContent("Media call"), audioContent("0")}}
	sd, err := JingleToSDP(j, Responder, JingleToSDPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m0, _ := sd.MediaDescriptions[0].Attribute("mid")
	m1, _ := sd.MediaDescriptions[1].Attribute("mid")
	if m0 == m1 {
		t.Errorf("duplicate mid %q", m0)
	}
	if s := marshalSDP(t, sd); !strings.Contains(s, "a=setup:active") {
		t.Errorf("responder default setup:\n%s", s)
	}
}

func TestJingleToSDPErrors(t *testing.T) {
	tooMany := func(n int) []Content {
		var cs []Content
		for i := 0; i < n; i++ {
			cs = append(cs, audioContent(fmt.Sprint(i)))
		}
		return cs
	}
	mutate := func(f func(c *Content)) []Content {
		c := audioContent("a")
		d := *c.Description
		tr := *c.Transport
		c.Description, c.Transport = &d, &tr
		f(&c)
		return []Content{c}
	}
	cases := []struct {
		name string
		cs   []Content
		want error
		text string
	}{
		{"no content", nil, ErrBadJingle, "no content"},
		{"33 contents", tooMany(MaxMediaLines + 1), ErrLimit, "33 contents"},
		{"duplicate", []Content{audioContent("a"), audioContent("a")}, ErrBadJingle, "duplicate"},
		{"nameless", mutate(func(c *Content) { c.Name = "" }), ErrBadJingle, "without name"},
		{"file transfer", mutate(func(c *Content) { c.Description = nil }), ErrBadJingle, "no RTP description"},
		{"no payload types", mutate(func(c *Content) { c.Description.PayloadTypes = nil }), ErrBadJingle, `name="a"`},
		{"129 payload types", mutate(func(c *Content) { c.Description.PayloadTypes = make([]PayloadType, MaxFormats+1) }), ErrLimit, "129"},
		{"pt over 127", mutate(func(c *Content) { c.Description.PayloadTypes[0].ID = 200 }), ErrBadJingle, "200"},
		{"65 candidates", mutate(func(c *Content) { c.Transport.Candidates = make([]Candidate, MaxCandidates+1) }), ErrLimit, "65"},
		{"bad candidate", mutate(func(c *Content) { c.Transport.Candidates = []Candidate{{Foundation: "1"}} }), ErrBadCandidate, "component"},
		{"crlf in ufrag", mutate(func(c *Content) { c.Transport.Ufrag = "a\r\na=evil" }), ErrBadJingle, "ufrag"},
		{"crlf in name", mutate(func(c *Content) { c.Description.PayloadTypes[0].Name = "opus\r\na=evil" }), ErrBadJingle, "payload-type name"},
		{"space in name", mutate(func(c *Content) { c.Description.PayloadTypes[0].Name = "op us" }), ErrBadJingle, "payload-type name"},
		{"crlf in msid", mutate(func(c *Content) {
			c.Description.Sources = []Source{{SSRC: 1, Parameters: []Parameter{{Name: "msid", Value: "a\r\na=evil"}}}}
		}), ErrBadJingle, "control character"},
		{"crlf in uri", mutate(func(c *Content) {
			c.Description.HeaderExtensions = []HeaderExtension{{ID: 1, URI: "urn:x\r\nm=audio"}}
		}), ErrBadJingle, "uri"},
		{"bad fingerprint", mutate(func(c *Content) { c.Transport.Fingerprints[0].Value = "A B" }), ErrBadJingle, "fingerprint"},
		{"bad setup", mutate(func(c *Content) { c.Transport.Fingerprints[0].Setup = "x y" }), ErrBadJingle, "setup"},
		{"bad media", mutate(func(c *Content) { c.Description.Media = "au dio" }), ErrBadJingle, "no RTP description"},
		{"bad fmtp", mutate(func(c *Content) { c.Description.PayloadTypes[0].Parameters = []Parameter{{Name: "a;b", Value: "1"}} }), ErrBadJingle, "parameter name"},
		{"bad rtcp-fb", mutate(func(c *Content) { c.Description.RTCPFeedback = []RTCPFeedback{{Type: "n ack"}} }), ErrBadJingle, "rtcp-fb"},
		{"bad source param", mutate(func(c *Content) { c.Description.Sources = []Source{{SSRC: 1, Parameters: []Parameter{{Name: "a:b"}}}} }), ErrBadJingle, "source"},
		{"bad crypto", mutate(func(c *Content) { c.Description.Encryption = &Encryption{Crypto: []Crypto{{Tag: "1"}}} }), ErrBadJingle, "crypto"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := JingleToSDP(&Jingle{Contents: tc.cs}, Initiator, JingleToSDPOptions{})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tc.want, tc.text)
			}
		})
	}
	if _, err := JingleToSDP(nil, Initiator, JingleToSDPOptions{}); !errors.Is(err, ErrBadJingle) {
		t.Error(err)
	}
}

// TestJingleToSDPDoesNotMutate: the input Jingle is left untouched.
func TestJingleToSDPDoesNotMutate(t *testing.T) {
	c := audioContent("a")
	c.Description.PayloadTypes = []PayloadType{{ID: 0}}
	j := &Jingle{Contents: []Content{c}}
	if _, err := JingleToSDP(j, Initiator, JingleToSDPOptions{}); err != nil {
		t.Fatal(err)
	}
	if j.Contents[0].Description.PayloadTypes[0].Name != "" {
		t.Error("input mutated")
	}
}

// TestProtoDerivation covers §2.3 proto rules.
func TestProtoDerivation(t *testing.T) {
	base := func() Content {
		return Content{Name: "a", Description: &Description{Media: "audio", PayloadTypes: []PayloadType{{ID: 0}}}}
	}
	cases := []struct {
		f    func(c *Content)
		want string
	}{
		{func(c *Content) {}, "RTP/AVP"},
		{func(c *Content) { c.Description.RTCPFeedback = []RTCPFeedback{{Type: "nack"}} }, "RTP/AVPF"},
		{func(c *Content) {
			c.Description.Encryption = &Encryption{Crypto: []Crypto{{Tag: "1", CryptoSuite: "S", KeyParams: "inline:k"}}}
		}, "RTP/SAVP"},
		{func(c *Content) {
			c.Description.Encryption = &Encryption{Crypto: []Crypto{{Tag: "1", CryptoSuite: "S", KeyParams: "inline:k"}}}
			c.Description.PayloadTypes[0].RTCPFbTrrInt = []RTCPFbTrrInt{{Value: 1}}
		}, "RTP/SAVPF"},
		{func(c *Content) { c.Transport = &Transport{Fingerprints: []Fingerprint{{Hash: "sha-1", Value: "AA"}}} }, "UDP/TLS/RTP/SAVPF"},
	}
	for _, tc := range cases {
		c := base()
		tc.f(&c)
		sd, err := JingleToSDP(&Jingle{Contents: []Content{c}}, Initiator, JingleToSDPOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(sd.MediaDescriptions[0].MediaName.Protos, "/"); got != tc.want {
			t.Errorf("proto %s, want %s", got, tc.want)
		}
	}
}

// TestExtmapAllowMixedPerMedia: when only some contents have it, it stays
// at media level.
func TestExtmapAllowMixedPerMedia(t *testing.T) {
	a, b := audioContent("a"), audioContent("b")
	d := *a.Description
	d.ExtmapAllowMixed = true
	a.Description = &d
	sd, err := JingleToSDP(&Jingle{Contents: []Content{a, b}}, Initiator, JingleToSDPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sd.Attribute("extmap-allow-mixed"); ok {
		t.Error("session level")
	}
	if _, ok := sd.MediaDescriptions[0].Attribute("extmap-allow-mixed"); !ok {
		t.Error("media level missing")
	}
}
