package jingle

import (
	"testing"
)

const benchFixture = "chrome156_offer_av_dc_gathered.sdp"

// BenchmarkSDPToJingle converts the largest fixture (pion parsing excluded).
func BenchmarkSDPToJingle(b *testing.B) {
	sd := parseSDP(b, readFixture(b, benchFixture))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SDPToJingle(sd, Initiator, SDPToJingleOptions{Mids: NewMidTable()}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJingleToSDP converts the Jingle form of the largest fixture back
// (SDP marshalling excluded).
func BenchmarkJingleToSDP(b *testing.B) {
	j, err := SDPToJingle(parseSDP(b, readFixture(b, benchFixture)), Initiator, SDPToJingleOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := JingleToSDP(j, Initiator, JingleToSDPOptions{Mids: NewMidTable()}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse parses the XML of the largest fixture under the safety rules.
func BenchmarkParse(b *testing.B) {
	j, err := SDPToJingle(parseSDP(b, readFixture(b, benchFixture)), Initiator, SDPToJingleOptions{})
	if err != nil {
		b.Fatal(err)
	}
	j.Action, j.SID = ActionSessionInitiate, "bench"
	x, err := j.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(x)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(x); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarshal encodes the Jingle form of the largest fixture.
func BenchmarkMarshal(b *testing.B) {
	j, err := SDPToJingle(parseSDP(b, readFixture(b, benchFixture)), Initiator, SDPToJingleOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := j.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}
