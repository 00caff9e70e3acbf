package sip

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/sigbridge/sigbridge/gateway"
)

// TestSecureProtoAgrees checks secureProto against what it replaced: the
// parts joined by "/", upper-cased, searched for SAVP or DTLS.
func TestSecureProtoAgrees(t *testing.T) {
	old := func(protos []string) bool {
		p := strings.ToUpper(strings.Join(protos, "/"))
		return strings.Contains(p, "SAVP") || strings.Contains(p, "DTLS")
	}
	for _, protos := range [][]string{
		{"UDP", "TLS", "RTP", "SAVPF"}, {"RTP", "SAVP"}, {"UDP", "DTLS", "SCTP"}, {"RTP", "AVP"},
		{"RTP", "AVPF"}, {"udp", "tls", "rtp", "savpf"}, {"dtls"}, {"SA", "VP"}, {"DT", "LS"}, {}, nil,
		{"ſavp"}, {"TCP", "MRCPv2"},
	} {
		if got, want := secureProto(protos), old(protos); got != want {
			t.Errorf("secureProto(%q) = %v, want %v", protos, got, want)
		}
	}
}

// TestSDPBodyKeepsNoBodyBytes checks what sdpBody's in-place parse relies
// on: the parsed SDP holds copies, so a body written over afterwards (or
// reused) changes nothing in it, and the failures read the same.
func TestSDPBodyKeepsNoBodyBytes(t *testing.T) {
	raw, err := os.ReadFile("testdata/browser/chrome156_offer_audio_only.sdp")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(strings.ReplaceAll(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n", "\r\n"))
	req := sip.NewRequest(sip.INVITE, sip.Uri{User: "bob", Host: "example.com"})
	req.AppendHeader(contentTypeSDP())
	req.SetBody(body)
	sd, err := sdpBody(req)
	if err != nil {
		t.Fatal(err)
	}
	want, err := sd.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, body) {
		t.Fatalf("the browser's SDP does not round-trip:\n%s\nwant\n%s", want, body)
	}
	for i := range body {
		body[i] = 'x'
	}
	got, err := sd.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the parsed SDP changed with its body:\n%s", got)
	}
	for _, bad := range []string{"v=0\r\nbogus\r\n", "x", strings.Repeat("a", gateway.MaxSDPBytes+1)} {
		req.SetBody([]byte(bad))
		if _, err := sdpBody(req); !errors.Is(err, gateway.ErrBadSDP) && !errors.Is(err, gateway.ErrSDPLimit) {
			t.Errorf("body %.20q: err = %v, want ErrBadSDP or ErrSDPLimit", bad, err)
		}
	}
}
