package jingle

import (
	"slices"
	"strings"

	"github.com/pion/sdp/v3"
)

// transport builds the ICE-UDP transport of m-line i: credentials,
// fingerprints with setup and candidates (session-level values are copied in
// when the m-line has none), and the sctpmap of a data channel.
func (c *sdpConv) transport(i int, md *sdp.MediaDescription, data bool) (*Transport, error) {
	tr := &Transport{Ufrag: c.sess.ufrag, Pwd: c.sess.pwd}
	setup := c.sess.setup
	var fps []Fingerprint
	for _, a := range md.Attributes {
		var err error
		switch a.Key {
		case "ice-ufrag":
			tr.Ufrag = a.Value
		case "ice-pwd":
			tr.Pwd = a.Value
		case "setup":
			setup = a.Value
		case "fingerprint":
			var fp Fingerprint
			fp, err = parseFingerprint(a.Value)
			fps = append(fps, fp)
		}
		if err != nil {
			return nil, &SDPError{MLine: i, Line: attrLine(a.Key, a.Value), Err: err}
		}
	}
	if fps == nil {
		fps = c.sess.fingerprints
	}
	tr.Fingerprints = c.fingerprints(fps, setup)
	if err := c.candidates(i, md, tr); err != nil {
		return nil, err
	}
	if data {
		tr.SCTPMap = sctpMap(md)
	}
	return tr, nil
}

// fingerprints copies the list, sets setup on each and puts sha-256 first
// (Conversations reads only the first one). A missing setup defaults to
// actpass for the initiator and active for the responder.
func (c *sdpConv) fingerprints(in []Fingerprint, setup string) []Fingerprint {
	if len(in) == 0 {
		return nil
	}
	if setup == "" {
		setup = SetupActpass
		if c.author == Responder {
			setup = SetupActive
		}
	}
	out := make([]Fingerprint, len(in))
	copy(out, in)
	for k := range out {
		out[k].Setup = setup
	}
	slices.SortStableFunc(out, func(a, b Fingerprint) int {
		return boolInt(!strings.EqualFold(a.Hash, "sha-256")) - boolInt(!strings.EqualFold(b.Hash, "sha-256"))
	})
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// candidates parses a=candidate lines, dropping mDNS ones if asked and
// stale ones (a ufrag extension that differs from the transport ufrag).
func (c *sdpConv) candidates(i int, md *sdp.MediaDescription, tr *Transport) error {
	for _, a := range md.Attributes {
		if a.Key != "candidate" {
			continue
		}
		cand, err := CandidateFromSDP("candidate:" + a.Value)
		if err != nil {
			return &SDPError{MLine: i, Line: attrLine(a.Key, a.Value), Err: err}
		}
		if c.opt.DropMDNS && cand.IsMDNS() || cand.Ufrag != "" && tr.Ufrag != "" && cand.Ufrag != tr.Ufrag {
			continue
		}
		cand.Ufrag = ""
		tr.Candidates = append(tr.Candidates, cand)
	}
	return nil
}

// sctpMap reads a=sctp-port (RFC 8841) or the legacy a=sctpmap and
// m=application <port> DTLS/SCTP <sctp-port>. The default port is 5000.
func sctpMap(md *sdp.MediaDescription) *SCTPMap {
	m := &SCTPMap{Number: 5000, Protocol: "webrtc-datachannel"}
	if v, ok := md.Attribute("sctp-port"); ok {
		if n, err := parseUint(strings.TrimSpace(v), 16, "sctp-port"); err == nil {
			m.Number = uint16(n)
		}
		return m
	}
	if v, ok := md.Attribute("sctpmap"); ok {
		f := strings.Fields(v)
		if len(f) > 0 {
			if n, err := parseUint(f[0], 16, "sctpmap"); err == nil {
				m.Number = uint16(n)
			}
		}
		if len(f) > 1 {
			m.Protocol = f[1]
		}
		if len(f) > 2 {
			if n, err := parseUint(f[2], 16, "streams"); err == nil {
				m.Streams = uint16(n)
			}
		}
	}
	return m
}
