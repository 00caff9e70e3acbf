package sip

import (
	"strings"
	"testing"
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
